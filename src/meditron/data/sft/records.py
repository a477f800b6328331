"""What the SFT builders produce: chat examples and a count report per input file.

A ``ChatExample`` keeps, beside its messages, the text the contamination guard compares with benchmark test items
(``guard_text``: the question, options and context, without the shared task instruction that would otherwise make
every item look alike).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatExample:
    """One training conversation. ``messages`` are ``{"role", "content"}`` dicts; assistant turns carry the loss."""

    id: str
    source: str
    messages: list[dict[str, str]]
    guard_text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildReport:
    """Counts of one builder run: records read, examples built, and records skipped per reason (never silently)."""

    source: str
    path: str
    kind: str
    cot: bool = False
    num_records: int = 0
    num_examples: int = 0
    skipped: Counter = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "kind": self.kind,
            "cot": self.cot,
            "num_records": self.num_records,
            "num_examples": self.num_examples,
            "skipped": dict(sorted(self.skipped.items())),
        }
