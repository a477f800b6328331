"""What a benchmark question is: the item and set types and the names every stage shares.

Kept apart from the loaders so that the corpus decontamination step, the SFT builders and the evaluation stage agree
on one item type without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCHMARKS: tuple[str, ...] = (
    "medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical", "truthfulqa_med", "truthfulqa",
)

#: MEDITRON's MMLU-Medical: the nine medical subjects of MMLU (paper, section 5.1).
MMLU_MEDICAL_SUBJECTS: tuple[str, ...] = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "high_school_biology",
    "medical_genetics",
    "nutrition",
    "professional_medicine",
    "virology",
)

#: MEDITRON's "TruthfulQA medical" (Table 13): Health 55, Nutrition 16, Psychology 19, Science 9 = 99 questions in v1.
TRUTHFULQA_MED_CATEGORIES: tuple[str, ...] = ("Health", "Nutrition", "Psychology", "Science")

PUBMEDQA_LABELS: tuple[str, ...] = ("yes", "no", "maybe")
LETTERS: tuple[str, ...] = ("A", "B", "C", "D", "E")

@dataclass(frozen=True)
class BenchmarkItem:
    """One question. ``options`` maps letters (or yes/no/maybe) to text; ``answer`` is the gold key of ``options``."""

    id: str
    benchmark: str
    question: str
    options: dict[str, str]
    answer: str
    context: str | None = None
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchmarkSet:
    """The items of one benchmark split, the files they came from and the MMLU subjects that were not found.

    ``excluded`` (few-shot split only) maps each training/dev item left out to the test item it repeats: MMLU's
    official dev files hold five test questions of a neighbouring subject, and a demonstration must never be a test
    question with its answer.
    """

    items: list[BenchmarkItem]
    missing: list[str] = field(default_factory=list)
    source_files: list[Path] = field(default_factory=list)
    name: str = ""
    split: str = "test"
    excluded: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)
