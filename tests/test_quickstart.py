"""The quickstart end to end on the smallest budget, checking every artifact a user relies on."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meditron.quickstart import SMALL_OVERRIDES

BENCHMARKS = ["medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical"]
MODES = ["top_token", "cot", "chat"]
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _meditron(*args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "meditron", *args], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, f"meditron {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}"
    return out


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qs") / "quickstart"
    done = _meditron("quickstart", "--out", str(out), "--small")
    (out.parent / "stderr.txt").write_text(done.stderr, encoding="utf-8")
    return out


@pytest.mark.slow
def test_interface_files(quickstart_run: Path):
    assert (quickstart_run / "run.json").is_file()
    assert (quickstart_run / "hf" / "config.json").is_file()
    assert (quickstart_run / "eval" / "results.json").is_file()
    manifest = json.loads((quickstart_run / "run.json").read_text())
    assert {"corpus", "pretrain", "finetune"} <= set(manifest["stages"])
    assert manifest["config"]["name"] == "quickstart"
    assert "torch" in manifest["versions"]
    # the stages' log lines reach the user through the CLI's logging set-up (plain lines off a terminal), in order
    err = (quickstart_run.parent / "stderr.txt").read_text(encoding="utf-8")
    marker = " INFO meditron.quickstart: stage: "
    stages = [line.split(marker)[1] for line in err.splitlines() if marker in line]
    assert stages == ["corpus", "pretrain", "finetune", "eval", "export"]
    assert f" INFO meditron.serve.export: exported {quickstart_run / 'checkpoints' / 'finetune' / 'hf'} → " in err


@pytest.mark.slow
def test_shards_are_readable(quickstart_run: Path):
    from meditron.data.shards import TokenShards

    shards = TokenShards(quickstart_run / "shards")
    assert set(shards.sources("train")) == {"guidelines", "abstracts", "papers", "replay"}
    for source in shards.sources("train"):
        tokens = shards.tokens(source, "train")
        assert len(tokens) == shards.num_tokens(source, "train") > 0
        assert int(tokens.max()) < shards.vocab_size
        assert int(tokens[-1]) == shards.eos_id  # every document ends with EOS
    report = json.loads((quickstart_run / "corpus" / "corpus_report.json").read_text())
    t = report["totals"]
    assert t["input"] == t["kept"] + t["dropped"] + t["quarantined"] > 0


@pytest.mark.slow
def test_downstream_rows_equal_meditron_eval_of_the_checkpoints(quickstart_run: Path):
    """The preset's in-training benchmark scores: rows at the configured steps (every 8 in --small, and the last),
    equal to `meditron eval --checkpoints` with the same settings (benchmarks, shots, seeds, sample)."""
    rows = [json.loads(x) for x in (quickstart_run / "logs" / "train.jsonl").read_text().splitlines() if x.strip()]
    logged = {r["step"]: r["downstream"] for r in rows if "downstream" in r}
    assert sorted(logged) == [8, 16]
    assert {k for k in logged[16] if "/" not in k} == {"medmcqa", "mmlu_medical", "average"}
    _meditron("eval", "--checkpoints", str(quickstart_run), "--data-dir", "sample:benchmarks", "--benchmarks",
              "medmcqa,mmlu_medical", "--num-fewshot", "1", "--limit", "20", "--set", "eval.seeds=[1234,432]")  # fmt: skip
    table = json.loads((quickstart_run / "eval" / "checkpoints.json").read_text())
    assert [r["step"] for r in table["rows"]] == [8, 16]
    for row in table["rows"]:
        scores = logged[row["step"]]
        assert row["average"] == scores["average"]
        for bench, cell in row["accuracy"].items():
            assert cell["mean"] == scores[bench] and cell["std"] == scores[f"{bench}/std"]
            assert cell["seeds"] == {s: scores[f"{bench}/seed{s}"] for s in ("1234", "432")}
    report = (quickstart_run / "reports" / "training.md").read_text()
    assert "## Downstream accuracy during training" in report and "| 16 |" in report


@pytest.mark.slow
def test_pretraining_loss_falls_and_checkpoint_resumes(quickstart_run: Path):
    log = quickstart_run / "logs" / "train.jsonl"
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    steps = [r["step"] for r in rows if "loss" in r]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert steps[-1] == 16
    assert losses[-1] < losses[0] - 0.5, losses
    # resume from the last checkpoint for two more steps
    base = [f"out_dir={quickstart_run.parent}", f"name={quickstart_run.name}", *SMALL_OVERRIDES]
    sets = [x for s in base + ["train.steps=18"] for x in ("--set", s)]
    _meditron("pretrain", "--config", "quickstart-cpu", *sets, "--resume")
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    new_steps = [r["step"] for r in rows if "loss" in r][len(steps) :]
    assert new_steps == [17, 18]


@pytest.mark.slow
def test_exported_model_loads_and_generates(quickstart_run: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = quickstart_run / "hf"
    model = AutoModelForCausalLM.from_pretrained(hf)
    tok = AutoTokenizer.from_pretrained(hf)
    assert len(tok) == model.get_input_embeddings().weight.shape[0]
    assert len(tok.encode("[bib_ref]", add_special_tokens=False)) == 1
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    ids = tok("The first-line treatment of", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
    assert (hf / "README.md").is_file()


@pytest.mark.slow
def test_eval_has_a_number_for_every_benchmark_and_mode(quickstart_run: Path):
    results = json.loads((quickstart_run / "eval" / "results.json").read_text())["results"]
    for bench in BENCHMARKS:
        for mode in MODES:
            acc = results[bench][mode]["accuracy"]
            assert isinstance(acc, float) and 0.0 <= acc <= 1.0 and not math.isnan(acc), (bench, mode, acc)


@pytest.mark.slow
def test_two_mixtures_from_one_corpus_run(quickstart_run: Path):
    """The corpus run built both mixtures of the preset; pretraining used the default one; the stream of either
    holds only its sources, each in its share of every 8192-sequence block (largest remainder: within one)."""
    from meditron.config import load_config
    from meditron.train.pretrain import pretrain_datasets

    shards = quickstart_run / "shards"
    tokens = {s: v["train"]["num_tokens"] for s, v in json.loads((shards / "manifest.json").read_text())["sources"].items()}
    gap = json.loads((shards / "mixtures" / "gap_replay.json").read_text())
    pmc = json.loads((shards / "mixtures" / "pmc_replay.json").read_text())
    assert sorted(gap["sources"]) == ["abstracts", "guidelines", "papers", "replay"] and gap["left_out"] == []
    assert {s: e["share"] for s, e in gap["sources"].items()} == {s: n / sum(tokens.values()) for s, n in tokens.items()}
    assert sorted(pmc["sources"]) == ["papers", "replay"] and pmc["left_out"] == ["abstracts", "guidelines"]
    assert {s: e["share"] for s, e in pmc["sources"].items()} == pytest.approx({"papers": 0.95, "replay": 0.05})
    pretrain = json.loads((quickstart_run / "run.json").read_text())["stages"]["pretrain"]["metrics"]
    assert pretrain["mixture"]["name"] == "gap_replay"
    for name, mixture in (("gap_replay", gap), ("pmc_replay", pmc)):
        cfg = load_config("quickstart-cpu", [f"train.mixture={name}", *SMALL_OVERRIDES])
        train, val, _ = pretrain_datasets(cfg, shards)
        located = [train.locate(i) for i in range(8192)]
        samples = {s: sum(1 for src, _ in located if src == s) for s in tokens}
        assert sum(samples.values()) == 8192
        for source in tokens:
            share = mixture["sources"].get(source, {}).get("share", 0.0)
            assert abs(samples[source] - share * 8192) < 1, (name, source, samples)
        src, idx = located[5]
        assert train[5]["input_ids"].tolist() == train.sources[train.names.index(src)][idx]["input_ids"].tolist()
        # validation: the mixture's sources' splits holding at least one sequence (none: no validation stream)
        sources = mixture["sources"]
        expected = {s for s in mixture["validation_sources"] if sources[s]["validation_tokens"] >= cfg.train.seq_len}
        assert (set() if val is None else {s.name for s in val.sources}) == expected
        assert name != "gap_replay" or expected  # the default mixture has validation data
