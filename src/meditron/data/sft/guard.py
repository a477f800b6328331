"""Contamination guard: drop training examples that overlap a benchmark test item, and list them.

MEDITRON removed training items with at least 80% 8-gram overlap with a test item. Here the overlap of a training
example with a test item is the share of the *smaller* side's word 8-grams found in the other one
(``|A ∩ B| / min(|A|, |B|)``): a test question copied into a longer training example (e.g. with an explanation) and a
training question that is a fragment of a long test item are both caught. Texts are compared as lower-cased word
sequences (punctuation and spacing ignored), on the item's own words: question, options and context, never the
shared task instruction. Texts shorter than ``n`` words count as one gram, so they only match an identical short text.

Candidates come from an inverted index over the test grams; grams shared by very many test items (boilerplate such as
"which of the following is the most likely") only count in the exact overlap, not in candidate search, which keeps the
guard linear in the training set.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meditron.benchmarks import BENCHMARKS, find_benchmark_files, load_benchmark

from .format import guard_text
from .records import ChatExample

_WORD = re.compile(r"\w+", re.UNICODE)
_COMMON_POSTINGS = 64


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[int]:
    """Hashed word n-grams of ``text`` (the whole word sequence when it is shorter than ``n``)."""
    w = words(text)
    if not w:
        return set()
    if len(w) < n:
        return {hash(tuple(w))}
    return {hash(tuple(w[i : i + n])) for i in range(len(w) - n + 1)}


@dataclass(frozen=True)
class Match:
    """A dropped training example: which test item it overlaps and by how much."""

    example_id: str
    source: str
    test_id: str
    overlap: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "example": self.example_id,
            "source": self.source,
            "test_item": self.test_id,
            "overlap": round(self.overlap, 4),
        }


@dataclass
class GuardReport:
    benchmarks_dir: str
    ngram: int
    threshold: float
    num_test_items: dict[str, int] = field(default_factory=dict)
    num_checked: int = 0
    dropped: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmarks_dir": self.benchmarks_dir,
            "ngram": self.ngram,
            "threshold": self.threshold,
            "num_test_items": self.num_test_items,
            "num_checked": self.num_checked,
            "num_dropped": len(self.dropped),
            "dropped": [m.to_dict() for m in self.dropped],
        }


class ContaminationGuard:
    """An n-gram index over benchmark test items; ``check`` finds the closest one for a text."""

    def __init__(self, test_items: dict[str, str], *, n: int = 8, threshold: float = 0.8):
        if n < 1:
            raise ValueError("n must be >= 1")
        self.n, self.threshold = n, threshold
        self.ids = list(test_items)
        self.grams = [ngrams(test_items[i], n) for i in self.ids]
        index: dict[int, list[int]] = defaultdict(list)
        for k, grams in enumerate(self.grams):
            for g in grams:
                index[g].append(k)
        self.index = dict(index)

    @classmethod
    def from_benchmarks(
        cls, data_dir: str | Path, *, n: int = 8, threshold: float = 0.8
    ) -> tuple[ContaminationGuard, dict[str, int]]:
        """Index the test split of every benchmark whose official files are under ``data_dir``."""
        found = find_benchmark_files(Path(data_dir))
        texts: dict[str, str] = {}
        counts: dict[str, int] = {}
        for name in BENCHMARKS:
            roles = found.get(name, {})
            if not any(role == "test" or role.endswith("_test") for role in roles):
                continue  # only a training/dev file of this benchmark is there: no test split to guard
            bench = load_benchmark(name, data_dir, split="test")
            counts[name] = len(bench.items)
            for item in bench.items:
                texts[item.id] = guard_text(item)
        return cls(texts, n=n, threshold=threshold), counts

    def check(self, text: str) -> tuple[str, float] | None:
        """The test item with the highest overlap with ``text`` when it reaches the threshold, else None."""
        grams = ngrams(text, self.n)
        if not grams:
            return None
        postings = [self.index[g] for g in grams if g in self.index]
        rare = [p for p in postings if len(p) <= _COMMON_POSTINGS] or postings
        candidates = {k for p in rare for k in p}
        best: tuple[str, float] | None = None
        for k in sorted(candidates):
            other = self.grams[k]
            overlap = len(grams & other) / min(len(grams), len(other))
            if overlap >= self.threshold and (best is None or overlap > best[1]):
                best = (self.ids[k], overlap)
        return best

    def filter(self, examples: list[ChatExample], report: GuardReport) -> list[ChatExample]:
        """The examples that do not overlap any test item; the others are recorded in ``report.dropped``."""
        kept = []
        for ex in examples:
            report.num_checked += 1
            hit = self.check(ex.guard_text)
            if hit is None:
                kept.append(ex)
            else:
                report.dropped.append(Match(ex.id, ex.source, hit[0], hit[1]))
        return kept


def guard_examples(
    examples: list[ChatExample], benchmarks_dir: str | Path, *, n: int = 8, threshold: float = 0.8
) -> tuple[list[ChatExample], GuardReport]:
    """Drop examples overlapping a test item of the benchmarks under ``benchmarks_dir``; report what was dropped."""
    guard, counts = ContaminationGuard.from_benchmarks(benchmarks_dir, n=n, threshold=threshold)
    report = GuardReport(str(benchmarks_dir), n, threshold, num_test_items=counts)
    return guard.filter(examples, report), report
