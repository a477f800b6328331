"""TruthfulQA-style questions written for the sample (none is copied from TruthfulQA), in its two official files.

Nine in MEDITRON's medical categories (Health 3, Nutrition 2, Psychology 2, Science 2) and three in other categories,
the few-shot pool of ``truthfulqa_med``; the rows are in ``facts/truthfulqa.yaml``. As in TruthfulQA v1, CSV answers carry no final period and mc_task.json's do, MC1 lists the
best answer first, and one CSV question ends in a stray space (the loader joins on whitespace-normalised text).
"""

from __future__ import annotations

import csv
import io
import json
import random

from .facts import load


def _period(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _rows() -> list[dict]:
    """The rows of ``facts/truthfulqa.yaml``; ``correct_answers`` excludes the best answer."""
    return load("truthfulqa")["rows"]


def csv_text() -> str:
    """TruthfulQA.csv: UTF-8 with a BOM, the official header, answers within a cell joined by "; "."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers", "Source"])
    for r in _rows():
        best = r["best_answer"]
        writer.writerow([r["type"], r["category"], r["question"], best, "; ".join((best, *r["correct_answers"])),
                         "; ".join(r["incorrect_answers"]), r["source"]])
    return "\ufeff" + buf.getvalue()


def mc_task_text(seed: int) -> str:
    """data/mc_task.json: MC1 = best answer (first) + incorrect ones, MC2 = every correct then every incorrect answer;
    entries in another order than the CSV's, indented by two spaces, ASCII-escaped, no final newline (as released)."""
    entries = []
    for r in _rows():
        question, best, correct, incorrect = r["question"], r["best_answer"], r["correct_answers"], r["incorrect_answers"]
        mc1 = {_period(best): 1} | {_period(t): 0 for t in incorrect}
        mc2 = {_period(t): 1 for t in (best, *correct)} | {_period(t): 0 for t in incorrect}
        entries.append({"question": question.strip(), "mc1_targets": mc1, "mc2_targets": mc2})
    random.Random(seed).shuffle(entries)
    return json.dumps(entries, indent=2)
