"""MEDITRON's rule: an abstract whose PMID also has a full paper in the corpus is dropped (the paper contains it).

Two halves: ``PaperPmidCollector`` (stage 1) writes the PMIDs of the papers that passed the filters, one file per task;
``AbstractFullTextFilter`` (a later stage) loads them into one sorted int64 array (8 bytes per paper, not a Python
set) and drops MEDLINE abstracts found in it with reason ``abstract-has-full-text: <paper id>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from meditron.corpus.ledger import LedgerWriter


def _pmid(doc: Document) -> int | None:
    value = doc.metadata.get("pmid")
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


class PaperPmidCollector(PipelineStep):
    """Pass-through step that records ``pmid<TAB>id`` for each full paper (reader kind ``jats``)."""

    name = "🔖 Paper PMIDs"
    type = "📒 - LEDGER"

    def __init__(self, folder: str | Path):
        super().__init__()
        self.folder = Path(folder)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{rank:05d}.tsv.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for doc in data:
                if doc.metadata.get("kind") == "jats" and (pmid := _pmid(doc)) is not None:
                    f.write(f"{pmid}\t{doc.id}\n")
                yield doc
        tmp.replace(self.folder / f"{rank:05d}.tsv")


def load_paper_pmids(folder: str | Path) -> np.ndarray:
    """The PMIDs ``PaperPmidCollector`` wrote, as one sorted int64 array without repeats (8 bytes per paper)."""
    parts = []
    for path in sorted(Path(folder).glob("*.tsv")):
        with open(path, encoding="utf-8") as f:
            parts.append(np.fromiter((int(line.split("\t", 1)[0]) for line in f if line.strip()), dtype=np.int64))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


class AbstractFullTextFilter(BaseFilter):
    """Drop MEDLINE abstracts whose PMID is among the collected full papers."""

    name = "📄 Abstract has full text"

    def __init__(self, ledger_dir: str, pmids_folder: str | Path):
        super().__init__(exclusion_writer=LedgerWriter(ledger_dir, "fulltext"))
        self.pmids_folder = Path(pmids_folder)
        self._pmids: np.ndarray | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata.get("kind") != "medline":
            return True
        if self._pmids is None:
            self._pmids = load_paper_pmids(self.pmids_folder)
        pmid = _pmid(doc)
        if pmid is None or not len(self._pmids):
            return True
        i = int(np.searchsorted(self._pmids, pmid))
        if i < len(self._pmids) and self._pmids[i] == pmid:
            return False, f"abstract-has-full-text: PMID {pmid}"
        return True
