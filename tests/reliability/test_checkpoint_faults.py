"""Damaged, incomplete and crafted checkpoints: refused with the reason, or skipped for the newest one that verifies —
with the same losses as an uninterrupted run from there, and the previous checkpoint left intact.

A 6-step run (checkpoints at steps 2, 4, 6) is trained once and is the reference; each test damages a copy of it
stopped after step 4 (step 6 removed) and resumes it. Kills during training and during a save are covered in tests/train (see docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys

import pytest

from meditron.errors import CheckpointError
from meditron.train.checkpoint import list_checkpoints
from meditron.train.checkpoint_manifest import (
    MANIFEST_FILE,
    checkpoint_files,
    hash_files,
    verify_checkpoint,
    write_manifest,
)
from tests.reliability.helpers import losses, pickle_bomb, tiny_trainer
from tests.train.helpers import REPO, make_shards

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(shards, root, reference losses of 6 steps, a 4-step run's directory with step_2 and step_4)."""
    root = tmp_path_factory.mktemp("ckpt")
    shards = make_shards(root / "shards", num_docs={"a": 40, "b": 20})
    ref = tiny_trainer(shards, root, "ref")
    ref.train()
    assert [s for s, _ in list_checkpoints(ref.checkpoints.dir)] == [2, 4, 6]
    shutil.copytree(root / "ref", root / "short")  # the same run, as if it had stopped after step 4's save
    shutil.rmtree(root / "short" / "ckpt" / "step_0000006")
    return shards, root, losses(ref.log_path), root / "short"


def _copy(base, name: str):
    shards, root, _, short = base
    shutil.copytree(short, root / name)
    return root / name / "ckpt"


def _resume(base, name: str, caplog, **overrides):
    """Resume a copy; returns the summary, what the trainer logged (the resume's log records only) and the trainer."""
    shards, root, _, _ = base
    trainer = tiny_trainer(shards, root, name, **overrides)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="meditron"):
        summary = trainer.train(resume=True)
    return summary, caplog.text, trainer


@pytest.mark.parametrize("damage", ["overwrite", "truncate", "delete", "state_json"])
def test_damaged_newest_checkpoint_is_skipped_and_training_matches(base, damage, caplog):
    """Overwritten bytes inside the newest .distcp (the case that used to resume with NaN losses), a truncated or
    deleted .distcp, a broken trainer_state.json: resume names the file and why, continues from step 2, and its
    losses equal the uninterrupted run's; step 2 still verifies afterwards."""
    ckpt = _copy(base, f"dmg_{damage}")
    newest = ckpt / "step_0000004"
    distcp = newest / "__0_0.distcp"
    if damage == "overwrite":
        with open(distcp, "r+b") as f:
            f.seek(distcp.stat().st_size // 3)
            f.write(b"\xff" * 4096)
    elif damage == "truncate":
        os.truncate(distcp, distcp.stat().st_size // 2)
    elif damage == "delete":
        distcp.unlink()
    else:
        (newest / "trainer_state.json").write_text("{broken", encoding="utf-8")
    why = {"overwrite": "__0_0.distcp has different contents", "truncate": "__0_0.distcp has",
           "delete": "__0_0.distcp is missing", "state_json": "trainer_state.json has"}[damage]

    summary, err, _ = _resume(base, f"dmg_{damage}", caplog)
    assert "skipped step_0000004" in err and why in err and "resuming from step_0000002" in err
    assert summary["resumed_from"].endswith("step_0000002") and summary["steps"] == 6
    assert losses(ckpt.parent / "train.jsonl") == base[2]  # bit-identical to the uninterrupted run, steps 1-6
    assert verify_checkpoint(ckpt / "step_0000002") == []  # the previous checkpoint is intact
    assert verify_checkpoint(ckpt / "step_0000006") == []


def test_no_checkpoint_verifies_refuses_in_one_message(base, caplog):
    ckpt = _copy(base, "all_bad")
    for step in ("step_0000002", "step_0000004"):
        with open(ckpt / step / "__0_0.distcp", "r+b") as f:
            f.write(b"\x00" * 64)
    with pytest.raises(CheckpointError) as e:
        _resume(base, "all_bad", caplog)
    message = str(e.value)
    assert "no checkpoint in" in message and "step_0000004: __0_0.distcp has different contents" in message
    assert "step_0000002: __0_0.distcp has different contents" in message and "--trust-checkpoint" in message


def test_checkpoint_without_manifest_needs_the_trust_flag(base, caplog):
    """A checkpoint saved without a manifest (older meditron, another tool) is refused; --trust-checkpoint loads it
    and the run continues exactly."""
    ckpt = _copy(base, "legacy")
    for step in ("step_0000002", "step_0000004"):
        (ckpt / step / MANIFEST_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"step_0000004: no manifest.json"):
        _resume(base, "legacy", caplog)
    summary, err, _ = _resume(base, "legacy", caplog, checkpoint={"every_steps": 2, "keep_last": 3,
                                                                   "trust_unverified": True})
    assert "loading step_0000004 unverified" in err and summary["resumed_from"].endswith("step_0000004")
    assert losses(ckpt.parent / "train.jsonl") == base[2]


def test_unlisted_file_in_a_checkpoint_is_a_problem(base):
    ckpt = _copy(base, "extra")
    (ckpt / "step_0000004" / "hf_meta" / "tokenizer_extra.py").write_text("print('hi')\n")
    assert verify_checkpoint(ckpt / "step_0000004") == ["hf_meta/tokenizer_extra.py is not in the manifest"]


def _bomb_checkpoint(base, name: str, marker, *, matching_manifest: bool):
    """A one-checkpoint folder whose .metadata would create ``marker`` when unpickled; with ``matching_manifest``
    the manifest is re-written to match, as an attacker sharing a folder would."""
    ckpt = _copy(base, name)
    shutil.rmtree(ckpt / "step_0000002")
    step = ckpt / "step_0000004"
    (step / ".metadata").write_bytes(pickle_bomb(marker))
    if matching_manifest:
        write_manifest(step, hash_files(step, checkpoint_files(step)), 4)
        assert verify_checkpoint(step) == []
    return ckpt, step


def test_crafted_metadata_with_a_matching_manifest_runs_nothing(base, tmp_path, caplog):
    """The manifest proves integrity, not intent: with a matching manifest the allow-listed unpickler is what
    refuses the crafted .metadata, in export's loader and in resume, with or without --trust-checkpoint."""
    from meditron.train.hf_export import load_checkpoint_model

    marker = tmp_path / "pwned"
    ckpt, step = _bomb_checkpoint(base, "crafted", marker, matching_manifest=True)
    for trust in (False, True):
        with pytest.raises(CheckpointError, match=r"refusing to load it: it asks to run (posix|os)\.system"):
            load_checkpoint_model(step, trust=trust)
    with pytest.raises(CheckpointError, match=r"refusing to load it: it asks to run (posix|os)\.system"):
        _resume(base, "crafted", caplog)
    assert not marker.exists()


def test_trusted_resume_still_refuses_a_crafted_metadata(base, tmp_path, caplog):
    """--trust-checkpoint skips the manifest check, never the allow-list."""
    marker = tmp_path / "pwned"
    _bomb_checkpoint(base, "crafted_trusted", marker, matching_manifest=False)
    trusted = {"every_steps": 2, "keep_last": 3, "trust_unverified": True}
    with pytest.raises(CheckpointError, match=r"refusing to load it: it asks to run (posix|os)\.system"):
        _resume(base, "crafted_trusted", caplog, checkpoint=trusted)
    assert not marker.exists()


def test_cli_export_and_resume_refuse_a_pickle_bomb_metadata(base, tmp_path):
    """issue 15: `.metadata` replaced by a pickle that would create a file — `meditron export --checkpoint` (even
    with --trust-checkpoint: the allow-list refuses it) and `meditron pretrain --resume` (the manifest refuses it)
    exit 2 with one message and the file is not created."""
    import yaml

    from tests.train.helpers import write_config

    shards = base[0]
    marker = tmp_path / "pwned"
    run_root = tmp_path / "runs"
    config = write_config(tmp_path / "run.yaml", run_root, shards, steps=6, eval_every=100,
                          checkpoint={"every_steps": 2, "keep_last": 3})
    cfg = yaml.safe_load(config.read_text())
    ckpt_dir = run_root / cfg["name"] / "checkpoints" / "pretrain"
    ckpt, step = _bomb_checkpoint(base, "cli_bomb", marker, matching_manifest=False)
    shutil.copytree(ckpt, ckpt_dir)

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {  # the --trust-checkpoint variants run in-process above (each CLI launch costs ~20 s on 2 cores)
        "export-trusted": ["export", "--checkpoint", str(step), "--out", str(tmp_path / "hf"), "--trust-checkpoint"],
        "resume": ["pretrain", "--config", str(config), "--resume"],
    }
    for name, args in runs.items():
        r = subprocess.run([sys.executable, "-m", "meditron", *args], capture_output=True, text=True, env=env,
                           timeout=240, cwd=REPO)
        assert r.returncode == 2, (name, r.stderr[-2000:])
        assert "Traceback" not in r.stderr, (name, r.stderr[-2000:])
        if name.endswith("trusted"):
            assert "refusing to load it: it asks to run" in r.stderr, (name, r.stderr[-2000:])
        else:
            assert "step_0000004/.metadata" in r.stderr or ".metadata has" in r.stderr, (name, r.stderr[-2000:])
        assert not marker.exists(), name
    assert not (tmp_path / "hf").exists()
    assert json.loads((step / "trainer_state.json").read_text())["step"] == 4  # nothing was overwritten


def test_kill_during_manifest_write_leaves_the_previous_checkpoint(base, tmp_path):
    """SIGKILL after the DCP files of step 4 are written but before its manifest: the .tmp folder is ignored,
    resume continues from step 2 with the reference losses (the real kill-during-save runs in tests/train)."""
    shards, root, reference, _ = base
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(REPO)!r})
import meditron.train.checkpoint_manifest as m
from tests.reliability.helpers import tiny_trainer
from pathlib import Path
real = m.write_manifest
def write_then_die(root, files, step):
    if step == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(root, files, step)
m.write_manifest = write_then_die
tiny_trainer(Path({str(shards)!r}), Path({str(tmp_path)!r}), "killed").train()
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    ckpt = tmp_path / "killed" / "ckpt"
    assert (ckpt / ".step_0000004.tmp" / "__0_0.distcp").exists() and not (ckpt / "step_0000004").exists()
    trainer = tiny_trainer(shards, tmp_path, "killed")
    summary = trainer.train(resume=True)
    assert summary["resumed_from"].endswith("step_0000002")
    assert losses(ckpt.parent / "train.jsonl") == reference
    assert not (ckpt / ".step_0000004.tmp").exists()
