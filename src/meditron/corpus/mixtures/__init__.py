"""Named mixtures over one shard set: a small JSON manifest per mixture, no copied tokens (docs/MIXTURES.md).

``manifest`` builds, writes and reads them (plain JSON, no datatrove: pretraining reads them too); ``step`` is the
corpus pipeline's last stage that writes them after the shards.
"""

from meditron.corpus.mixtures.manifest import (
    FORMAT,
    MIXTURES_DIR,
    Mixture,
    mixture_path,
    read_mixture,
    rebuild_mixtures,
    resolve_mixture,
    write_mixtures,
)

__all__ = [
    "FORMAT",
    "MIXTURES_DIR",
    "Mixture",
    "mixture_path",
    "read_mixture",
    "rebuild_mixtures",
    "resolve_mixture",
    "write_mixtures",
]
