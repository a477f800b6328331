"""Small corpora written for these tests: planted duplicate, benchmark question, PHI, corrupt file, replay data."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import yaml

WORDS = (
    "patient treatment clinical study dose therapy risk disease infection vaccine children adults trial outcome "
    "hospital care blood pressure diabetes insulin cancer screening guideline recommendation evidence mortality "
    "cohort randomized placebo adverse events follow up months years baseline analysis hazard ratio primary "
    "secondary endpoint population women men age group incidence prevalence symptoms diagnosis management"
).split()

#: A benchmark question written for these tests (MedQA format), planted verbatim in one guideline.
PLANTED_QUESTION = (
    "A 45-year-old man presents to the emergency department with crushing substernal chest pain radiating to his "
    "left arm for the past two hours. Which of the following is the most appropriate next step in management?"
)
OTHER_QUESTIONS = [
    "A 6-year-old girl is brought to the clinic because of a pruritic rash on her flexural surfaces that has waxed "
    "and waned for three years. Which of the following is the most likely diagnosis?",
    "A 70-year-old woman with long-standing hypertension has sudden painless loss of vision in her right eye upon "
    "waking this morning. Which of the following is the most likely cause?",
]
PLANTED_EMAIL = "dr.jane.roe@st-elsewhere-hospital.org"
PLANTED_PHONE = "(617) 555-0198"


def paragraph(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def write_benchmarks(root: Path) -> Path:
    """A MedQA-format test file with three items: medqa4-0001 is the planted question."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for q in [PLANTED_QUESTION, *OTHER_QUESTIONS]:
        rows.append({"question": q, "answer": "x", "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
                     "meta_info": "step1", "answer_idx": "A"})
    (root / "phrases_no_exclude_test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def train_tokenizer(path: Path) -> Path:
    """A real byte-level BPE tokenizer.json trained on the vocabulary here (no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    rng = random.Random(0)
    tk.train_from_iterator([paragraph(rng, 60) for _ in range(200)] + [PLANTED_QUESTION, *OTHER_QUESTIONS],
                           trainer=trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tk.save(str(path))
    return path


def write_corpus(root: Path, num_guidelines: int = 30, num_abstracts: int = 30, num_replay: int = 40) -> dict:
    """Guidelines and abstracts (JSONL sources), replay JSONL, a corrupt gzip file; returns the planted facts."""
    rng = random.Random(1234)
    root.mkdir(parents=True, exist_ok=True)
    guidelines = [{"id": f"g{i:03d}", "text": "\n\n".join(paragraph(rng, 45) for _ in range(3))}
                  for i in range(num_guidelines)]
    abstracts = [{"id": f"a{i:03d}", "text": "\n".join(paragraph(rng, 40) for _ in range(2))}
                 for i in range(num_abstracts)]
    # the same text in both sources: kept once (the guideline: earlier source), the abstract is the exact dup
    abstracts[7]["text"] = guidelines[3]["text"]
    # a near duplicate inside the guidelines: one word changed
    near = guidelines[10]["text"].split(" ")
    near[5] = "zebra"
    guidelines[11]["text"] = " ".join(near)
    guidelines[5]["text"] += f"\n\nQuestions: write to {PLANTED_EMAIL} or call {PLANTED_PHONE}."
    guidelines[8]["text"] += "\n\nCase: " + PLANTED_QUESTION
    guidelines[12]["text"] = "Ceci est un document écrit en français sur le traitement du diabète chez l'adulte. " * 5
    guidelines[13]["text"] = "Too short."
    (root / "guidelines").mkdir(exist_ok=True)
    (root / "guidelines" / "a.jsonl").write_text("\n".join(json.dumps(r) for r in guidelines[:20]) + "\n")
    (root / "guidelines" / "b.jsonl").write_text("\n".join(json.dumps(r) for r in guidelines[20:]) + "\n")
    (root / "abstracts.jsonl").write_text("\n".join(json.dumps(r) for r in abstracts) + "\n")
    replay = [{"id": f"r{i:03d}", "text": paragraph(rng, 120)} for i in range(num_replay)]
    (root / "replay.jsonl.gz").write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in replay) + "\n").encode()))
    # a gzip header followed by garbage: the reader fails on its first read and quarantines the file
    (root / "guidelines" / "corrupt.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(200)))
    return {"dup_kept": "guidelines:g003", "dup_removed": "abstracts:a007", "near_kept": "guidelines:g010",
            "near_removed": "guidelines:g011", "contaminated": "guidelines:g008", "phi_doc": "guidelines:g005"}


def write_config(root: Path, out: Path, tokenizer: Path, benchmarks: Path, tasks: int = 1, **corpus) -> Path:
    cfg = {
        "name": "t",
        "out_dir": str(out),
        "seed": 7,
        "corpus": {
            "tokenizer": str(tokenizer),
            "sources": [
                {"name": "guidelines", "kind": "jsonl", "paths": [str(root / "guidelines")], "validation_share": 0.1},
                {"name": "abstracts", "kind": "jsonl", "paths": [str(root / "abstracts.jsonl")],
                 "validation_share": 0.1},
                {"name": "replay", "kind": "jsonl", "paths": [str(root / "replay.jsonl.gz")], "replay": True,
                 "validation_share": 0.0},
            ],
            "replay_share": 0.1,
            "quality": {"min_chars": 100, "min_words": 15},
            "decontamination": {"benchmarks_dir": str(benchmarks), "ngram": 13, "action": "drop"},
            "executor": {"kind": "local", "tasks": tasks, "workers": 1},
            **corpus,
        },
    }
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
