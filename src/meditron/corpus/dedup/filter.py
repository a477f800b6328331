"""Stage 4 of dedup: drop the documents the cluster step marked, with ``exact-dup of X`` / ``near-dup of X``.

Must read the filtered documents of a task in the order the signature step saw them (it is the first step after the
reader of those files), since removals are indices.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter

from meditron.corpus.ledger import LedgerWriter


class DedupFilter(BaseFilter):
    name = "🎯 Dedup filter"

    def __init__(self, ledger_dir: str, clusters_folder: str | Path):
        super().__init__(exclusion_writer=LedgerWriter(ledger_dir, "dedup"))
        self.clusters_folder = Path(clusters_folder)
        self._removals: dict[int, str] = {}
        self._idx = 0

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        idx, self._idx = self._idx, self._idx + 1
        reason = self._removals.get(idx)
        return (False, reason) if reason else True

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        path = self.clusters_folder / f"{rank:05d}.tsv"
        self._removals = {}
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for line in f:
                    idx, reason = line.rstrip("\n").split("\t", 1)
                    self._removals[int(idx)] = reason
        self._idx = 0
        yield from super().run(data, rank, world_size)
