"""``eval.max_context``: prompts fit the model's context by one rule (shots, then context, question, instruction), counted
once; lm-eval's per-request truncation warnings are gone."""

from __future__ import annotations

import functools
import json
import logging

import pytest

from meditron.errors import ConfigError
from meditron.eval.config import EvalConfig
from meditron.eval.context import model_max_context, quiet_backend_truncation, resolve_max_context
from meditron.eval.run import run_eval
from tests.testing import SHARED_DATA, requires_shared_data

SHARED_MODELS = SHARED_DATA.parent / "models"


def _rows(path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_max_context_read_from_config_and_bounded(tiny_model, tmp_path):
    assert model_max_context(tiny_model) == (8192, "config.json max_position_embeddings")
    assert resolve_max_context(None, tiny_model) == (8192, "config.json max_position_embeddings")
    assert resolve_max_context(512, tiny_model) == (512, "eval.max_context")
    with pytest.raises(ConfigError, match=r"eval.max_context 9000 exceeds the model's maximum context 8192"):
        resolve_max_context(9000, tiny_model)
    assert resolve_max_context(None, tmp_path)[0] is None


def _common(tiny_model, small_benchmarks, out, **kw) -> EvalConfig:
    base = dict(
        model=str(tiny_model),
        data_dir=str(small_benchmarks),
        benchmarks=["medqa4"],
        modes=["top_token"],
        num_fewshot=2,
        bootstrap_samples=50,
        out=out,
    )
    return EvalConfig(**{**base, **kw})


def test_demonstrations_are_dropped_first_and_counted_once(
    tiny_model, tiny_tokenizer, small_benchmarks, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    from meditron.benchmarks import load_benchmark
    from meditron.benchmarks.prompts import instruction, top_token_prompt

    items = load_benchmark("medqa4", small_benchmarks).items
    zero = [instruction(it) + "\n\n" + top_token_prompt(it) + " A" for it in items]
    budget = max(len(tiny_tokenizer(t)["input_ids"]) for t in zero)  # every zero-shot prompt fits, 2 shots never do
    doc = run_eval(_common(tiny_model, small_benchmarks, tmp_path, max_context=budget))
    d = doc["data"]["medqa4"]
    seeds = [_rows(tmp_path / f"items/medqa4/top_token_2shot_seed{s}.jsonl") for s in (1234, 432, 32)]
    cut = [r for rows in seeds for r in rows if r.get("truncated")]
    assert len(cut) == 36 and all(r["truncated"] == ["shots"] and r["shots"] < 2 for r in cut)
    assert d["truncated_prompts"] == 36 and d["truncation"] == {"shots": 36} and d["backend_truncations"] == 0
    assert d["max_context"] == budget and d["max_context_source"] == "eval.max_context" and d["context_checked"]
    for r in [r for rows in seeds for r in rows] + _rows(tmp_path / "items/medqa4/top_token_zero_shot.jsonl"):
        assert len(tiny_tokenizer(r["prompt"] + " A")["input_ids"]) <= budget
        assert r["prompt"].endswith(top_token_prompt(next(it for it in items if it.id == r["id"])))
    err = caplog.text
    assert err.count("prompts exceeded max_context") == 1 and "Truncat" not in err
    assert f"36 prompts exceeded max_context {budget} and were cut: medqa4 36 (shots 36)" in err


def test_context_then_question_then_instruction_never_the_options(
    tiny_model, tiny_tokenizer, small_benchmarks, tmp_path
):
    from dataclasses import replace
    from types import SimpleNamespace

    from meditron.benchmarks import load_benchmark
    from meditron.eval.modes import generative_prompt

    lm = SimpleNamespace(tokenizer=tiny_tokenizer)
    for bench, rule, kept in (("medqa4", "question", "Which drug is indicated?"), ("pubmedqa", "context", "recorded.")):
        items = load_benchmark(bench, small_benchmarks).items
        full = [len(tiny_tokenizer(generative_prompt(lm, it, "cot", False))["input_ids"]) for it in items]
        budget = min(full) - 2 + 8  # every prompt 2+ tokens too long: a few words of its question/context go
        out = tmp_path / bench
        cfg = _common(tiny_model, small_benchmarks, out, benchmarks=[bench], modes=["cot"], max_new_tokens=8)
        doc = run_eval(cfg.model_copy(update={"max_context": budget}))
        rows = _rows(out / f"items/{bench}/cot.jsonl")
        for r, item, n in zip(rows, items, full, strict=True):
            assert r["truncated"] == [rule] and len(tiny_tokenizer(r["prompt"])["input_ids"]) <= budget - 8 < n
            assert f"{kept}\n" in r["prompt"] and r["prompt"].endswith("step by step.<|im_end|>\n<|im_start|>assistant\n")
            assert all(f"{k}. {v}" in r["prompt"] for k, v in item.options.items() if bench == "medqa4")
        assert doc["data"][bench]["truncated_prompts"] == len(items) == (12 if bench == "medqa4" else 4)
        assert doc["data"][bench]["truncation"] == {rule: len(rows)}
    # A budget below instruction + options: the question goes whole, then the instruction from the left.
    items = load_benchmark("medqa4", small_benchmarks).items
    bare = [replace(it, question="", meta={**it.meta, "instruction": ""}) for it in items]
    sizes = [len(tiny_tokenizer(generative_prompt(lm, it, "cot", False))["input_ids"]) for it in bare]
    floor = max(sizes)
    tight = _common(tiny_model, small_benchmarks, tmp_path / "t", modes=["cot"], max_new_tokens=8)
    doc = run_eval(tight.model_copy(update={"max_context": floor + 10 + 8}))
    rows = _rows(tmp_path / "t/items/medqa4/cot.jsonl")
    assert all(r["truncated"] == ["question", "instruction"] for r in rows)
    assert all("guidelines.<|im_end|>\n<|im_start|>user\nQuestion: \nOptions:\nA. " in r["prompt"] for r in rows)
    assert doc["data"]["medqa4"]["truncation"] == {"instruction": 12, "question": 12}
    # Below even that, nothing else is cut: the prompt goes as is and is counted as over budget.
    doc = run_eval(tight.model_copy(update={"max_context": min(sizes) - 1 + 8, "out": tmp_path / "o"}))
    assert doc["data"]["medqa4"]["truncation"] == {"instruction": 12, "over_budget": 12, "question": 12}
    assert all("Options:\nA. " in r["prompt"] for r in _rows(tmp_path / "o/items/medqa4/cot.jsonl"))


def test_generation_budget_must_leave_room(tiny_model, small_benchmarks, tmp_path):
    cfg = _common(tiny_model, small_benchmarks, tmp_path, modes=["cot"], max_new_tokens=256, max_context=200)
    with pytest.raises(ConfigError, match="eval.max_new_tokens 256 leaves no room.*context of 200 tokens"):
        run_eval(cfg)


def test_lm_eval_truncation_warnings_are_counted_not_printed(tiny_model, caplog):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(tiny_model), device="cpu", batch_size=2, max_length=16)
    req = [Instance("loglikelihood", {}, ("Question: " + "fever and cough " * 20 + "\nAnswer:", " A"), 0)]
    with caplog.at_level(logging.WARNING), quiet_backend_truncation() as counted:
        lm.loglikelihood(req, disable_tqdm=True)
    assert counted.count == 1 and not [r for r in caplog.records if "runcat" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        lm.loglikelihood(req, disable_tqdm=True)  # outside the block lm-eval warns as usual
    assert any("runcat" in r.getMessage() for r in caplog.records)


@requires_shared_data
@pytest.mark.slow
def test_real_128_token_model_on_real_benchmarks(tmp_path, caplog):
    """aidreams260K-hf (max_position_embeddings 128, SentencePiece): every prompt fits, options intact, one line."""
    caplog.set_level(logging.INFO)
    from transformers import AutoTokenizer

    model = SHARED_MODELS / "aidreams260K-hf"
    tok = AutoTokenizer.from_pretrained(model)
    cfg = EvalConfig(
        model=str(model),
        data_dir=str(SHARED_DATA / "benchmarks"),
        benchmarks=["medqa4", "pubmedqa"],
        modes=["top_token", "cot"],
        num_fewshot=1,
        seeds=[1234],
        limit=6,
        max_new_tokens=16,
        bootstrap_samples=50,
        out=tmp_path,
    )
    doc = run_eval(cfg)
    for bench in ("medqa4", "pubmedqa"):
        d = doc["data"][bench]
        assert d["max_context"] == 128 and d["truncated_prompts"] == 18  # every prompt: 6 items x 3 passes
        over = 0
        for name, reserve in (("top_token_zero_shot", 1), ("top_token_1shot_seed1234", 1), ("cot", 16)):
            for r in _rows(tmp_path / f"items/{bench}/{name}.jsonl"):
                if bench == "medqa4":
                    assert all(f"{k}. {v}" in r["prompt"] for k, v in _options(r).items())
                if "over_budget" in r["truncated"]:  # options alone longer than the budget: sent as is, counted
                    over += 1
                    continue
                assert len(tok(r["prompt"])["input_ids"]) + reserve <= 128, (bench, name, r["id"], r["truncated"])
        assert d["truncation"].get("over_budget", 0) == over
        assert (d["backend_truncations"] > 0) == (over > 0)  # lm-eval cut only what our rule could not
    assert doc["data"]["pubmedqa"]["backend_truncations"] == 0
    err = caplog.text
    assert err.count("exceeded max_context 128") == 1 and "Truncating" not in err


@functools.cache
def _real_medqa() -> dict:
    from meditron.benchmarks import load_benchmark

    return {it.id: it for it in load_benchmark("medqa4", SHARED_DATA / "benchmarks").items}


def _options(record: dict) -> dict[str, str]:
    return _real_medqa()[record["id"]].options
