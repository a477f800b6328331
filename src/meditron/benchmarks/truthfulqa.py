"""TruthfulQA v1 (Lin et al. 2022) from its two official files, joined into multiple-choice items.

``TruthfulQA.csv`` (Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers, Source) knows each
question's category; ``data/mc_task.json`` ({question, mc1_targets, mc2_targets}, in another order) knows the choices.
MEDITRON's Table 13 needs both: MC1 over the choices, reported per category. The two are joined on the question text
(whitespace-normalised, because one v1 CSV question carries a trailing space) and every question must join both ways:
mixing files of two TruthfulQA revisions (upstream rewrote the set to 790 rows in 2025) raises, naming the question.

The official MC1 lists the correct answer first. Scoring letters in that order would reward a model that always says
"A", so the choices are put in a per-question order fixed by SHA-256 of the question and the choice text: the same on
every machine and Python version (unlike ``hash()``), the same for every run and every model.
"""

from __future__ import annotations

import csv
import hashlib
import json
import string
from pathlib import Path
from typing import Any

from meditron.benchmarks.items import BenchmarkItem
from meditron.errors import InputError

CSV_COLUMNS: tuple[str, ...] = (
    "Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers", "Source",
)
_LETTERS = string.ascii_uppercase


def normalise_question(text: str) -> str:
    """The join key: runs of whitespace collapsed, ends stripped (case and punctuation kept)."""
    return " ".join(text.split())


def choice_order(question: str, choices: list[str]) -> list[str]:
    """``choices`` in the question's fixed pseudo-random order: sorted by SHA-256 of (question, choice)."""
    key = normalise_question(question)
    return sorted(choices, key=lambda c: hashlib.sha256(f"{key}\n{c}".encode()).hexdigest())


def read_categories(path: Path) -> dict[str, dict[str, Any]]:
    """Question (normalised) → {index (1-based row), category, type, line} from TruthfulQA.csv (BOM tolerated)."""
    rows: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in ("Type", "Category", "Question") if c not in (reader.fieldnames or [])]
        if absent:
            raise InputError(
                f"missing column(s) {', '.join(absent)}; expected the official header {', '.join(CSV_COLUMNS)}",
                path=str(path),
                record="line 1",
            )
        for row in reader:
            where = f"line {reader.line_num}"
            question = normalise_question(row.get("Question") or "")
            category = (row.get("Category") or "").strip()
            if not question or not category:
                raise InputError("empty Question or Category", path=str(path), record=where)
            if question in rows:
                raise InputError(f"duplicate question {question!r}", path=str(path), record=where)
            rows[question] = {
                "index": len(rows) + 1,
                "category": category,
                "type": (row.get("Type") or "").strip(),
                "line": reader.line_num,
            }
    return rows


def _targets(entry: dict[str, Any], key: str, path: Path, where: str) -> dict[str, int]:
    targets = entry.get(key)
    if (
        not isinstance(targets, dict)
        or len(targets) < 2
        or not all(isinstance(t, str) and t.strip() for t in targets)
        or not all(v in (0, 1) and not isinstance(v, bool) for v in targets.values())
        or 1 not in targets.values()
    ):
        raise InputError(
            f"field {key!r} must map at least two answer texts to 0/1 with at least one 1, got {targets!r:.120}",
            path=str(path),
            record=where,
        )
    return targets


def read_mc_task(path: Path) -> list[dict[str, Any]]:
    """The validated entries of mc_task.json: a question, MC1 with exactly one correct choice, MC2."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(path), record=f"line {e.lineno}") from None
    if not isinstance(data, list):
        raise InputError("expected a JSON list of {question, mc1_targets, mc2_targets}", path=str(path))
    entries = []
    for k, entry in enumerate(data):
        where = f"entry {k}"
        if not isinstance(entry, dict) or not isinstance(entry.get("question"), str) or not entry["question"].strip():
            raise InputError("expected an object with a non-empty 'question'", path=str(path), record=where)
        mc1 = _targets(entry, "mc1_targets", path, where)
        if sum(mc1.values()) != 1:
            raise InputError(f"mc1_targets must have exactly one correct answer, got {sum(mc1.values())}",
                             path=str(path), record=where)
        if len(mc1) > len(_LETTERS):
            raise InputError(f"mc1_targets has {len(mc1)} choices; at most 26 can be lettered",
                             path=str(path), record=where)
        entries.append({"question": entry["question"], "mc1": mc1, "mc2": _targets(entry, "mc2_targets", path, where)})
    return entries


def _join(mc_path: Path, csv_path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(CSV row, mc entry) pairs in CSV order; a question present in only one of the files raises, naming it."""
    rows = read_categories(csv_path)
    entries = read_mc_task(mc_path)
    by_question: dict[str, dict[str, Any]] = {}
    for k, entry in enumerate(entries):
        key = normalise_question(entry["question"])
        if key in by_question:
            raise InputError(f"duplicate question {key!r}", path=str(mc_path), record=f"entry {k}")
        if key not in rows:
            raise InputError(
                f"question {key!r} has no row in {csv_path.name} ({csv_path}); use TruthfulQA.csv and "
                "data/mc_task.json of the same (v1) release",
                path=str(mc_path),
                record=f"entry {k}",
            )
        by_question[key] = dict(entry, index=k)
    for key, row in rows.items():
        if key not in by_question:
            raise InputError(
                f"question {key!r} has no entry in {mc_path.name} ({mc_path}); use TruthfulQA.csv and "
                "data/mc_task.json of the same (v1) release",
                path=str(csv_path),
                record=f"line {row['line']}",
            )
    return [(row, by_question[key]) for key, row in rows.items()]


def load_truthfulqa(mc_path: Path, csv_path: Path, benchmark: str) -> list[BenchmarkItem]:
    """Every TruthfulQA question as a BenchmarkItem of ``benchmark``, in the CSV's order, id ``tqa-<row>``.

    ``options`` are the MC1 choices lettered A, B, ... in :func:`choice_order`; ``answer`` is the correct one's
    letter; ``subject`` and ``meta["category"]`` the CSV category; ``meta["mc2_choices"]``/``["mc2_labels"]`` the MC2
    answers and their 0/1 labels in the file's order (MC2 is a probability mass over them, order plays no part).
    """
    items = []
    for row, entry in _join(mc_path, csv_path):
        question = normalise_question(entry["question"])
        ordered = choice_order(question, list(entry["mc1"]))
        options = dict(zip(_LETTERS, ordered, strict=False))
        answer = next(letter for letter, text in options.items() if entry["mc1"][text] == 1)
        items.append(
            BenchmarkItem(
                id=f"tqa-{row['index']:04d}",
                benchmark=benchmark,
                question=question,
                options=options,
                answer=answer,
                subject=row["category"],
                meta={
                    "category": row["category"],
                    "type": row["type"],
                    "mc2_choices": list(entry["mc2"]),
                    "mc2_labels": list(entry["mc2"].values()),
                    "line": row["line"],
                    "mc_index": entry["index"],
                },
            )
        )
    return items
