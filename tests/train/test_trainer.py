"""The Trainer in one process: loss normalisation, non-finite steps, export round trip, packing mask, checkpoints."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from meditron.data.blend import build_pretrain_datasets
from meditron.errors import CheckpointError
from meditron.train.checkpoint import find_latest_checkpoint, list_checkpoints, read_trainer_state
from meditron.train.config import ModelConfig, TrainConfig
from meditron.train.hf_export import consolidate_checkpoint
from meditron.train.model import load_full_model
from meditron.train.trainer import Trainer, TrainingDiverged, packed_causal_mask
from tests.train.helpers import make_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return make_shards(tmp_path_factory.mktemp("shards"), num_docs={"a": 40, "b": 20}, with_special=True)


def _trainer(shards, tmp_path, name: str, **overrides) -> Trainer:
    tok = AutoTokenizer.from_pretrained(shards / "tokenizer")
    fields = dict(
        steps=4,
        seq_len=32,
        global_batch_size=4,
        micro_batch_size=1,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=1,
        eval_every=2,
        eval_batches=1,
        tensorboard=False,
        prefetch=1,
        checkpoint={"every_steps": 2, "keep_last": 1},
    )
    fields.update(overrides)
    cfg = TrainConfig.model_validate(fields)
    train, val, _ = build_pretrain_datasets(shards, cfg.seq_len, seed=11)
    return Trainer(
        model_factory=lambda: load_full_model(ModelConfig(preset="tiny-llama"), tok, seed=3),
        tokenizer=tok,
        train_data=train,
        val_data=val,
        cfg=cfg,
        seed=1234,
        checkpoint_dir=tmp_path / name / "ckpt",
        log_path=tmp_path / name / "train.jsonl",
    )


def _log(trainer: Trainer) -> list[dict]:
    return [json.loads(x) for x in trainer.log_path.read_text().splitlines()]


def test_accumulation_gives_the_same_losses_and_export_round_trips(shards, tmp_path):
    accumulated = _trainer(shards, tmp_path, "acc", micro_batch_size=1)  # 4 micro-batches per step
    single = _trainer(shards, tmp_path, "one", micro_batch_size=4, tensorboard=True)  # 1 micro-batch of 4
    sa, sb = accumulated.train(), single.train()
    la, lb = [r["loss"] for r in _log(accumulated)], [r["loss"] for r in _log(single)]
    assert len(la) == 4 and la[-1] < la[0]
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    assert [r["data_checksum"] for r in _log(accumulated)] == [r["data_checksum"] for r in _log(single)]
    assert sa["tokens_seen"] == 4 * 4 * 32 and sa["stopped"] == "completed" and sa["nonfinite_steps"] == 0
    assert list((tmp_path / "one" / "tb_train").glob("events.out.tfevents.*"))
    assert isinstance(sb["val_loss"], float) and {"lr", "grad_norm", "tokens_per_s", "val_loss"} <= set(
        _log(single)[1]
    )

    # keep_last=1: only the final checkpoint stays; it is complete and holds the data position
    assert [s for s, _ in list_checkpoints(single.checkpoints.dir)] == [4]
    state, data = read_trainer_state(sb["checkpoint"])
    assert state.step == 4 and state.tokens_seen == 512 and data["scheduler"]["last_epoch"] == 4

    out = consolidate_checkpoint(single.checkpoints.dir, tmp_path / "hf")
    exported = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(out)
    ids = torch.tensor([tok.encode("w1 w2 w3 [bib_ref] w4 w5 [/bib_ref] w6", add_special_tokens=False)])
    with torch.no_grad():
        diff = (exported(ids).logits - single.model.eval()(ids).logits).abs().max().item()
    assert diff <= 1e-5
    assert len(tok) == exported.get_input_embeddings().weight.shape[0] == exported.config.vocab_size == 96
    assert len(tok.encode("[bib_ref]", add_special_tokens=False)) == 1
    assert (out / "model.safetensors").exists() and (out / "generation_config.json").exists()


def test_nonfinite_steps_are_skipped_counted_and_stop_the_run(shards, tmp_path):
    trainer = _trainer(shards, tmp_path, "nan", steps=10, max_nonfinite_in_a_row=3, checkpoint={"every_steps": 100})
    trainer.setup()
    poisoned = {1, 3, 4, 5}  # 0-based step indices whose loss becomes NaN

    def poison(module, args, output):
        return output * float("nan") if trainer.state.step in poisoned else output

    trainer.model.lm_head.register_forward_hook(poison)
    before = trainer.model.lm_head.weight.detach().clone()
    with pytest.raises(TrainingDiverged, match=r"3 steps in a row .*steps 4\.\.6"):
        trainer.train()
    log = _log(trainer)
    assert [r["step"] for r in log if r.get("skipped")] == [2, 4, 5, 6]
    assert trainer.state.nonfinite_total == 4 and trainer.state.step == 6
    assert all(np.isfinite(r["loss"]) for r in log if not r.get("skipped"))
    assert log[1]["loss"] == "nan"  # JSON-safe
    assert torch.isfinite(trainer.model.lm_head.weight).all() and not torch.equal(before, trainer.model.lm_head.weight)


def test_packed_mask_keeps_examples_apart(shards, tmp_path):
    tok = AutoTokenizer.from_pretrained(shards / "tokenizer")
    model = load_full_model(ModelConfig(preset="tiny-llama"), tok, seed=0).eval()
    a, b = [5, 6, 7, 8, 9], [20, 21, 22]
    packed = torch.tensor([a + b])
    mask = packed_causal_mask(torch.tensor([[0] * 5 + [1] * 3]))
    assert mask.shape == (1, 1, 8, 8) and not mask[0, 0, 5, 4] and mask[0, 0, 7, 5] and not mask[0, 0, 2, 3]
    with torch.no_grad():
        out = model(packed, attention_mask=mask, position_ids=torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2]])).logits
        alone_a, alone_b = model(torch.tensor([a])).logits, model(torch.tensor([b])).logits
    assert (out[0, :5] - alone_a[0]).abs().max() <= 1e-5
    assert (out[0, 5:] - alone_b[0]).abs().max() <= 1e-5


def test_incomplete_checkpoints_are_never_picked(shards, tmp_path):
    trainer = _trainer(shards, tmp_path, "ck", steps=2, checkpoint={"every_steps": 1, "keep_last": 3})
    trainer.train()
    ckdir = trainer.checkpoints.dir
    assert [s for s, _ in list_checkpoints(ckdir)] == [1, 2]
    # a save killed half-way leaves a temp dir (here: a copy of step 2 without its state file)
    partial = ckdir / ".step_0000003.tmp"
    shutil.copytree(ckdir / "step_0000002", partial)
    (partial / "trainer_state.json").unlink()
    assert find_latest_checkpoint(ckdir) == ckdir / "step_0000002"
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        trainer.checkpoints.load(partial, trainer.model, trainer.optimizer, trainer.scheduler)
    resumed = _trainer(shards, tmp_path, "ck", steps=3, checkpoint={"every_steps": 1, "keep_last": 3})
    summary = resumed.train(resume=True)
    assert summary["resumed_from"].endswith("step_0000002") and summary["steps"] == 3
    assert not partial.exists()  # the next save cleaned the leftover
    assert [r["step"] for r in _log(resumed)] == [1, 2, 3]


def test_sigusr1_checkpoints_and_stops_then_resume_finishes(shards, tmp_path):
    """Slurm preemption: the signal lands mid-step; the step finishes, a checkpoint is written, the run stops."""
    import os
    import signal

    trainer = _trainer(shards, tmp_path, "sig", steps=6, eval_every=100, checkpoint={"every_steps": 100})
    trainer.setup()

    def preempt(module, args, output):
        if trainer.state.step == 2:
            os.kill(os.getpid(), signal.SIGUSR1)
        return output

    trainer.model.lm_head.register_forward_hook(preempt)
    summary = trainer.train()
    assert summary["stopped"] == "signal SIGUSR1" and summary["steps"] == 3
    assert summary["checkpoint"].endswith("step_0000003")
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # handlers restored
    resumed = _trainer(shards, tmp_path, "sig", steps=6, eval_every=100, checkpoint={"every_steps": 100})
    assert resumed.train(resume=True)["steps"] == 6
    uninterrupted = _trainer(shards, tmp_path, "sig_ref", steps=6, eval_every=100, checkpoint={"every_steps": 100})
    uninterrupted.train()
    assert [r["loss"] for r in _log(resumed)] == [r["loss"] for r in _log(uninterrupted)]


def test_activation_checkpointing_gives_the_same_losses(shards, tmp_path):
    plain = _trainer(shards, tmp_path, "ac0", steps=2, checkpoint={"every_steps": 100})
    checkpointed = _trainer(
        shards, tmp_path, "ac1", steps=2, checkpoint={"every_steps": 100}, parallel={"activation_checkpointing": True}
    )
    plain.train()
    checkpointed.train()
    np.testing.assert_allclose([r["loss"] for r in _log(checkpointed)], [r["loss"] for r in _log(plain)], rtol=1e-6)


def test_variable_length_samples_are_padded_without_changing_the_loss(shards, tmp_path):
    """SFT-style samples of different lengths: right-padding inside a micro-batch leaves the loss unchanged."""
    rng = np.random.default_rng(0)
    samples = []
    for n in rng.integers(6, 30, size=16):
        ids = rng.integers(4, 80, size=int(n))
        labels = ids.copy()
        labels[: int(n) // 2] = -100  # prompt tokens carry no loss
        samples.append({"input_ids": ids, "labels": labels})
    logs = []
    for micro in (1, 4):
        trainer = _trainer(shards, tmp_path, f"var{micro}", steps=3, micro_batch_size=micro, eval_every=100)
        trainer.train_data, trainer.val_data = samples, None
        trainer.train()
        logs.append([r["loss"] for r in _log(trainer)])
    np.testing.assert_allclose(logs[1], logs[0], rtol=1e-5)


def test_fused_head_loss_gives_the_logits_path_losses(shards, tmp_path):
    """train.parallel.fused_lm_head_loss on and off: the same training and validation losses, pretraining and SFT."""
    logs = {}
    for fused in (True, False):
        trainer = _trainer(shards, tmp_path, f"fused{fused}", steps=3, parallel={"fused_lm_head_loss": fused})
        assert (trainer.train()["steps"], trainer.fused_head is not None) == (3, fused)
        logs[fused] = _log(trainer)
    for key in ("loss", "grad_norm"):
        np.testing.assert_allclose([r[key] for r in logs[True]], [r[key] for r in logs[False]], rtol=1e-5)
    assert logs[True][-1]["val_loss"] == pytest.approx(logs[False][-1]["val_loss"], rel=1e-6)

    rng = np.random.default_rng(1)
    samples = []
    for n in rng.integers(6, 30, size=8):
        ids = rng.integers(4, 80, size=int(n))
        labels = ids.copy()
        labels[: int(n) * 2 // 3] = -100
        samples.append({"input_ids": ids, "labels": labels})
    sft = {}
    for fused in (True, False):
        trainer = _trainer(
            shards,
            tmp_path,
            f"sft{fused}",
            steps=2,
            micro_batch_size=4,
            eval_every=100,
            parallel={"fused_lm_head_loss": fused},
        )
        trainer.train_data, trainer.val_data = samples, None
        trainer.train()
        sft[fused] = [r["loss"] for r in _log(trainer)]
    np.testing.assert_allclose(sft[True], sft[False], rtol=1e-5)
