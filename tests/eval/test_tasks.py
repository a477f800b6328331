"""The lm-eval task YAMLs (eval/tasks/) score exactly what ``meditron eval`` scores zero-shot in
mode top_token_options (lm-eval's multiple_choice ranks the options; the paper's top_token takes the full vocabulary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager

import meditron.eval
from meditron.benchmarks import load_benchmark
from meditron.eval.backends import PrefixSharingHFLM
from meditron.eval.modes import top_token
from meditron.sample import SAMPLE_DIR

SAMPLE_BENCHMARKS = SAMPLE_DIR / "benchmarks"

TASKS = Path(meditron.eval.__file__).parent / "tasks"


def test_tasks_via_task_manager_equal_our_top_token(tiny_model, small_benchmarks):
    lm = PrefixSharingHFLM(pretrained=str(tiny_model), device="cpu", batch_size=4)
    tm = TaskManager(include_path=str(TASKS), include_defaults=False, metadata={"data_dir": str(small_benchmarks)})
    assert {f"meditron_{b}" for b in ("medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical")} <= set(tm.all_tasks)
    out = simple_evaluate(model=lm, tasks=["meditron_medqa4", "meditron_pubmedqa"], task_manager=tm, log_samples=True)
    for bench in ("medqa4", "pubmedqa"):
        items = load_benchmark(bench, small_benchmarks).items
        ours = top_token(lm, items, k=0, seed=None, pool=None, scoring="options")
        samples = sorted(out["samples"][f"meditron_{bench}"], key=lambda s: s["doc_id"])
        assert [s["doc"]["id"] for s in samples] == [r["id"] for r in ours]
        assert [s["arguments"][0][0] for s in samples] == [r["prompt"] for r in ours]
        for s, r in zip(samples, ours, strict=True):
            theirs = [float(x[0]) for x in s["filtered_resps"]]
            assert theirs == pytest.approx(list(r["loglikelihoods"].values()), abs=1e-5)
        acc = sum(r["correct"] for r in ours) / len(ours)
        assert out["results"][f"meditron_{bench}"]["acc,none"] == pytest.approx(acc)


def test_task_without_data_dir_is_a_clear_error(tiny_model):
    from meditron.errors import ConfigError
    from meditron.eval.task_data import make_loader

    with pytest.raises(ConfigError, match="data_dir"):
        make_loader("medqa4")()


def test_truthfulqa_tasks_are_registered_and_carry_the_loaders_items():
    """meditron_truthfulqa(_med) score MC1 as letters over the loader's fixed choice order, gold = the loader's."""
    from meditron.benchmarks import prompts
    from meditron.eval.task_data import make_loader

    tm = TaskManager(include_path=str(TASKS), include_defaults=False, metadata={"data_dir": "sample:benchmarks"})
    assert {"meditron_truthfulqa_med", "meditron_truthfulqa"} <= set(tm.all_tasks)
    for name, n in (("truthfulqa_med", 9), ("truthfulqa", 12)):
        items = load_benchmark(name, SAMPLE_BENCHMARKS).items
        try:
            prompts.instruction(items[0])
        except KeyError:
            pytest.skip("prompts has no TruthfulQA instruction yet (added with the TruthfulQA scoring)")
        rows = make_loader(name)(data_dir="sample:benchmarks")["test"]
        assert len(rows) == n and rows["id"] == [i.id for i in items]
        assert [r["choices"][r["gold"]] for r in rows] == [i.answer for i in items]
        assert [r["choices"] for r in rows] == [list(i.options) for i in items]
        assert all(f"{k}. {v}" in r["prompt"] for r, i in zip(rows, items, strict=True) for k, v in i.options.items())
