"""Session fixtures: a tiny random Llama + tokenizer built in-test, and a small MedQA/PubMedQA folder in official layouts."""

from __future__ import annotations

import json

import pytest

from tests.eval.tiny import build_model, build_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_tokenizer):
    """A random-weights 4-layer Llama whose predictions vary with the prompt (init std 1.0): a per-item guesser."""
    return build_model(tmp_path_factory.mktemp("tiny_llama"), tiny_tokenizer, init_std=1.0, layers=4)


@pytest.fixture(scope="session")
def small_benchmarks(tmp_path_factory):
    """MedQA-4 (12 test + 6 train items) and PubMedQA (4 test of 8 labelled) written in the official layouts."""
    root = tmp_path_factory.mktemp("bench")
    q = root / "data_clean" / "questions" / "US" / "4_options"
    q.mkdir(parents=True)
    drugs = ["aspirin", "heparin", "warfarin", "insulin", "metformin", "statin"]

    def row(i: int) -> dict:
        opts = {k: f"{drugs[(i + j) % 6]} {k.lower()}" for j, k in enumerate("ABCD")}
        return {
            "question": f"A {30 + i}-year-old man has chest pain for {i + 1} hours. Which drug is indicated?",
            "answer": opts["ABCD"[i % 4]],
            "options": opts,
            "meta_info": "step1" if i % 2 else "step2&3",
            "answer_idx": "ABCD"[i % 4],
        }

    (q / "phrases_no_exclude_test.jsonl").write_text("".join(json.dumps(row(i)) + "\n" for i in range(12)))
    (q / "phrases_no_exclude_train.jsonl").write_text("".join(json.dumps(row(100 + i)) + "\n" for i in range(6)))
    p = root / "pubmedqa" / "data"
    p.mkdir(parents=True)
    labels = ["yes", "no", "maybe"]
    pqal = {
        str(1000 + i): {
            "QUESTION": f"Does drug {i} reduce mortality?",
            "CONTEXTS": [f"We studied {10 * i} patients.", "Mortality was recorded."],
            "final_decision": labels[i % 3],
            "LONG_ANSWER": "It may.",
        }
        for i in range(8)
    }
    (p / "ori_pqal.json").write_text(json.dumps(pqal))
    (p / "test_ground_truth.json").write_text(json.dumps({str(1000 + i): labels[i % 3] for i in range(4)}))
    return root
