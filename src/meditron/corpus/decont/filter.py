"""The decontamination step: flags each document with the benchmark items it contains; drops or keeps it."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter

from meditron.corpus.decont.index import BenchmarkNgramIndex
from meditron.corpus.ledger import LedgerWriter


class DecontFilter(BaseFilter):
    """``action="drop"``: reason ``contaminated: <item ids>``; ``"flag"``: kept with ``metadata["contamination"]``.

    Every hit (document id, source, item ids, action) goes to ``<hits_dir>/<rank>.jsonl``; the report merges them into
    the per-item index the evaluation stage reads.
    """

    name = "🧪 Decontamination"

    def __init__(self, *, ledger_dir: str, index: BenchmarkNgramIndex | Path, hits_dir: str | Path,
                 action: str = "drop"):
        """``index``: the n-gram index, or the file ``ContaminationIndexWriter`` saved it to (loaded once per task)."""
        super().__init__(exclusion_writer=LedgerWriter(ledger_dir, "decontamination"))
        self._index = index
        self.hits_dir = Path(hits_dir)
        self.action = action
        self._hits_file = None

    @cached_property
    def index(self) -> BenchmarkNgramIndex:
        i = self._index
        return i if isinstance(i, BenchmarkNgramIndex) else BenchmarkNgramIndex.load(i)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        items = self.index.lookup(doc.text)
        if not items:
            return True
        doc.metadata["contamination"] = items
        self.stat_update("contaminated_docs")
        record = {"doc": doc.id, "source": doc.metadata.get("source"), "items": items, "action": self.action}
        self._hits_file.write(json.dumps(record, sort_keys=True) + "\n")
        if self.action == "drop":
            shown = ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
            return False, f"contaminated: {shown}"
        return True

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.hits_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.hits_dir / f".{rank:05d}.jsonl.tmp"
        with open(tmp, "w", encoding="utf-8") as self._hits_file:
            yield from super().run(data, rank, world_size)
        tmp.replace(self.hits_dir / f"{rank:05d}.jsonl")
