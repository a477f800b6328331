"""``train.schedule_steps``: the LR schedule's horizon apart from the steps trained (paper Table 11), kept on resume."""

from __future__ import annotations

import json
import logging
import math
import shutil

import pytest

from meditron.config import load_config
from meditron.errors import ConfigError
from meditron.run import RunDir
from meditron.train.schedule import lr_at
from tests.train.helpers import make_shards, write_config

STEPS, WARMUP, LR, MIN_LR = 6, 2, 3e-3, 3e-4


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return make_shards(tmp_path_factory.mktemp("sched_shards"), num_docs={"a": 40, "b": 20})


def _config(tmp_path, shards, name: str):
    path = write_config(tmp_path / f"{name}.yaml", tmp_path / "runs", shards, steps=STEPS, warmup_steps=WARMUP,
                        lr=LR, min_lr=MIN_LR, checkpoint={"every_steps": 3, "keep_last": 5})  # fmt: skip
    path.write_text(path.read_text().replace("name: t", f"name: {name}"))
    return path


def _pretrain(config, overrides=(), resume=False) -> list[dict]:
    """``meditron pretrain --config CONFIG --set ...`` in this process; the run's train.jsonl rows."""
    import torch

    from meditron.train.pretrain import run_pretrain

    cfg = load_config(config, list(overrides))
    run = RunDir.from_config(cfg)
    run.start(cfg, "pretrain")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_pretrain(cfg, run, resume=resume)
    finally:
        torch.set_num_threads(threads)
    return [json.loads(x) for x in (run.logs / "train.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(shards, tmp_path_factory):
    """The same run twice: the schedule ending with the run, and `--set train.schedule_steps=12` (2x the steps)."""
    tmp = tmp_path_factory.mktemp("sched")
    default = _pretrain(_config(tmp, shards, "default"))
    config = _config(tmp, shards, "long")
    return tmp, config, default, _pretrain(config, ["train.schedule_steps=12"])


def test_last_step_lr_is_pinned_for_both_horizons(runs):
    _, _, default, long = runs
    # step 6 logs the LR of optimiser step 5 (0-based): the end of a 6-step cosine is min_lr exactly ...
    assert default[-1]["step"] == STEPS and default[-1]["lr"] == pytest.approx(3e-4, rel=1e-12)
    # ... and with a 12-step horizon it is 3e-4 + 2.7e-3 * (1 + cos(pi * 3/9)) / 2 = 2.325e-3 (paper: a higher end LR)
    assert long[-1]["lr"] == pytest.approx(MIN_LR + (LR - MIN_LR) * 0.5 * (1 + math.cos(math.pi * 3 / 9)), rel=1e-12)
    assert long[-1]["lr"] == pytest.approx(2.325e-3, rel=1e-12)
    expected = [lr_at(s, lr=LR, min_lr=MIN_LR, warmup_steps=WARMUP, total_steps=12) for s in range(STEPS)]
    assert [r["lr"] for r in long] == pytest.approx(expected, rel=1e-12)


def test_the_horizon_changes_only_the_lr_curve(runs):
    _, _, default, long = runs
    assert [r["data_checksum"] for r in long] == [r["data_checksum"] for r in default]  # same data order
    assert long[0]["loss"] == default[0]["loss"]  # step 1 runs before any update: the same model and batch
    assert [r["lr"] for r in long[:WARMUP + 1]] == [r["lr"] for r in default[:WARMUP + 1]]  # same warmup and peak
    assert all(a["lr"] > b["lr"] for a, b in zip(long[WARMUP + 1 :], default[WARMUP + 1 :], strict=True))
    assert long[1]["loss"] == default[1]["loss"]  # step 2 follows step 1's update at the same (warmup) LR
    assert long[-1]["loss"] != default[-1]["loss"]


def test_resume_keeps_the_checkpoints_horizon(runs, caplog):
    tmp, config, _, long = runs
    ckpts = tmp / "runs" / "long" / "checkpoints" / "pretrain"
    shutil.rmtree(ckpts / "step_0000006")  # as if the run had stopped after step 3's checkpoint
    # an explicit schedule_steps other than the checkpoint's would make the LR jump: refused, naming both
    with pytest.raises(ConfigError, match=r"train.schedule_steps=8 but the checkpoint was trained on a schedule of 12"):
        _pretrain(config, ["train.schedule_steps=8"], resume=True)
    # without schedule_steps the config's horizon would be the 6 steps; the checkpoint's 12 are kept instead
    with caplog.at_level(logging.WARNING, logger="meditron"):
        resumed = _pretrain(config, [], resume=True)
    assert "resume keeps the checkpoint's learning-rate schedule of 12 steps" in caplog.text
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))
    assert [r["lr"] for r in resumed] == [r["lr"] for r in long]
    assert [r["loss"] for r in resumed[3:]] == [r["loss"] for r in long[3:]]  # exact resume


def test_a_horizon_shorter_than_the_run_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"train.schedule_steps=50 is below the 100 steps trained.*min_lr for the "
                       r"last 50 steps"):  # fmt: skip
        load_config(None, ["train.steps=100", "train.schedule_steps=50"])
    assert load_config(None, ["train.steps=100", "train.schedule_steps=100"]).train.schedule_steps == 100


@pytest.mark.parametrize(("preset", "steps", "end_lr"), [("meditron-7b", 15000, 1.801232679580066e-4),
                                                          ("meditron-70b", 23000, 8.731790777907293e-05)])  # fmt: skip
def test_paper_presets_use_a_two_epoch_horizon(preset, steps, end_lr):
    t = load_config(preset).train
    assert t.steps == steps and t.schedule_steps == 2 * steps
    last = lr_at(steps - 1, lr=t.lr, min_lr=t.min_lr, warmup_steps=t.warmup_steps, total_steps=t.schedule_steps)
    assert last == pytest.approx(end_lr, rel=1e-12)
    assert lr_at(steps - 1, lr=t.lr, min_lr=t.min_lr, warmup_steps=t.warmup_steps, total_steps=steps) == t.min_lr
