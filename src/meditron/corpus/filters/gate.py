"""The first step after the readers: counts every input record and sends quarantined and reader-dropped ones to the
ledger, so later steps only see documents with text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter

from meditron.corpus.counts import write_task_counts
from meditron.corpus.ledger import LedgerWriter


class LedgerGate(BaseFilter):
    """Keep documents with text; quarantined (``metadata["quarantined"]``) and ``drop_reason`` records go to the ledger."""

    name = "🚧 Ledger gate"

    def __init__(self, ledger_dir: str | Path, counts_dir: str | Path):
        super().__init__(exclusion_writer=LedgerWriter(ledger_dir, "gate"))
        self.counts_dir = Path(counts_dir)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata.get("quarantined"):
            return False, "quarantined"
        if doc.metadata.get("drop_reason"):
            return False, str(doc.metadata["drop_reason"])
        if not doc.text or not doc.text.strip():
            return False, "empty"
        return True

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        inputs: Counter[str] = Counter()
        chars: Counter[str] = Counter()

        def counted(docs: DocumentsPipeline) -> DocumentsPipeline:
            for doc in docs:
                source = doc.metadata.get("source") or "?"
                inputs[source] += 1
                chars[source] += len(doc.text.encode("utf-8")) if doc.text else 0
                yield doc

        yield from super().run(counted(data), rank, world_size)
        write_task_counts(self.counts_dir, rank, {"input": dict(inputs), "input_bytes": dict(chars)})
