"""``meditron pretrain --mixture NAME`` end to end on a tiny Llama: the mixture is recorded in the stage and in every
checkpoint, and resuming on another mixture (or none) is refused before training, naming both."""

from __future__ import annotations

import json

import pytest

from meditron.corpus.mixtures import write_mixtures
from meditron.errors import ConfigError
from tests.train.helpers import make_shards, read_log, run_cli, run_pretrain_here, write_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    shards = make_shards(root / "shards", num_docs={"a": 120, "b": 60, "c": 40})
    write_mixtures(shards, {"ab": {"a": 0.75, "b": 0.25}, "ac": {"a": "1x", "c": "1x"}})
    config = write_config(root / "run.yaml", root / "runs", shards, steps=2, mixture="ab",
                          checkpoint={"every_steps": 2})  # fmt: skip
    summary = run_pretrain_here(config)
    return root, shards, config, summary


def test_the_mixture_is_recorded(trained):
    root, shards, _, summary = trained
    mix = summary["mixture"]
    assert mix["name"] == "ab" and mix["kind"] == "weights" and mix["manifest"] == str(shards / "mixtures/ab.json")
    assert mix["shares"] == summary["sources"] == {"a": 6144 / 8192, "b": 2048 / 8192}
    assert mix["train_tokens"] == 2 * 4 * 32
    stage = json.loads((root / "runs" / "t" / "run.json").read_text())["stages"]["pretrain"]
    assert stage["metrics"]["mixture"]["name"] == "ab"
    saved = json.loads((root / "runs/t/checkpoints/pretrain/step_0000002/run_config.json").read_text())
    assert saved["train"]["mixture"] == "ab" and saved["data_blend"] == {"mixture": "ab", "shares": mix["shares"]}


def test_resume_on_another_mixture_is_refused(trained):
    root, _, config, _ = trained
    ckpt = root / "runs/t/checkpoints/pretrain/step_0000002"
    proc = run_cli(["pretrain", "--config", str(config), "--mixture", "ac", "--resume"], check=False)
    assert proc.returncode != 0
    assert (f"--resume: {ckpt} was trained on mixture 'ab', this run asks for mixture 'ac'; resume with --mixture ab "
            "or start a new run") in proc.stderr
    with pytest.raises(ConfigError, match="was trained on mixture 'ab', this run asks for no mixture"):
        run_pretrain_here(write_config(root / "none.yaml", root / "runs", root / "shards", steps=3,
                                       checkpoint={"every_steps": 2}), resume=True)  # fmt: skip
    # the same mixture resumes
    again = write_config(root / "again.yaml", root / "runs", root / "shards", steps=3, mixture="ab",
                         checkpoint={"every_steps": 2})  # fmt: skip
    summary = run_pretrain_here(again, resume=True)
    assert summary["mixture"]["name"] == "ab"
    assert [r["step"] for r in read_log(root / "runs/t") if "loss" in r] == [1, 2, 3]
