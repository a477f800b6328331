"""MMLU-style questions for MEDITRON's nine medical subjects, hand-written: 11 per subject (8 test, 3 dev).

The questions are in ``facts/mmlu.yaml``. Some fields span lines or hold commas and quotes on purpose: the
official CSVs have both, and the loaders must handle CSV quoting.
"""

from __future__ import annotations

from .facts import load


def rows(subject: str) -> list[tuple[str, str, str, str, str, str]]:
    """(question, A, B, C, D, answer letter) for each question of ``subject``, test split first."""
    return [(r["question"], *r["choices"], r["answer"]) for r in load("mmlu")[subject]]



