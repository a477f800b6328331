"""The run directory manifest records config, versions, seeds, input hashes and artifacts."""

from __future__ import annotations

import hashlib
import json

from meditron.config import load_config
from meditron.run import RunDir


def test_manifest_records_stages_and_hashes(tmp_path):
    cfg = load_config("quickstart-cpu", [f"out_dir={tmp_path}", "name=r1"])
    run = RunDir.from_config(cfg)
    assert run.root == tmp_path / "r1"
    run.start(cfg, "corpus")
    data = tmp_path / "input.txt"
    data.write_bytes(b"hello")
    (run.root / "shards").mkdir()
    run.record_stage("corpus", {"shards": run.shards}, metrics={"kept": 3}, inputs=[data])
    m = json.loads(run.manifest_path.read_text())
    assert m["name"] == "r1" and m["seed"] == 1234
    assert m["config"]["train"]["lr"] == cfg.train.lr
    assert {"torch", "transformers", "meditron"} <= set(m["versions"])
    assert m["inputs"][str(data)] == hashlib.sha256(b"hello").hexdigest()
    assert m["stages"]["corpus"]["artifacts"] == {"shards": "shards"}
    assert m["stages"]["corpus"]["metrics"] == {"kept": 3}
    # a second stage keeps the first
    run.record_stage("pretrain", {"checkpoint": run.checkpoints / "pretrain"})
    m = json.loads(run.manifest_path.read_text())
    assert set(m["stages"]) == {"corpus", "pretrain"}
    assert m["stages"]["pretrain"]["artifacts"]["checkpoint"] == "checkpoints/pretrain"


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    cfg = load_config(None, [f"out_dir={tmp_path}", "name=r2"])
    monkeypatch.setenv("RANK", "1")
    run = RunDir.from_config(cfg)
    run.start(cfg, "pretrain")
    assert not run.manifest_path.exists()
