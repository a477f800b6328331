"""Fixtures of the serve tests: a tiny real Llama HF directory and a run directory holding it with stage files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.serve.tiny_model import build_tiny_model

CORPUS_REPORT = {
    "totals": {"input": 1500, "kept": 1203, "dropped": 277, "quarantined": 20},
    "sources": {
        "abstracts": {"input": 900, "kept": 811, "license": "NLM terms (MEDLINE/PubMed)"},
        "guidelines": {"input": 450, "kept": 322, "license": "per-site terms"},
        "replay": {"input": 150, "kept": 70, "license": "ODC-By"},
    },
    "drop_reasons": {"language": 31, "quality": 118, "exact-dup": 52, "near-dup": 57, "contaminated": 19},
    "contamination": {"documents_flagged": 19, "benchmark_items_hit": 23},
    "phi": {"EMAIL": 12, "PHONE": 7, "URL": 3, "SSN": 0},
}
SHARDS_MANIFEST = {
    "format": "datatrove", "token_size": 2, "tokenizer": "tokenizer", "eos_id": 1, "vocab_size": 412,
    "sources": {
        "abstracts": {"train": {"num_docs": 787, "num_tokens": 210344}, "validation": {"num_docs": 24, "num_tokens": 6521}},
        "guidelines": {"train": {"num_docs": 306, "num_tokens": 498017}, "validation": {"num_docs": 16, "num_tokens": 25903}},
        "replay": {"train": {"num_docs": 70, "num_tokens": 7102}},
    },
}
RESULTS = {
    "results": {
        "medqa4": {"top_token": {"accuracy": 0.2867, "ci95": [0.2616, 0.3118], "n": 1273, "std": 0.0042, "unparsed": 0,
                                 "num_fewshot": 3, "zero_shot": {"accuracy": 0.2585, "ci95": [0.2349, 0.2828], "n": 1273}},
                   "chat": {"accuracy": 0.3012, "ci95": [0.2757, 0.3268], "n": 1273, "unparsed": 41}},
        "pubmedqa": {"top_token": {"accuracy": 0.552, "ci_low": 0.508, "ci_high": 0.596, "n": 500}},
    }
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-meditron")


@pytest.fixture()
def run_dir(tmp_path, tiny_model) -> Path:
    """A run directory as the pipeline leaves it before export: run.json, corpus report, shards manifest,
    a consolidated finetune checkpoint and eval results."""
    from meditron.config import load_config
    from meditron.run import RunDir

    cfg = load_config("quickstart-cpu", [f"out_dir={tmp_path}", "name=medrun"])
    run = RunDir.from_config(cfg)
    run.start(cfg, "quickstart")
    for sub in ("corpus", "shards", "eval"):
        (run.root / sub).mkdir(parents=True, exist_ok=True)
    (run.corpus / "corpus_report.json").write_text(json.dumps(CORPUS_REPORT), encoding="utf-8")
    (run.shards / "manifest.json").write_text(json.dumps(SHARDS_MANIFEST), encoding="utf-8")
    (run.eval / "results.json").write_text(json.dumps(RESULTS), encoding="utf-8")
    hf = run.checkpoints / "finetune" / "hf"
    shutil.copytree(tiny_model, hf)
    run.record_stage("pretrain", {"checkpoints": run.checkpoints / "pretrain"},
                     metrics={"first_loss": 6.0312, "last_loss": 4.1187, "steps": 60})
    run.record_stage("finetune", {"hf": hf}, metrics={"last_loss": 1.9043, "steps": 40})
    run.record_stage("eval", {"results": run.eval / "results.json"})
    return run.root
