"""Rebuild the embedded sample from the hand-written content in ``meditron.sample._gen``.

    python -m meditron.sample._generate            # rewrite every sample file in place
    python -m meditron.sample.build_tokenizer      # then retrain the tokenizer on the result

Deterministic: the same code gives byte-identical files. The planted items that the tests and docs/SAMPLE.md rely on
are chosen here (see ``PLANTS``); change them in both places.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path

from meditron.sample import SAMPLE_DIR
from meditron.sample._gen import medmcqa, medqa, mmlu, pubmedqa, studies

SEED = 20231116
MMLU_SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "high_school_biology",
                 "medical_genetics", "nutrition", "professional_medicine", "virology")

# Where the planted items go (0-based positions). docs/SAMPLE.md and tests/test_sample.py name the same ones.
PLANTS = {
    "sft_medqa_copy_of_test": 7,  # test item index copied verbatim into the SFT MedQA file
    "sft_medqa_line": 33,  # 1-based line of the copy in sft/medqa/phrases_no_exclude_train.jsonl
    "guideline_with_medqa_test": 12,  # test item index whose question a guideline quotes verbatim
}


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="\n")


def _jsonl(rows: list[dict], **kw) -> str:
    return "".join(json.dumps(r, **kw) + "\n" for r in rows)


def _medmcqa_line(row: dict) -> str:
    # The official dump is PHP-style JSON: compact, ASCII-escaped, with escaped slashes.
    return json.dumps(row, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def _csv(rows: list[tuple]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


class Sample:
    """Builds every part of the sample from one seed; parts share PMIDs and planted items."""

    def __init__(self, out: Path = SAMPLE_DIR, seed: int = SEED) -> None:
        self.out = out
        self.rng = random.Random(seed)
        pool = self.rng.sample(range(15_000_000, 38_000_000), 200)
        self.pmids = [str(p) for p in pool]
        self.medqa = medqa.build(seed)
        self.medmcqa = medmcqa.build(seed)
        taken: set[tuple[str, int, int]] = set()
        srng = random.Random(seed + 1)
        pqal_decisions = ["yes", "no", "yes", "yes", "no", "maybe", "yes", "no"]
        self.pqal = studies.draw_many(40, srng, taken, pqal_decisions)
        self.pqaa = studies.draw_many(40, srng, taken, ["yes", "yes", "yes", "no"])
        self.medline_studies = studies.draw_many(37, srng, taken, ["yes", "no", "maybe"])
        self.jats_studies = studies.draw_many(8, srng, taken, ["yes", "no", "yes", "maybe"])
        self.pqal_pmids = self.pmids[:40]
        self.pqaa_pmids = self.pmids[40:80]
        self.medline_pmids = self.pmids[80:117]
        self.jats_pmids = self.pmids[117:125]

    # ---------------------------------------------------------------- benchmarks
    def benchmarks(self) -> None:
        b = self.out / "benchmarks"
        m = self.medqa
        _write(b / "medqa/questions/US/4_options/phrases_no_exclude_test.jsonl",
               _jsonl(m["test4"], ensure_ascii=False))
        _write(b / "medqa/questions/US/4_options/phrases_no_exclude_train.jsonl",
               _jsonl(m["train4"][:20], ensure_ascii=False))
        _write(b / "medqa/questions/US/test.jsonl", _jsonl(m["test5"], ensure_ascii=False))
        _write(b / "medqa/questions/US/train.jsonl", _jsonl(m["train5"][:10], ensure_ascii=False))

        rows = self.medmcqa
        dev = [dict(r) for r in rows[:40]]
        for i, r in enumerate(dev):  # about a third of the official dev explanations are null
            if i % 3 == 2:
                r["exp"] = None
        _write(b / "medmcqa/dev.json", "".join(_medmcqa_line(r) + "\n" for r in dev))
        _write(b / "medmcqa/train.json", "".join(_medmcqa_line(r) + "\n" for r in rows[40:60]))

        prng = random.Random(SEED + 2)
        pqal = {pmid: pubmedqa.pqal_item(s, prng) for pmid, s in zip(self.pqal_pmids, self.pqal, strict=True)}
        _write(b / "pubmedqa/ori_pqal.json", json.dumps(pqal, indent=4))
        truth = {pmid: pqal[pmid]["final_decision"] for pmid in self.pqal_pmids[::2]}
        _write(b / "pubmedqa/test_ground_truth.json", json.dumps(truth, indent=4))
        self.pqal_items = pqal

        for subject in MMLU_SUBJECTS:
            rows_ = mmlu.rows(subject)
            _write(b / f"mmlu/{subject}_test.csv", _csv(rows_[:8]))
            _write(b / f"mmlu/{subject}_dev.csv", _csv(rows_[8:]))

    # ---------------------------------------------------------------- finetuning sets
    def sft(self) -> None:
        s = self.out / "sft"
        train = list(self.medqa["train4"][:59])
        copy = dict(self.medqa["test4"][PLANTS["sft_medqa_copy_of_test"]])
        train.insert(PLANTS["sft_medqa_line"] - 1, copy)
        _write(s / "medqa/phrases_no_exclude_train.jsonl", _jsonl(train, ensure_ascii=False))
        _write(s / "medmcqa/train.json", "".join(_medmcqa_line(r) + "\n" for r in self.medmcqa[40:100]))
        prng = random.Random(SEED + 3)
        pqaa = {pmid: pubmedqa.pqaa_item(st, prng) for pmid, st in zip(self.pqaa_pmids, self.pqaa, strict=True)}
        _write(s / "pubmedqa/ori_pqaa.json", json.dumps(pqaa, indent=4))

    def build(self, parts: tuple[str, ...] = ("benchmarks", "sft")) -> None:
        for part in parts:
            getattr(self, part)()


def main() -> None:
    Sample().build()
    print(f"sample written to {SAMPLE_DIR}")


if __name__ == "__main__":
    main()
