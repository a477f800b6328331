"""Token shards: the corpus stage writes them, the training stage reads them.

Format (datatrove's ``DocumentTokenizer`` output, documented in docs/DATA.md):

``<shards>/manifest.json``::

    {"format": "datatrove-ds", "token_size": 2 | 4, "tokenizer": "tokenizer",   # dir of a saved HF tokenizer
     "eos_id": 2, "vocab_size": 32012,
     "tokenization": {"source": "/models/llama-2-7b", "vocab_size": 32012, "fingerprint": "0307fcb035c22fc5",
                      "bos_id": 1, "eos_id": 2, "adds_bos": true, "adds_eos": false,   # what the tokenizer does
                      "bos": true, "eos": true,                                        # what each document has
                      "bos_setting": "auto", "eos_setting": "auto"},                   # corpus.tokenization
     "sources": {"<source>": {"<split>": {"files": ["<split>/<source>/00000.ds", ...],
                                          "num_tokens": N, "num_docs": M}}}}

Each ``X.ds`` holds little-endian tokens (uint16 when ``token_size`` is 2, uint32 when 4), documents concatenated,
each starting with BOS when ``tokenization.bos`` and ending with EOS when ``tokenization.eos`` (manifests written
before the ``tokenization`` entry existed: EOS only); ``X.ds.index`` holds uint64 cumulative document ends (in tokens).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from meditron.corpus.shard_format import FORMAT, MANIFEST, token_dtype, write_manifest
from meditron.errors import InputError

__all__ = ["FORMAT", "MANIFEST", "TokenFile", "TokenShards", "token_dtype", "write_manifest", "write_token_file"]


@dataclass(frozen=True)
class TokenFile:
    """One ``.ds`` file, memory-mapped: ``tokens`` is a numpy view, ``doc_ends`` its document boundaries."""

    path: Path
    tokens: np.ndarray
    doc_ends: np.ndarray

    @classmethod
    def open(cls, path: Path, token_size: int) -> TokenFile:
        if not path.exists():
            raise InputError("token shard listed in the manifest is missing", path=str(path))
        size = path.stat().st_size
        if size % token_size:
            raise InputError(f"size {size} is not a multiple of token_size {token_size}", path=str(path))
        tokens = (
            np.memmap(path, dtype=token_dtype(token_size), mode="r")
            if size
            else np.zeros(0, dtype=token_dtype(token_size))
        )
        index = Path(str(path) + ".index")
        doc_ends = np.fromfile(index, dtype="<u8") if index.exists() else np.array([len(tokens)], dtype="<u8")
        return cls(path=path, tokens=tokens, doc_ends=doc_ends)


class TokenShards:
    """Read access to the shards of one corpus: per source and split, a list of memory-mapped token files."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest_path = self.root / MANIFEST
        if not manifest_path.exists():
            raise InputError("no manifest.json: run `meditron corpus run` first", path=str(self.root))
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT:
            raise InputError(f"unknown shard format {self.manifest.get('format')!r}", path=str(manifest_path))
        self.token_size: int = int(self.manifest["token_size"])
        self.eos_id: int | None = self.manifest.get("eos_id")
        self.vocab_size: int = int(self.manifest["vocab_size"])

    @property
    def tokenization(self) -> dict[str, Any] | None:
        """The tokenizer identity and document framing the corpus stage recorded (None in older manifests)."""
        return self.manifest.get("tokenization")

    @property
    def tokenizer_dir(self) -> Path:
        return self.root / self.manifest.get("tokenizer", "tokenizer")

    def sources(self, split: str = "train") -> list[str]:
        return sorted(s for s, splits in self.manifest["sources"].items() if splits.get(split, {}).get("num_tokens"))

    def num_tokens(self, source: str, split: str = "train") -> int:
        return int(self.manifest["sources"].get(source, {}).get(split, {}).get("num_tokens", 0))

    def files(self, source: str, split: str = "train") -> list[TokenFile]:
        entry = self.manifest["sources"].get(source, {}).get(split)
        if entry is None:
            return []
        return [TokenFile.open(self.root / f, self.token_size) for f in entry["files"]]

    def tokens(self, source: str, split: str = "train") -> np.ndarray:
        """All tokens of a source/split as one array (a memmap view when there is a single file)."""
        parts = [f.tokens for f in self.files(source, split)]
        if not parts:
            return np.zeros(0, dtype=token_dtype(self.token_size))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def write_token_file(path: str | Path, docs: list[list[int]], token_size: int) -> tuple[int, int]:
    """Write documents (each already framed with BOS/EOS) in the ``.ds`` + ``.ds.index`` layout. Returns (tokens, docs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype(token_size)
    ends, total = [], 0
    with open(path, "wb") as f:
        for doc in docs:
            f.write(np.asarray(doc, dtype=dtype).tobytes())
            total += len(doc)
            ends.append(total)
    np.asarray(ends, dtype="<u8").tofile(str(path) + ".index")
    return total, len(docs)

