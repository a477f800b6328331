"""The corpus pipeline's ``mixtures`` stage: the mixture manifests, written once the shard manifest exists.

A datatrove step so Slurm and Ray runs write them on their own after the report stage. The pipeline clears its
completion marker before every run, so it always runs (it reads one JSON file): editing ``corpus.mixtures`` and
running ``corpus run`` again skips every finished stage (the corpus fingerprint leaves the mixtures out) and rewrites
only the manifests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.mixtures.manifest import write_mixtures


class MixtureWriter(PipelineStep):
    """Writes ``<shards>/mixtures/<name>.json`` for every configured mixture (one task; reads only manifest.json)."""

    name = "🧪 Mixture manifests"
    type = "🔀 - MIXING"

    def __init__(self, *, shards_dir: str | Path, mixtures: dict[str, dict[str, Any]]):
        super().__init__()
        self.shards_dir = Path(shards_dir)
        self.mixtures = {name: dict(spec) for name, spec in mixtures.items()}

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        write_mixtures(self.shards_dir, self.mixtures)
        return
        yield
