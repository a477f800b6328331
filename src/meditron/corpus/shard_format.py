"""The on-disk token-shard format, owned by its writer (the corpus stage); the data stage's ``TokenShards`` reads it.

``<shards>/manifest.json`` (written last, atomically: the commit point of a shard set) lists per source and split the
``.ds`` files (little-endian tokens, uint16 when ``token_size`` is 2, uint32 when 4, documents concatenated) and their
``.ds.index`` files (uint64 cumulative document ends). The full layout is documented in docs/DATA.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from meditron.json_io import write_json_atomic

MANIFEST = "manifest.json"
#: the folder, beside the manifest, of the tokenizer the shards were written with (the manifest's ``tokenizer``)
TOKENIZER_DIR = "tokenizer"
FORMAT = "datatrove-ds"


def token_dtype(token_size: int) -> np.dtype:
    """The numpy dtype of a ``.ds`` file's tokens for a manifest's ``token_size`` (2 or 4 bytes)."""
    if token_size == 2:
        return np.dtype("<u2")
    if token_size == 4:
        return np.dtype("<u4")
    raise ValueError(f"token_size must be 2 or 4, got {token_size}")


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (it is the commit point of a shard set)."""
    root = Path(root)
    manifest = {"format": FORMAT, **manifest}
    return write_json_atomic(root / MANIFEST, manifest)
