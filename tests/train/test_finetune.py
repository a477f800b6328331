"""``meditron finetune`` end to end on a tiny Llama: it learns a synthetic QA rule (scored by the evaluation stage's
chat and CoT modes), the finetuned HF directory carries the ChatML template, and a run killed mid-epoch resumes
exactly, on another number of processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from transformers import AutoTokenizer, GenerationConfig

from meditron.config import RunConfig
from meditron.data.sft import CHATML_TEMPLATE
from meditron.errors import InputError
from meditron.run import RunDir
from meditron.train.sft import run_finetune
from tests.fixtures.synthetic_qa import build_model_dir, write_medmcqa, write_medqa

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    build_model_dir(root / "init", seed=0)
    write_medqa(root / "sft" / "phrases_no_exclude_train.jsonl", 200, seed=1)
    write_medqa(root / "bench" / "phrases_no_exclude_test.jsonl", 50, seed=2)
    write_medmcqa(root / "sft" / "train.json", 200, seed=3)
    write_medmcqa(root / "bench_cot" / "dev.json", 50, seed=4)
    return root


def _config(root: Path, name: str, **finetune) -> dict:
    ft = {
        "datasets": [{"kind": "medqa", "path": str(root / "sft" / "phrases_no_exclude_train.jsonl")}],
        "init_from": str(root / "init"),
        "guard_benchmarks_dir": str(root / "bench"),
        # A recipe that learns the rule in ~100 steps: the answer letter needs attention to one cue word among ~180
        # tokens, which Adam with eps 1e-5 (the pretraining default) barely moves; a constant lr avoids decaying
        # before that phase transition.
        "epochs": 5,
        "seq_len": 256,
        "global_batch_size": 8,
        "micro_batch_size": 8,
        "lr": 3e-3,
        "schedule": "constant",
        "eps": 1e-8,
        "betas": [0.9, 0.999],
        "warmup_ratio": 0.0,
        "weight_decay": 0.0,
        "tensorboard": False,
        "prefetch": 1,
        "checkpoint": {"every_steps": 1000, "keep_last": 1},
    }
    ft.update(finetune)
    return {"name": name, "out_dir": str(root / "runs"), "seed": 5, "finetune": ft}


def _log(run_root: Path) -> list[dict]:
    lines = (run_root / "logs" / "finetune.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tiny_model_learns_the_rule_through_eval_chat_and_cot_modes(workspace):
    from meditron.eval.config import EvalConfig
    from meditron.eval.run import run_eval

    cfg = RunConfig.model_validate(_config(workspace, "learn"))
    run = RunDir(cfg.run_dir)
    summary = run_finetune(cfg, run, resume=False)
    assert summary["stopped"] == "completed" and summary["steps"] == 125  # 5 epochs x 200 / 8
    assert summary["num_guard_dropped"] == 0 and summary["last_loss"] < 0.1 * summary["first_loss"]

    hf = Path(summary["hf"])
    assert hf == run.checkpoints / "finetune" / "hf"
    tok = AutoTokenizer.from_pretrained(hf)
    assert tok.chat_template == CHATML_TEMPLATE
    gen = GenerationConfig.from_pretrained(hf)
    assert tok.convert_tokens_to_ids("<|im_end|>") in gen.eos_token_id

    report = json.loads((run.logs / "finetune_data.json").read_text())
    assert report["datasets"][0]["num_examples"] == 200 and report["guard"]["num_test_items"] == {"medqa4": 50}
    assert (
        json.loads(run.manifest_path.read_text())["stages"]["finetune"]["artifacts"]["hf"] == "checkpoints/finetune/hf"
    )

    results = run_eval(
        EvalConfig(
            model=str(hf),
            data_dir=str(workspace / "bench"),
            benchmarks=["medqa4"],
            modes=["chat", "cot"],
            max_new_tokens=16,
            batch_size=25,
            bootstrap_samples=50,
            out=workspace / "eval",
        )
    )
    for mode in ("chat", "cot"):  # cot: the same chat template with "Let's think step by step." appended
        res = results["results"]["medqa4"][mode]
        assert res["n"] == 50 and res["unparsed"] == 0
        assert res["accuracy"] >= 0.9, (mode, res)


@pytest.mark.slow
def test_cot_variant_explains_then_answers_through_eval_cot_mode(workspace):
    """Trained on the CoT variant (MedMCQA layout, ``exp`` before "Therefore, the answer is X"), the model writes an
    explanation and then the answer, and the evaluation's CoT mode parses it."""
    from meditron.eval.config import EvalConfig
    from meditron.eval.run import run_eval

    datasets = [{"kind": "medmcqa", "path": str(workspace / "sft" / "train.json"), "cot": True}]
    cfg = RunConfig.model_validate(
        _config(workspace, "cot", datasets=datasets, epochs=8, guard_benchmarks_dir=str(workspace / "bench_cot"))
    )
    summary = run_finetune(cfg, RunDir(cfg.run_dir), resume=False)
    assert summary["steps"] == 200 and summary["num_guard_dropped"] == 0
    results = run_eval(
        EvalConfig(
            model=summary["hf"],
            data_dir=str(workspace / "bench_cot"),
            benchmarks=["medmcqa"],
            modes=["cot"],
            max_new_tokens=24,
            batch_size=25,
            bootstrap_samples=50,
            out=workspace / "eval_cot",
        )
    )
    res = results["results"]["medmcqa"]["cot"]
    assert res["n"] == 50 and res["unparsed"] == 0 and res["accuracy"] >= 0.9, res
    first = json.loads((workspace / "eval_cot" / "items" / "medmcqa" / "cot.jsonl").read_text().splitlines()[0])
    assert (
        first["output"].startswith("The ")
        and "history decides the treatment here.\nTherefore, the answer is" in (first["output"])
    )


def test_missing_model_is_a_clear_error(workspace):
    cfg = RunConfig.model_validate(_config(workspace, "nomodel", init_from=None))
    with pytest.raises(InputError, match="run `meditron pretrain` first"):
        run_finetune(cfg, RunDir(cfg.run_dir), resume=False)


def _cli(cfg_path: Path, *extra: str, nproc: int = 1) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    launcher = [sys.executable]
    if nproc > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-port", str(_free_port())]
    cmd = [*launcher, "-m", "meditron", "finetune", "--config", str(cfg_path), *extra]
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.distributed
def test_resume_after_kill_mid_epoch_gives_the_same_losses(workspace):
    """40 examples, batch 8: 5 steps per epoch, 20 steps, a checkpoint every 3. SIGKILL once step 8 is logged (mid
    epoch 2); the run resumes from step 6 *on two processes* (FSDP2, gloo) and reads the same samples: its losses
    equal an uninterrupted one-process run's, step for step (to float rounding across the two reductions)."""
    path = str(workspace / "sft" / "phrases_no_exclude_train.jsonl")
    small = {
        "datasets": [{"kind": "medqa", "path": path, "limit": 40}],
        "epochs": 4,
        "micro_batch_size": 4,
        "checkpoint": {"every_steps": 3, "keep_last": 2},
    }
    cfg_path = workspace / "killed.yaml"
    cfg_path.write_text(yaml.safe_dump(_config(workspace, "killed", **small)))
    killed = _cli(cfg_path)
    # The uninterrupted reference runs in this process meanwhile (same code, same single thread).
    straight = RunConfig.model_validate(_config(workspace, "straight", **small))
    assert run_finetune(straight, RunDir(straight.run_dir), resume=False)["steps"] == 20
    expected = _log(straight.run_dir)

    log = workspace / "runs" / "killed" / "logs" / "finetune.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and killed.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 8:
            break
        time.sleep(0.01)
    assert killed.poll() is None, f"the run ended before it could be killed:\n{killed.communicate()[1][-3000:]}"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    num_logged = len(log.read_text().splitlines())
    assert killed.returncode == -signal.SIGKILL and 8 <= num_logged < 20
    assert not (workspace / "runs" / "killed" / "checkpoints" / "finetune" / "hf").exists()

    resumed = _cli(cfg_path, "--resume", nproc=2)
    _, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err[-3000:]
    got = _log(workspace / "runs" / "killed")
    assert len(expected) == len(got) == 20
    assert [r["data_checksum"] for r in got] == [r["data_checksum"] for r in expected]
    assert [r["loss"] for r in got[:6]] == [r["loss"] for r in expected[:6]]  # before the checkpoint: bit-identical
    assert [r["loss"] for r in got[6:]] == pytest.approx([r["loss"] for r in expected[6:]], rel=1e-6)
    data_report = json.loads((workspace / "runs" / "killed" / "logs" / "finetune_data.json").read_text())
    assert data_report["cache"]["hit"] is True  # the resumed run loaded the tokenized data instead of rebuilding
    manifest = json.loads((workspace / "runs" / "killed" / "run.json").read_text())
    resumed_from = manifest["stages"]["finetune"]["metrics"]["resumed_from"]
    assert resumed_from.endswith("step_0000006")
