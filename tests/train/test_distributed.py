"""`meditron pretrain` under torchrun (gloo, CPU): FSDP2 and TP match one process; kills and resumes are exact.

One uninterrupted single-process run (in the test process, one thread, as the CLI runs) is the reference for every
comparison; every other run is a real CLI launch.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tests.train.helpers import REPO, make_shards, read_log, run_cli, run_pretrain_here, write_config

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

# Big enough that a checkpoint save takes a while (so a kill can land inside it), small enough for 2 CPU cores.
MODEL = {"hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 4, "num_attention_heads": 4}
STEPS = 10


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    shards = make_shards(root / "shards", with_special=True)
    return root, shards


def _config(root, shards, name, **train):
    train = {"steps": STEPS, **train, "checkpoint": {"every_steps": 5, "keep_last": 5, **train.get("checkpoint", {})}}
    path = write_config(root / f"{name}.yaml", root / "runs", shards, **train)
    text = path.read_text().replace("name: t", f"name: {name}")
    text = text.replace("preset: tiny-llama", "preset: tiny-llama\n  overrides: " + json.dumps(MODEL))
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def reference(setup):
    root, shards = setup
    run_pretrain_here(_config(root, shards, "ref"))
    return read_log(root / "runs" / "ref")


def _losses(log, start=1):
    return [r["loss"] for r in log if r["step"] >= start]


def test_fsdp_two_processes_match_one_process_and_export(setup, reference):
    root, shards = setup
    run_cli(["pretrain", "--config", str(_config(root, shards, "fsdp"))], nproc=2)
    log = read_log(root / "runs" / "fsdp")
    assert [r["step"] for r in log] == list(range(1, STEPS + 1))
    np.testing.assert_allclose(_losses(log), _losses(reference), rtol=1e-5)
    assert [r["data_checksum"] for r in log] == [r["data_checksum"] for r in reference]
    assert _losses(log)[-1] < _losses(log)[0]
    manifest = json.loads((root / "runs" / "fsdp" / "run.json").read_text())
    assert manifest["stages"]["pretrain"]["artifacts"]["hf"] == "checkpoints/pretrain/hf"
    hf = root / "runs" / "fsdp" / "checkpoints" / "pretrain" / "hf"
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(hf)
    assert len(tok) == model.get_input_embeddings().weight.shape[0] == 96
    assert len(tok.encode("[bib_ref]", add_special_tokens=False)) == 1


def test_fsdp_reducing_gradients_every_micro_batch_matches_one_process(setup, reference):
    """``parallel.reduce_grads: per_micro_batch`` (2 micro-batches per rank here) sums the same gradients in
    another order: the losses stay the one-process ones."""
    root, shards = setup
    config = _config(root, shards, "rs", parallel={"reduce_grads": "per_micro_batch"})
    run_cli(["pretrain", "--config", str(config), "--set", "train.steps=6", "--set", "train.schedule_steps=10"], nproc=2)
    log = read_log(root / "runs" / "rs")
    assert [r["step"] for r in log] == list(range(1, 7))
    np.testing.assert_allclose(_losses(log), _losses(reference)[:6], rtol=1e-5)


def test_tensor_parallel_two_matches_one_process(setup, reference):
    root, shards = setup
    run_cli(["pretrain", "--config", str(_config(root, shards, "tp", parallel={"tp": 2}))], nproc=2)
    log = read_log(root / "runs" / "tp")
    np.testing.assert_allclose(_losses(log), _losses(reference), rtol=1e-5)


def test_sigkill_during_a_save_then_resume_is_identical(setup, reference):
    """Kill (SIGKILL) while step 6's checkpoint is being written: step 3's still loads; resumed losses are identical."""
    root, shards = setup
    config = _config(root, shards, "kill", checkpoint={"every_steps": 3})
    ckpts = root / "runs" / "kill" / "checkpoints" / "pretrain"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "meditron", "pretrain", "--config", str(config)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = ckpts / ".step_0000006.tmp"
    deadline = time.monotonic() + 120
    try:
        while not tmp.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert tmp.exists() and not (ckpts / "step_0000006").exists(), "the kill did not land inside the save"
    assert sorted(p.name for p in ckpts.glob("step_*")) == ["step_0000003"]
    run_pretrain_here(config, resume=True)
    log = read_log(root / "runs" / "kill")
    assert [r["step"] for r in log] == list(range(1, STEPS + 1))  # re-run steps 4-6 logged once
    assert _losses(log, 4) == _losses(reference, 4)  # bit-identical, not just close
    assert not tmp.exists()


def test_resume_on_another_world_size_consumes_the_same_tokens(setup, reference):
    """The reference saved step 5 in one process; two processes continue it: same samples, same losses."""
    root, shards = setup
    config = _config(root, shards, "ws")
    src = root / "runs" / "ref" / "checkpoints" / "pretrain" / "step_0000005"
    dst = root / "runs" / "ws" / "checkpoints" / "pretrain" / "step_0000005"
    shutil.copytree(src, dst)
    run_cli(["pretrain", "--config", str(config), "--resume"], nproc=2)
    log = read_log(root / "runs" / "ws")
    assert [r["step"] for r in log] == list(range(6, STEPS + 1))
    assert [r["data_checksum"] for r in log] == [r["data_checksum"] for r in reference[5:]]
    assert [r["tokens_seen"] for r in log] == [r["tokens_seen"] for r in reference[5:]]
    np.testing.assert_allclose(_losses(log), _losses(reference, 6), rtol=1e-5)


def test_tied_qwen2_from_an_hf_dir_matches_under_fsdp(setup):
    """A tied LM head (Qwen2) must stay one parameter once sharded: 2 processes match 1 for every step."""
    import yaml
    from transformers import AutoModelForCausalLM, Qwen2Config

    root, shards = setup
    torch.manual_seed(0)
    base = Qwen2Config(
        vocab_size=84,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    AutoModelForCausalLM.from_config(base).save_pretrained(root / "qwen")
    losses = {}
    for nproc in (1, 2):
        name = f"qwen{nproc}"
        path = write_config(root / f"{name}.yaml", root / "runs", shards, steps=4)
        cfg = yaml.safe_load(path.read_text())
        cfg["name"], cfg["model"] = name, {"path": str(root / "qwen")}
        path.write_text(yaml.safe_dump(cfg))
        if nproc == 1:
            run_pretrain_here(path)
        else:
            run_cli(["pretrain", "--config", str(path)], nproc=nproc)
        losses[nproc] = _losses(read_log(root / "runs" / name))
    np.testing.assert_allclose(losses[2], losses[1], rtol=1e-5)
    hf = AutoModelForCausalLM.from_pretrained(root / "runs" / "qwen2" / "checkpoints" / "pretrain" / "hf")
    assert hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr() and hf.config.vocab_size == 96
