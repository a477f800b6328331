"""Publication types and MeSH terms for full texts, joined by PMID from the MEDLINE records of the same corpus.

A PMC JATS file carries an ``article-type`` but neither MEDLINE publication types nor MeSH headings; the paper read
them from the article's MEDLINE record. Two halves, like the abstract/full-text rule (``filters/fulltext.py``):

- ``MedlineTermsCollector`` (filter stage, right after the readers, before anything can drop a record): for every
  current MEDLINE record (not a superseded or deleted version), one line ``PMID<TAB>[[publication types], [MeSH]]``
  with only the terms the rules look at. The reader parsed these records anyway: no second pass over MEDLINE.
- ``MedlineTerms`` (shards stage): reads those lines back, keeping only the PMIDs of the corpus's full papers
  (``PaperPmidCollector``'s list), as a sorted int64 array and an index into the distinct term combinations — memory
  grows with the number of papers (12 bytes each), not with MEDLINE.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.filters.fulltext import load_paper_pmids
from meditron.corpus.readers.medline import DELETED, SUPERSEDED

Terms = tuple[tuple[str, ...], tuple[str, ...]]  # (publication types, MeSH terms)
_CHUNK_LINES = 100_000


class MedlineTermsCollector(PipelineStep):
    """Pass-through step writing the rule-relevant terms of each current MEDLINE record, one file per task."""

    name = "🔗 MEDLINE terms for the PMID join"
    type = "⏫ - UPSAMPLING"

    def __init__(self, *, folder: str | Path, publication_types: frozenset[str], mesh_terms: frozenset[str]):
        super().__init__()
        self.folder = Path(folder)
        self.publication_types, self.mesh_terms = publication_types, mesh_terms

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{rank:05d}.tsv.tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            for doc in data:
                meta = doc.metadata
                pmid = str(meta.get("pmid") or "")
                if (meta.get("kind") == "medline" and pmid.isdigit() and not meta.get("quarantined")
                        and meta.get("drop_reason") not in (SUPERSEDED, DELETED)):
                    pts = [t for t in meta.get("publication_types") or () if t in self.publication_types]
                    mesh = [t for t in meta.get("mesh_terms") or () if t in self.mesh_terms]
                    out.write(f"{pmid}\t{json.dumps([pts, mesh], ensure_ascii=False)}\n")
                    self.stat_update("medline_records")
                yield doc
        tmp.replace(self.folder / f"{rank:05d}.tsv")


def _chunks(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as f:
        chunk: list[str] = []
        for line in f:
            if line.strip():
                chunk.append(line)
                if len(chunk) == _CHUNK_LINES:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk


class MedlineTerms:
    """PMID → (publication types, MeSH terms) of the MEDLINE record, for the corpus's full papers only."""

    def __init__(self, terms_folder: str | Path, pmids_folder: str | Path):
        papers = load_paper_pmids(pmids_folder)
        combos: dict[Terms, int] = {}
        pmids, codes = array("q"), array("i")
        for path in sorted(Path(terms_folder).glob("*.tsv")) if len(papers) else []:
            for chunk in _chunks(path):
                ids = np.fromiter((int(line.split("\t", 1)[0]) for line in chunk), dtype=np.int64, count=len(chunk))
                pos = np.minimum(np.searchsorted(papers, ids), len(papers) - 1)
                for i in np.flatnonzero(papers[pos] == ids):
                    pts, mesh = json.loads(chunk[i].split("\t", 1)[1])
                    pmids.append(int(ids[i]))
                    codes.append(combos.setdefault((tuple(pts), tuple(mesh)), len(combos)))
        p = np.frombuffer(pmids, dtype=np.int64) if pmids else np.zeros(0, np.int64)
        c = np.frombuffer(codes, dtype=np.int32) if codes else np.zeros(0, np.int32)
        p, first = np.unique(p, return_index=True)  # a PMID in two MEDLINE sources: the first file read wins
        self.pmids, self.codes = p, c[first]
        self.combos: list[Terms] = list(combos)

    def __len__(self) -> int:
        return len(self.pmids)

    def get(self, pmid: int) -> Terms | None:
        i = int(np.searchsorted(self.pmids, pmid))
        if i < len(self.pmids) and self.pmids[i] == pmid:
            return self.combos[int(self.codes[i])]
        return None
