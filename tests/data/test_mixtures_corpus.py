"""Mixtures from one corpus run: ``corpus run`` writes a manifest per ``corpus.mixtures`` entry; after editing them,
``corpus run`` again or ``corpus mixtures`` rewrites only the manifests (no stage runs again: the shards, the shard
manifest and the ledger keep their bytes and times)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from meditron.cli import app
from meditron.config import load_config
from meditron.corpus.pipeline import run_corpus
from meditron.run import RunDir
from tests.corpus.pipeline_fixtures import train_tokenizer, write_benchmarks, write_config, write_corpus

FIRST = {"all": {"guidelines": "1x", "abstracts": "1x", "replay": "1x"}, "med": {"guidelines": 0.5, "abstracts": 0.5}}
EDITED = {"all": {"guidelines": "2x", "abstracts": "1x", "replay": "1x"}, "replay_only": {"replay": 1.0}}


def _files(run_dir: RunDir) -> dict[str, tuple[int, bytes]]:
    """Every file the corpus stage wrote outside the mixtures folder: (modification time, bytes)."""
    out = {}
    for root in (run_dir.shards, run_dir.corpus):
        for p in sorted(root.rglob("*")):
            rel = str(p.relative_to(run_dir.root))
            if p.is_file() and "/mixtures/" not in f"/{rel}" and "/logs/" not in rel:
                out[rel] = (p.stat().st_mtime_ns, p.read_bytes())
    return out


def _edit(config: Path, mixtures: dict) -> None:
    data = yaml.safe_load(config.read_text())
    data["corpus"]["mixtures"] = mixtures
    config.write_text(yaml.safe_dump(data))


@pytest.mark.slow
def test_mixtures_follow_the_config_without_rerunning_the_corpus(tmp_path):
    write_corpus(tmp_path / "data", num_guidelines=16, num_abstracts=12, num_replay=20)
    tok = train_tokenizer(tmp_path / "tok" / "tokenizer.json")
    config = write_config(tmp_path / "data", tmp_path / "runA", tok, write_benchmarks(tmp_path / "bench"),
                          mixtures=FIRST)  # fmt: skip
    cfg = load_config(config)
    run_dir = RunDir.from_config(cfg).create()
    run_corpus(cfg, run_dir)
    manifest = json.loads(run_dir.shards_manifest.read_text())
    tokens = {s: manifest["sources"][s]["train"]["num_tokens"] for s in ("guidelines", "abstracts", "replay")}
    folder = run_dir.shards / "mixtures"
    assert sorted(p.name for p in folder.iterdir()) == ["all.json", "med.json"]
    everything = json.loads((folder / "all.json").read_text())
    assert everything["total_tokens"] == sum(tokens.values()) and everything["left_out"] == []
    assert {s: e["share"] for s, e in everything["sources"].items()} == {
        s: n / sum(tokens.values()) for s, n in tokens.items()}  # fmt: skip
    assert json.loads((folder / "med.json").read_text())["left_out"] == ["replay"]
    before = _files(run_dir)

    _edit(config, EDITED)  # corpus run again: every stage is done, only the mixtures stage runs
    run_corpus(load_config(config), run_dir)
    assert _files(run_dir) == before
    assert sorted(p.name for p in folder.iterdir()) == ["all.json", "replay_only.json"]
    doubled = json.loads((folder / "all.json").read_text())["sources"]["guidelines"]
    assert doubled["budget_tokens"] == 2 * tokens["guidelines"] and doubled["epochs"] == 2.0

    _edit(config, FIRST)  # and back, through `meditron corpus mixtures`
    result = CliRunner().invoke(app, ["corpus", "mixtures", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"all\t{folder / 'all.json'}", f"med\t{folder / 'med.json'}"]
    assert json.loads((folder / "all.json").read_text())["spec"] == FIRST["all"]
    assert sorted(p.name for p in folder.iterdir()) == ["all.json", "med.json"] and _files(run_dir) == before
