"""README "On your own data", run as a user runs it: every command of its ``bash`` block, in order, on a real
pretrained Llama with a SentencePiece tokenizer (``../shared/models/aidreams260K-hf``, context 128) and the real
files in ``../shared/data``: corpus → pretrain → finetune → eval → export (HF, then GGUF, checked in llama.cpp by
``gguf_check``) → serve (a chat completion).

``COMMANDS`` mirrors the README block line for line (a test pins it); to cover a new README command, add the line to
both and, if it leaves something to check, an entry to ``CHECKS``. The config (``my.yaml``) differs from the README's
only in its paths and small budgets.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.testing import REPO, SHARED_DATA, requires_shared_data

COMMANDS = [
    "meditron corpus run -c my.yaml",
    "meditron pretrain -c my.yaml",
    "meditron finetune -c my.yaml",
    "meditron eval -c my.yaml --model runs/my-meditron/checkpoints/finetune/hf",
    "meditron export -c my.yaml",
    "meditron export -c my.yaml --format gguf",
    "meditron serve -c my.yaml --model runs/my-meditron/hf",
]
MODEL = SHARED_DATA.parent / "models" / "aidreams260K-hf"
BENCHMARKS = SHARED_DATA / "benchmarks"
PQAL = BENCHMARKS / "pubmedqa" / "ori_pqal.json"
PQAL_LIMIT = 40
CHATS = [
    ("What is sepsis?", "A life-threatening organ dysfunction caused by infection."),
    ("What does HbA1c measure?", "Average blood glucose over about three months."),
    ("First-line drug for type 2 diabetes?", "Metformin, unless contraindicated."),
    ("Normal adult resting heart rate?", "60 to 100 beats per minute."),
]


def readme_commands() -> list[str]:
    """The ``meditron`` lines of the bash block in README's "On your own data" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## On your own data", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README 'On your own data' has no bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("meditron ")]


def test_commands_mirror_the_readme():
    assert readme_commands() == COMMANDS


def write_config(root: Path, port: int) -> Path:
    """``my.yaml``: the README's config with real paths, the model's 128-token context and tiny budgets."""
    chats = root / "my_conversations.jsonl"
    chats.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                      {"role": "assistant", "content": a}]}) + "\n"
                             for q, a in CHATS), encoding="utf-8")  # fmt: skip
    pubmed = SHARED_DATA / "pubmed"
    cfg = {
        "name": "my-meditron",
        "out_dir": "runs",
        "model": {"path": str(MODEL)},
        "corpus": {
            "tokenizer": str(MODEL),
            "sources": [
                {"name": "papers", "kind": "jats", "paths": [str(pubmed / "jats")]},
                {"name": "abstracts", "kind": "medline",
                 "paths": [str(pubmed / "medline" / "pubmed-*.xml"), str(pubmed / "medline" / "test_current_*.gz")]},
                {"name": "guidelines", "kind": "guideline_html", "paths": [str(SHARED_DATA / "guidelines" / "cdc_mmwr_html")],
                 "site": "cdc"},
            ],
            "decontamination": {"benchmarks_dir": str(BENCHMARKS)},
        },
        "train": {"seq_len": 128, "steps": 3, "global_batch_size": 2, "micro_batch_size": 2, "warmup_steps": 1,
                  "lr": 1e-3, "min_lr": 1e-4, "eval_every": 3, "eval_batches": 1, "tensorboard": False},
        "finetune": {
            "datasets": [{"kind": "pubmedqa", "path": str(PQAL), "limit": PQAL_LIMIT},
                         {"kind": "chat", "path": str(chats)}],
            "guard_benchmarks_dir": str(BENCHMARKS),
            "seq_len": 128, "epochs": 1, "global_batch_size": 2, "micro_batch_size": 2, "tensorboard": False,
        },
        "eval": {"data_dir": str(BENCHMARKS), "benchmarks": ["medqa4"], "modes": ["top_token", "chat"],
                 "num_fewshot": 0, "limit": 3, "max_new_tokens": 8, "bootstrap_samples": 10},
        "serve": {"port": port, "system_prompt": "", "max_new_tokens": 8},
    }  # fmt: skip
    path = root / "my.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def run_in_process(argv: list[str]) -> None:
    """The ``meditron`` command in this process (the CLI app itself; saves a torch import per command)."""
    from typer.testing import CliRunner

    from meditron.cli import app

    result = CliRunner().invoke(app, argv)
    if result.exit_code != 0:
        raise AssertionError(f"meditron {shlex.join(argv)} failed ({result.exit_code}): {result.exception!r}\n"
                             f"{result.output[-4000:]}")  # fmt: skip


def serve_and_chat(argv: list[str], root: Path, port: int) -> dict:
    """``meditron serve`` as its own process (it runs until stopped): wait for it, ask one chat completion, stop it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "meditron", *argv], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                models = json.load(urllib.request.urlopen(f"{base}/models", timeout=5))
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.communicate(timeout=10)[0][-4000:]
                    raise AssertionError(f"meditron serve did not start:\n{output}") from None
                time.sleep(0.5)
        body = {"model": models["data"][0]["id"], "messages": [{"role": "user", "content": "What is sepsis?"}],
                "max_tokens": 8, "temperature": 0}  # fmt: skip
        request = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        return json.load(urllib.request.urlopen(request, timeout=120))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- what each stage must have left, from the files a user would open ----------------------------------------------


def check_corpus(run: Path) -> None:
    """Documents start with BOS (the model's tokenizer adds one) and end with EOS: exactly one each per document."""
    from meditron.data.shards import TokenShards
    from meditron.tokenizer import add_special_tokens, describe_tokenizer, load_tokenizer

    shards = TokenShards(run / "shards")
    tok = load_tokenizer(MODEL)
    add_special_tokens(tok)
    record = shards.tokenization
    assert record == {"source": str(MODEL), **describe_tokenizer(tok).to_dict(), "bos": True, "eos": True,
                      "bos_setting": "auto", "eos_setting": "auto"}  # fmt: skip
    num_docs = 0
    for source in shards.manifest["sources"]:
        for split in ("train", "validation"):
            for f in shards.files(source, split):
                tokens, ends = np.asarray(f.tokens), f.doc_ends.astype(int)
                starts = np.concatenate([[0], ends[:-1]])
                assert np.flatnonzero(tokens == 1).tolist() == starts.tolist()  # BOS exactly at document starts
                assert np.flatnonzero(tokens == 2).tolist() == (ends - 1).tolist()  # EOS exactly at document ends
                num_docs += len(ends)
    report = json.loads((run / "corpus" / "corpus_report.json").read_text())
    assert num_docs == report["totals"]["kept"] > 10


def check_pretrain(run: Path) -> None:
    metrics = json.loads((run / "run.json").read_text())["stages"]["pretrain"]["metrics"]
    from meditron.tokenizer import ALL_SPECIAL_TOKENS

    assert metrics["vocabulary"] == {
        "embedding_rows_before": 512, "embedding_rows": 524, "rows_added": 12, "tokens_added": list(ALL_SPECIAL_TOKENS),
        "init": "mean of the 512 existing embedding rows (the LM head is tied to it)",
    }  # fmt: skip
    assert metrics["max_context"]["tokens"] == 128 and metrics["tokenization"]["bos"] is True
    assert (run / "checkpoints" / "pretrain" / "hf" / "model.safetensors").exists()


def check_finetune(run: Path) -> None:
    """The guard drops exactly the PubMedQA test questions among the first PQAL_LIMIT items; the others are longer
    than the 128-token context and are listed as too long; the four chats are trained on."""
    report = json.loads((run / "logs" / "finetune_data.json").read_text())
    first = list(json.loads(PQAL.read_text()))[:PQAL_LIMIT]
    test_pmids = set(json.loads((BENCHMARKS / "pubmedqa" / "test_ground_truth.json").read_text()))
    in_test = [p for p in first if p in test_pmids]
    assert 0 < len(in_test) < PQAL_LIMIT
    assert report["num_built"] == PQAL_LIMIT + len(CHATS)
    assert sorted(d["example"] for d in report["guard"]["dropped"]) == sorted(f"pubmedqa-{p}" for p in in_test)
    assert report["too_long"]["num_dropped"] == PQAL_LIMIT - len(in_test)
    assert report["source"]["num_examples"] == len(CHATS)
    metrics = json.loads((run / "run.json").read_text())["stages"]["finetune"]["metrics"]
    assert metrics["vocabulary"]["rows_added"] == 0 and metrics["num_guard_dropped"] == len(in_test)


def check_eval(run: Path) -> None:
    results = json.loads((run / "eval" / "results.json").read_text())
    assert "medqa4" in json.dumps(results) and (run / "eval" / "report.md").exists()


def check_export(run: Path) -> None:
    """Plain ``AutoTokenizer`` on the export encodes as SentencePiece (leading space included) and its chat prompt
    starts with exactly one BOS."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run / "hf")
    sp = spm.SentencePieceProcessor(model_file=str(MODEL / "tokenizer.model"))
    assert tok.chat_template and len(tok) == 524 and tok("a")["input_ids"][0] == 1
    assert tok(" What is sepsis?").input_ids == [1, *sp.encode(" What is sepsis?")]
    chat = tok.apply_chat_template([{"role": "user", "content": "What is sepsis?"}], add_generation_prompt=True,
                                   tokenize=True, return_dict=True)["input_ids"]  # fmt: skip
    assert chat[:2] == [1, tok.convert_tokens_to_ids("<|im_start|>")] and chat.count(1) == 1
    assert (run / "hf" / "model.safetensors").exists()


def check_export_gguf(run: Path) -> None:
    """The GGUF files sit beside the HF export (both recorded in run.json) and llama.cpp agrees with the HF export on
    every prompt of gguf_check's fixed set (token ids and next token)."""
    import importlib.util
    import warnings

    files = sorted(p.name for p in (run / "gguf").glob("*.gguf"))
    assert files == ["my-meditron-f16.gguf", "my-meditron-q8_0.gguf"] and (run / "hf" / "model.safetensors").exists()
    stages = json.loads((run / "run.json").read_text())["stages"]
    assert "export" in stages and "export_gguf" in stages
    if importlib.util.find_spec("llama_cpp") is None:
        warnings.warn("gguf_check not run: llama_cpp is not importable (pip install llama-cpp-python)", stacklevel=1)
        return
    from meditron.serve.gguf_check import main

    for name in files:
        assert main([str(run / "hf"), str(run / "gguf" / name)]) == 0, name


def stage_of(argv: list[str]) -> str:
    """The CHECKS key of a command: its subcommand, ``export_gguf`` for a GGUF export."""
    return "export_gguf" if argv[0] == "export" and "gguf" in argv else argv[0]


CHECKS: dict[str, Callable[[Path], None]] = {
    "corpus": check_corpus, "pretrain": check_pretrain, "finetune": check_finetune, "eval": check_eval,
    "export": check_export, "export_gguf": check_export_gguf,
}  # fmt: skip


@pytest.mark.slow
@requires_shared_data
def test_readme_own_data_path_on_a_real_llama(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_config(tmp_path, port)
    monkeypatch.chdir(tmp_path)  # the README's relative paths (my.yaml, runs/...) resolve here
    run = tmp_path / "runs" / "my-meditron"
    for command in COMMANDS:
        argv = shlex.split(command)[1:]
        if argv[0] == "serve":
            reply = serve_and_chat(argv, tmp_path, port)
            assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["role"] == "assistant"
            assert 0 < reply["usage"]["completion_tokens"] <= 8
            continue
        run_in_process(argv)
        check = CHECKS.get(stage_of(argv))
        if check is not None:
            check(run)
