"""``run_eval`` end to end on a real tiny model: every mode, reports, determinism, contamination, chance level."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from meditron.benchmarks.prompts import chat_messages
from meditron.errors import ConfigError, InputError
from meditron.eval.config import EvalConfig
from meditron.eval.metrics import chance_interval, permutation_chance_interval
from meditron.eval.run import run_eval
from meditron.run import RunDir
from tests.testing import SHARED_DATA, requires_shared_data


def _cfg(model, data, out, **kw) -> EvalConfig:
    base = dict(
        model=str(model),
        data_dir=str(data),
        benchmarks=["medqa4", "pubmedqa"],
        modes=["top_token", "top_token_options", "cot", "sc_cot", "chat"],
        num_fewshot=2,
        max_new_tokens=6,
        sc_samples=3,
        bootstrap_samples=200,
        out=out,
    )
    base.update(kw)
    return EvalConfig(**base)


def test_all_modes_reports_and_byte_identical_results(tiny_model, tiny_tokenizer, small_benchmarks, tmp_path):
    index = tmp_path / "contamination.json"
    # The corpus stage's format: items → documents, plus items too short to check.
    index.write_text(
        json.dumps(
            {
                "ngram": 13,
                "items": {"medqa4-0001": ["pubmed-1", "pmc-9"], "medqa4-0002": [], "pubmedqa-1000": ["pubmed-1000"]},
                "unchecked_items": ["pubmedqa-1001"],
                "skipped": {},
            }
        )
    )
    run = RunDir(tmp_path / "run")
    doc = run_eval(_cfg(tiny_model, small_benchmarks, tmp_path / "a", contamination_index=str(index)), run=run)
    res = doc["results"]
    assert set(res) == {"medqa4", "pubmedqa"}
    assert set(res["medqa4"]) == {"top_token", "top_token_options", "cot", "sc_cot", "chat"}
    # The options-only scorer always picks an option (this test pinned that under the old name top_token) ...
    opt = res["medqa4"]["top_token_options"]
    assert opt["n"] == 12 and opt["unparsed"] == 0 and set(opt["seeds"]) == {"1234", "432", "32"}
    assert opt["scoring"] == "best of the option keys (lm-eval)" and "top_token_basis" not in opt
    # ... the paper's top token is wrong whenever the model's argmax is not an option (a random model: mostly).
    top = res["medqa4"]["top_token"]
    per_seed = {
        seed: [json.loads(x) for x in (tmp_path / f"a/items/medqa4/top_token_2shot_seed{seed}.jsonl").read_text().splitlines()]
        for seed in ("1234", "432", "32")
    }
    counts = {seed: sum(r["parsed"] is None for r in recs) for seed, recs in per_seed.items()}
    assert {seed: s["unparsed"] for seed, s in top["seeds"].items()} == counts
    # Like the accuracy, the headline unparsed count is the mean over the seeds (not the first seed's).
    mean = sum(counts.values()) / 3
    assert top["unparsed"] == top["not_an_option"] == (int(mean) if mean.is_integer() else round(mean, 2))
    first_seed = per_seed["1234"]
    assert all(r["correct"] is False for r in first_seed if r["parsed"] is None)
    assert top["n"] == 12 and set(top["seeds"]) == {"1234", "432", "32"}
    assert top["num_fewshot"] == 2 and 0 <= top["ci95"][0] <= top["accuracy"] <= top["ci95"][1] <= 1
    assert "ece" in top["zero_shot"] and top["zero_shot"]["n"] == 12
    assert set(top["breakdown"]) == {"step1", "step2&3"} and sum(v["n"] for v in top["breakdown"].values()) == 12
    for mode in ("cot", "sc_cot", "chat"):
        r = res["medqa4"][mode]
        assert {"accuracy", "ci95", "n", "unparsed"} <= set(r) and r["n"] == 12
    assert res["medqa4"]["top_token"]["contamination"]["contaminated"]["n"] == 1
    cont = res["pubmedqa"]["chat"]["contamination"]
    pq = [json.loads(x) for x in (tmp_path / "a/items/pubmedqa/chat.jsonl").read_text().splitlines()]
    clean = [r["correct"] for r in pq if r["id"] in ("pubmedqa-1002", "pubmedqa-1003")]
    assert cont["clean"] == {"accuracy": round(sum(clean) / 2, 6), "n": 2}
    assert cont["contaminated"]["n"] == 1 and cont["unchecked"] == 1
    assert doc["contamination"]["contaminated_items"] == 2
    assert doc["data"]["medqa4"]["fewshot_source"].startswith(
        "train/dev file (phrases_no_exclude_train.jsonl, 6 items)"
    )
    assert doc["data"]["pubmedqa"]["fewshot_source"].startswith("labelled PubMedQA items outside the test split")
    assert doc["data"]["medqa4"]["fewshot_from_test"] is False and doc["data"]["medqa4"]["limited"] is False
    # Like with like: the 2-shot top_token pass matches no paper row (the paper ran 3- and 5-shot), zero-shot
    # top_token matches Table 5's rows, but 12 questions are not the paper's 1,273: labelled, never comparable.
    paper_rows = {(r["benchmark"], r["mode"], r["shots"]): r for r in doc["paper"]["rows"]}
    assert paper_rows[("medqa4", "top_token", 2)]["paper"] == []
    zero = paper_rows[("medqa4", "top_token", 0)]
    assert {c["model"]: c["score"] for c in zero["paper"]}["MEDITRON-7B"] == 52.0
    assert zero["status"] == "not comparable" and zero["not_comparable"] == ["12 items, fewer than the paper's 1,273"]

    out = tmp_path / "a"
    for name in (
        "results.json",
        "report.md",
        "timing.json",
        "plots/scores_vs_paper.png",
        "plots/reliability_medqa4.png",
    ):
        assert (out / name).stat().st_size > 0, name
    chat = [json.loads(x) for x in (out / "items/medqa4/chat.jsonl").read_text().splitlines()]
    first_item_prompt = tiny_tokenizer.apply_chat_template(
        chat_messages(_first_item(small_benchmarks)), tokenize=False, add_generation_prompt=True
    )
    assert chat[0]["prompt"] == first_item_prompt and chat[0]["gold"] == "A"
    assert sum(r["parsed"] is None for r in chat) == res["medqa4"]["chat"]["unparsed"]
    seeds = [json.loads(x) for x in (out / "items/medqa4/top_token_2shot_seed432.jsonl").read_text().splitlines()]
    assert len(seeds) == 12 and all(r["seed"] == 432 and r["prompt"].count("\nAnswer:") == 3 for r in seeds)
    sc = [json.loads(x) for x in (out / "items/medqa4/sc_cot.jsonl").read_text().splitlines()]
    assert all(len(r["output"]) == 3 and len(r["votes"]) == 3 for r in sc)
    md = (out / "report.md").read_text()
    assert "| medqa4 | top_token |" in md and "top-token zero-shot and 2-shot over seeds 1234, 432, 32" in md
    assert "majority of 3 samples at temperature 0.8" in md
    assert run.read_manifest()["stages"]["eval"]["metrics"]["medqa4/top_token"] == top["accuracy"]

    # Same config and seed → byte-identical results.json (timings live in timing.json).
    run_eval(_cfg(tiny_model, small_benchmarks, tmp_path / "b", contamination_index=str(index)))
    assert (tmp_path / "a/results.json").read_bytes() == (tmp_path / "b/results.json").read_bytes()


def _first_item(data_dir):
    from meditron.benchmarks import load_benchmark

    return load_benchmark("medqa4", data_dir).items[0]


def test_config_errors_name_the_key(tiny_model, small_benchmarks, tmp_path):
    with pytest.raises(ConfigError, match="eval.out"):
        run_eval(EvalConfig(model=str(tiny_model), data_dir=str(small_benchmarks)), run=None)
    with pytest.raises(ConfigError, match="eval.data_dir"):
        run_eval(EvalConfig(model=str(tiny_model), out=tmp_path), run=None)
    bad = tmp_path / "idx.json"
    bad.write_text('{"medqa4-0001": "doc-1"}')
    with pytest.raises(InputError, match="idx.json.*medqa4-0001"):
        run_eval(_cfg(tiny_model, small_benchmarks, tmp_path / "x", contamination_index=str(bad)))
    with pytest.raises(InputError, match="US/test.jsonl"):
        run_eval(_cfg(tiny_model, small_benchmarks, tmp_path / "x", benchmarks=["medqa5"]))


@requires_shared_data
@pytest.mark.slow
def test_random_model_scores_at_chance_on_real_benchmarks(tiny_model, tmp_path):
    """A random-weights Llama must score like a guesser on every benchmark: no answer leaks into the prompts.

    Scored with the options-only scorer (a guesser among the options); the paper's top_token would mostly score 0.
    """
    cfg = _cfg(
        tiny_model,
        SHARED_DATA / "benchmarks",
        tmp_path,
        benchmarks=["medqa4", "medmcqa", "pubmedqa", "mmlu_medical"],
        modes=["top_token_options"],
        num_fewshot=0,
        limit=150,
    )
    doc = run_eval(cfg)
    for bench, modes in doc["results"].items():
        recs = [
            json.loads(x)
            for x in (tmp_path / f"items/{bench}/top_token_options_zero_shot.jsonl").read_text().splitlines()
        ]
        acc = modes["top_token_options"]["accuracy"]
        lo, hi = chance_interval(len(recs), len(recs[0]["loglikelihoods"]))
        assert lo <= acc <= hi, (bench, acc, lo, hi)
        plo, phi = permutation_chance_interval([r["parsed"] for r in recs], [r["gold"] for r in recs])
        # The right null for a guesser that prefers some keys: its predictions shuffled against the golds.
        assert plo - 1e-6 <= acc <= phi + 1e-6, (bench, acc, plo, phi, Counter(r["parsed"] for r in recs))


def test_fewshot_source_train_file_elsewhere_or_test_set(small_benchmarks, tmp_path):
    """Demonstrations come from eval.fewshot_file_dir when given, else from the test set minus the question."""
    import shutil

    from meditron.benchmarks import load_benchmark
    from meditron.eval.modes import top_token
    from meditron.eval.run import _fewshot_pool

    only_test = tmp_path / "only_test"
    only_test.mkdir()
    shutil.copy(next(small_benchmarks.rglob("phrases_no_exclude_test.jsonl")), only_test)
    test = load_benchmark("medqa4", only_test)
    pool = _fewshot_pool("medqa4", test, EvalConfig(fewshot_file_dir=str(small_benchmarks)), only_test)
    assert not pool.from_test and len(pool.items) == 6 and "phrases_no_exclude_train.jsonl" in pool.source
    fallback = _fewshot_pool("medqa4", test, EvalConfig(), only_test)
    assert fallback.from_test and fallback.source.startswith("test set")

    class NoModel:  # records the prompts only; the question must never appear among its own demonstrations
        def loglikelihood(self, requests, disable_tqdm=False):
            return [(0.0, False)] * len(requests)

    for rec, item in zip(top_token(NoModel(), test.items, k=3, seed=1234, pool=fallback), test.items, strict=True):
        demos = rec["prompt"].split("\n\n")[1:4]
        assert len(demos) == 3 and all(item.question not in d for d in demos)


def test_fewshot_pool_never_holds_test_questions(small_benchmarks, tmp_path):
    """A PubMedQA few-shot folder without test_ground_truth.json would offer all labelled items: test ones are dropped."""
    from meditron.benchmarks import load_benchmark
    from meditron.eval.run import _fewshot_pool

    fs_dir = tmp_path / "fs"
    fs_dir.mkdir()
    (fs_dir / "ori_pqal.json").write_text(next(small_benchmarks.rglob("ori_pqal.json")).read_text())
    test = load_benchmark("pubmedqa", small_benchmarks)
    pool = _fewshot_pool("pubmedqa", test, EvalConfig(fewshot_file_dir=str(fs_dir)), small_benchmarks)
    assert [i.id for i in pool.items] == [f"pubmedqa-{1000 + i}" for i in range(4, 8)]
    assert "4 overlapping the test set dropped" in pool.source


@requires_shared_data
def test_mmlu_demonstrations_come_from_the_official_dev_files(tmp_path):
    """MMLU's dev/ folder (5 rows per subject) is the few-shot source; a folder without it falls back, flagged."""
    from meditron.benchmarks import load_benchmark
    from meditron.eval.run import _bench_run

    real = SHARED_DATA / "benchmarks"
    test = load_benchmark("mmlu_medical", real)
    cfg = EvalConfig(benchmarks=["mmlu_medical"], num_fewshot=5, limit=40)
    bench = _bench_run("mmlu_medical", test, cfg, real, tmp_path)
    # 45 dev rows, 5 of which are also MMLU test questions (same stem and options, in clinical_knowledge and
    # college_medicine): those never serve as demonstrations.
    assert not bench.pool.from_test and len(bench.pool.items) == 40
    assert bench.pool.source.startswith("train/dev file (anatomy_dev.csv, clinical_knowledge_dev.csv")
    assert bench.pool.source.endswith("40 items, 5 overlapping the test set dropped)")
    assert {it.subject for it in bench.pool.items} == {it.subject for it in test.items}  # all 9 subjects
    only_test = tmp_path / "only_test"
    only_test.mkdir()
    (only_test / "anatomy_test.csv").write_bytes((real / "mmlu_medical" / "anatomy_test.csv").read_bytes())
    fallback = _bench_run("mmlu_medical", load_benchmark("mmlu_medical", only_test), cfg, only_test, tmp_path)
    assert fallback.pool.from_test and fallback.pool.source.startswith("test set")
