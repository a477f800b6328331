"""``Upsampler``: the rules applied to each document after the train/validation split (shards stage).

Why there: the split is decided first, so copies of a document never cross it; deduplication and decontamination
ran in earlier stages on the one copy there is; the full papers' PMIDs and the MEDLINE terms collected by the filter
stage's tasks are complete, so a paper can borrow its MEDLINE record's publication types and MeSH terms. The step
drops documents a ``drop`` term matches (ledger step ``upsampling``, the term's reason) and, for the training split,
sets ``metadata["copies"]``; the shard writer then writes the tokenized document that many times. The ledger keeps
one line per document (``copies`` on it); the report counts the added copies and tokens apart.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter

from meditron.corpus.counts import write_task_counts
from meditron.corpus.ledger import LedgerWriter
from meditron.corpus.mixing.split import TRAIN, unit_hash
from meditron.corpus.upsampling.join import MedlineTerms
from meditron.corpus.upsampling.rules import Facts, Outcome, RuleSet, copies_for, evaluate, load_rules
from meditron.corpus.upsampling.tables import CitationTable, JournalList

SCORED_KINDS = ("jats", "medline")


def document_age(meta: dict[str, Any], reference: date) -> float | None:
    """Years (of 365 days, as the paper counted) from the publication date to ``reference``; only a year → 1 January."""
    text = meta.get("pub_date") or (f"{meta['year']}-01-01" if meta.get("year") else None)
    try:
        published = date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
    return None if published is None else (reference - published).days / 365


class Upsampler(BaseFilter):
    """Drop or score each document of the scored sources; ``copies`` for training documents (see module doc)."""

    name = "⏫ Upsampling"

    def __init__(self, *, ledger_dir: str, counts_dir: str | Path, seed: int, rules_file: str | Path | None,
                 sources: list[str] | None, journals_file: str | Path | None, citations_file: str | Path | None,
                 reference_date: date, scale: float, terms_folder: str | Path, pmids_folder: str | Path):
        super().__init__(exclusion_writer=LedgerWriter(ledger_dir, "upsampling"))
        self.counts_dir, self.seed, self.rules_file = Path(counts_dir), seed, rules_file
        self.sources = set(sources) if sources is not None else None
        self.journals_file, self.citations_file = journals_file, citations_file
        self.reference_date, self.scale = reference_date, scale
        self.terms_folder, self.pmids_folder = Path(terms_folder), Path(pmids_folder)
        self.counts: dict[str, Any] = {}

    @cached_property
    def rules(self) -> RuleSet:
        return load_rules(self.rules_file)

    @cached_property
    def journals(self) -> JournalList:
        return JournalList.load(self.journals_file) if self.journals_file else JournalList()

    @cached_property
    def citations(self) -> CitationTable | None:
        if not self.citations_file:
            return None
        return CitationTable.load(self.citations_file, self.reference_date, self.rules.quantiles())

    @cached_property
    def medline_terms(self) -> MedlineTerms:
        return MedlineTerms(self.terms_folder, self.pmids_folder)

    def scored(self, doc: Document) -> bool:
        meta = doc.metadata
        return meta.get("source") in self.sources if self.sources is not None else meta.get("kind") in SCORED_KINDS

    def facts(self, meta: dict[str, Any]) -> tuple[Facts, str]:
        """The document's facts and where its publication types came from (own, medline-join, article-type, none)."""
        pts, mesh = tuple(meta.get("publication_types") or ()), tuple(meta.get("mesh_terms") or ())
        if pts or mesh or meta.get("kind") == "medline":
            origin = "own"
        else:  # a full text: its MEDLINE record's terms, else its article-type
            pmid = str(meta.get("pmid") or "")
            joined = self.medline_terms.get(int(pmid)) if pmid.isdigit() else None
            mapped = self.rules.article_types.get(meta.get("article_type") or "")
            if joined is not None:
                (pts, mesh), origin = joined, "medline-join"
            elif mapped is not None:
                pts, origin = (mapped,), "article-type"
            else:
                origin = "none"
        rate = self.citations.rate(meta) if self.citations is not None else None
        return Facts(publication_types=pts, mesh_terms=mesh, journal_listed=meta.get("journal") in self.journals,
                     age_years=document_age(meta, self.reference_date), citations_per_year=rate), origin

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not self.scored(doc):
            return True
        facts, origin = self.facts(doc.metadata)
        thresholds = self.citations.thresholds if self.citations is not None else None
        outcome = evaluate(self.rules, facts, thresholds)
        self._count_facts(origin)
        if outcome.drop_reason is not None:
            self._count_drop(outcome)
            return False, outcome.drop_reason
        train = doc.metadata.get("split") == TRAIN
        copies = copies_for(outcome.score, self.scale, unit_hash(f"upsample:{self.seed}:{doc.id}")) if train else 1
        if copies > 1:
            doc.metadata["copies"] = copies
        self._count_kept(outcome, copies, train)
        return True

    # counts (merged over tasks by the report)
    def _count_facts(self, origin: str) -> None:
        self.counts.setdefault("publication_types_from", Counter())[origin] += 1

    def _rule(self, name: str) -> dict[str, Any]:
        return self.counts.setdefault("rules", {}).setdefault(name, defaultdict(int))

    def _count_drop(self, outcome: Outcome) -> None:
        docs = self.counts.setdefault("documents", Counter())
        docs["scored"] += 1
        docs["dropped"] += 1
        rule = self._rule(outcome.drop_rule or "?")
        rule["dropped"] += 1
        values = rule.setdefault("dropped_by", Counter())
        for label in outcome.matched.get(outcome.drop_rule or "?", ()):
            values[label] += 1

    def _count_kept(self, outcome: Outcome, copies: int, train: bool) -> None:
        docs = self.counts.setdefault("documents", Counter())
        docs["scored"] += 1
        docs["kept_train" if train else "kept_validation"] += 1
        docs["upsampled"] += copies > 1
        docs["copies_added"] += copies - 1
        for name in outcome.skipped_conditional:
            self._rule(name)["not_applied"] += 1
        for name, labels in outcome.matched.items():
            rule = self._rule(name)
            rule["matched"] += 1
            values = rule.setdefault("values", Counter())
            for label in labels:
                values[label] += 1
            share = outcome.contributions.get(name, 0.0) / outcome.score if outcome.score > 0 else 0.0
            rule["copies_added"] += (copies - 1) * share  # the document's added copies, shared by score

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.counts = {}
        yield from super().run(data, rank, world_size)
        write_task_counts(self.counts_dir, rank, _plain(self.counts))


def _plain(value: Any) -> Any:
    """Counters/defaultdicts → plain sorted dicts (JSON, and stable bytes)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    return value
