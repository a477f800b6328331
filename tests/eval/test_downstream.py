"""``train.downstream_eval``: the evaluation stage's top-token scores of the live model, logged while pretraining runs;
equal to ``meditron eval`` on the saved checkpoints (directly and via ``meditron eval --checkpoints``), identical
under FSDP2 on two processes, and drawn in the training report."""

from __future__ import annotations

import json

import pytest

from meditron.config import load_config
from meditron.errors import ConfigError
from meditron.eval.downstream import eval_config
from meditron.run import RunDir
from tests.eval.downstream_run import (
    BENCHMARKS,
    EVERY,
    STEPS,
    make_guesser_model,
    make_qa_shards,
    pretrain_here,
    write_run_config,
)


def _rows(run: RunDir) -> list[dict]:
    return [json.loads(x) for x in run.stage_log("pretrain").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 6-step continued pretraining with downstream evaluation and a checkpoint every 3 steps."""
    root = tmp_path_factory.mktemp("downstream")
    shards = make_qa_shards(root / "shards")
    model = make_guesser_model(root / "model", shards)
    config = write_run_config(root / "ref.yaml", root / "runs", shards, model, "ref")
    pretrain_here(config)
    cfg = load_config(config)
    return root, shards, model, cfg, RunDir.from_config(cfg)


def _seed_scores(scores: dict, bench: str) -> dict[str, float]:
    prefix = f"{bench}/seed"
    return {k[len(prefix) :]: v for k, v in scores.items() if k.startswith(prefix)}


def test_rows_at_the_configured_steps_equal_meditron_eval_of_the_checkpoint(trained, tmp_path):
    from meditron.eval.run import run_eval

    _, _, _, cfg, run = trained
    rows = [r for r in _rows(run) if "downstream" in r]
    assert [r["step"] for r in rows] == list(range(EVERY, STEPS + 1, EVERY))
    last = rows[-1]["downstream"]
    assert set(last) == {"average"} | {f"{b}{s}" for b in BENCHMARKS for s in ("", "/std", "/seed1234", "/seed432")}
    assert any(v > 0 for r in rows for v in r["downstream"].values())  # not a 0 = 0 comparison
    # `meditron eval` on the HF export of the last checkpoint, with the section's settings
    doc = run_eval(eval_config(cfg.train.downstream_eval, model=run.stage_hf("pretrain"), out=tmp_path / "eval"))
    for bench in BENCHMARKS:
        result = doc["results"][bench]["top_token"]
        assert result["accuracy"] == last[bench]
        assert result["std"] == last[f"{bench}/std"]
        assert {seed: s["accuracy"] for seed, s in result["seeds"].items()} == _seed_scores(last, bench)
        assert result["n"] == doc["data"][bench]["n_items"] == 20
    assert last["average"] == round(sum(last[b] for b in BENCHMARKS) / len(BENCHMARKS), 6)


def test_eval_checkpoints_writes_table6_equal_to_the_logged_rows(trained):
    from meditron.eval.checkpoints import run_checkpoint_evals

    _, _, _, cfg, run = trained
    logged = {r["step"]: r for r in _rows(run) if "downstream" in r}
    table = run_checkpoint_evals(eval_config(cfg.train.downstream_eval), run)
    assert [row["step"] for row in table["rows"]] == [3, 6]
    for row in table["rows"]:
        scores = logged[row["step"]]["downstream"]
        assert row["tokens"] == logged[row["step"]]["tokens_seen"] == row["step"] * 8 * 128
        assert row["average"] == scores["average"]
        for bench in BENCHMARKS:
            cell = row["accuracy"][bench]
            assert (cell["mean"], cell["std"], cell["seeds"]) == (
                scores[bench], scores[f"{bench}/std"], _seed_scores(scores, bench)
            )
    assert json.loads(run.eval_checkpoints_table.read_text()) == table
    md = run.eval_checkpoints_table.with_suffix(".md").read_text()
    assert "| iteration | tokens | medqa4 | pubmedqa | Avg |" in md
    assert "| 3 | 3.07K |" in md and "| 6 | 6.14K |" in md
    assert (run.eval_checkpoints / "step_0000003" / "results.json").is_file()


def test_training_report_reads_the_logged_rows(trained):
    _, _, _, _, run = trained
    rows = _rows(run)
    text = run.training_report.read_text()
    assert f"Train loss {rows[0]['loss']:.4f} at step 1 → {rows[-1]['loss']:.4f} at step {STEPS}" in text
    last = rows[-1]["downstream"]
    cells = " | ".join(f"{100 * last[b]:.1f}±{100 * last[f'{b}/std']:.2f}" for b in BENCHMARKS)
    assert f"| {STEPS} | 6.14K | {cells} | {100 * last['average']:.1f} |" in text
    for png in ("training_loss.png", "training_downstream.png"):
        assert (run.reports / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in text


def test_evaluating_does_not_change_training(trained):
    root, shards, model, _, run = trained
    config = write_run_config(root / "off.yaml", root / "runs", shards, model, "off")
    pretrain_here(config, ["train.downstream_eval.enabled=false"], downstream=False)
    off = _rows(RunDir(root / "runs" / "off"))
    on = _rows(run)
    assert all("downstream" not in r for r in off)
    for key in ("loss", "lr", "grad_norm", "data_checksum"):
        assert [r[key] for r in off] == [r[key] for r in on], key
    assert [r.get("val_loss") for r in off] == [r.get("val_loss") for r in on]


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="downstream_eval.enabled needs downstream_eval.data_dir"):
        load_config(None, ["train.downstream_eval.enabled=true"])
    with pytest.raises(ConfigError, match=r"unknown benchmark\(s\) \['medqa'\]"):
        load_config(None, ["train.downstream_eval.benchmarks=[medqa]"])
    with pytest.raises(ConfigError, match="finetune.downstream_eval is not available"):
        load_config(None, ["finetune.downstream_eval.enabled=true", "finetune.downstream_eval.data_dir=x"])
    with pytest.raises(ConfigError, match="mode"):
        load_config(None, ["train.downstream_eval.mode=cot"])
    with pytest.raises(ConfigError, match=r"cannot run under pipeline parallelism \(train.parallel.pp=2\)"):
        load_config(None, ["train.downstream_eval.enabled=true", "train.downstream_eval.data_dir=x",
                           "train.parallel.pp=2"])


def test_enabled_without_an_evaluator_is_refused(trained):
    from meditron.train.pretrain import run_pretrain

    _, _, _, cfg, run = trained
    with pytest.raises(ConfigError, match="train.downstream_eval.enabled needs an evaluator"):
        run_pretrain(cfg, run, resume=False)


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.parametrize("parallel", [{}, {"tp": 2}], ids=["fsdp2", "tp2"])
def test_two_processes_log_the_same_numbers(trained, parallel):
    """`torchrun --nproc-per-node 2 -m meditron pretrain` (gloo): FSDP2 over 2 ranks, or TP 2; each rank evaluates
    its shard of the live model in lockstep; the logged accuracies equal the one-process run's exactly."""
    from tests.train.helpers import run_cli

    root, shards, model, _, run = trained
    name = "tp" if parallel else "fsdp"
    config = write_run_config(root / f"{name}.yaml", root / "runs", shards, model, name, parallel=parallel)
    run_cli(["pretrain", "--config", str(config)], nproc=2)
    two = [r for r in _rows(RunDir(root / "runs" / name)) if "downstream" in r]
    ref = [r for r in _rows(run) if "downstream" in r]
    assert [r["step"] for r in two] == [r["step"] for r in ref] == [3, 6]
    assert [r["downstream"] for r in two] == [r["downstream"] for r in ref]
    assert [r["data_checksum"] for r in two] == [r["data_checksum"] for r in ref]


def test_downstream_scores_reach_tensorboard(tmp_path):
    """The nested ``downstream`` record is flattened for the dashboards: ``downstream/<bench>`` scalars."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from meditron.train.metrics import MetricsLogger

    logger = MetricsLogger(tmp_path / "train.jsonl", tensorboard_dir=tmp_path / "tb")
    logger.log(3, {"loss": 2.5, "downstream": {"medqa4": 0.25, "medqa4/seed1234": 0.5, "average": 0.25}}, echo=False)
    logger.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"loss", "downstream/medqa4", "downstream/medqa4/seed1234", "downstream/average"} <= set(
        events.Tags()["scalars"]
    )
    assert [(e.step, e.value) for e in events.Scalars("downstream/medqa4/seed1234")] == [(3, 0.5)]
    assert json.loads((tmp_path / "train.jsonl").read_text())["downstream"]["medqa4"] == 0.25
