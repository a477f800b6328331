"""``--limit N``: a seeded sample stratified by label/subject, recorded in results.json."""

from __future__ import annotations

from collections import Counter

import pytest

from meditron.benchmarks import load_benchmark
from meditron.eval.config import EvalConfig
from meditron.eval.run import run_eval
from meditron.eval.sampling import sample_record, stratified_sample
from meditron.sample import SAMPLE_DIR
from tests.testing import SHARED_DATA, requires_shared_data

SAMPLE_BENCHMARKS = SAMPLE_DIR / "benchmarks"


@requires_shared_data
def test_limit_50_on_real_pubmedqa_keeps_the_label_mix():
    items = load_benchmark("pubmedqa", SHARED_DATA / "benchmarks").items
    assert {it.answer for it in items[:50]} == {"yes"}  # why "the first N" was wrong: the file is sorted by label
    sample = stratified_sample(items, 50, 1234)
    # 276 yes / 169 no / 55 maybe of 500 → 27.6, 16.9, 5.5 → largest remainders: 28, 17, 5... within one of each share
    counts = Counter(it.answer for it in sample)
    assert len(sample) == 50 and set(counts) == {"yes", "no", "maybe"}
    assert counts == {"yes": 28, "no": 17, "maybe": 5}
    assert [it.id for it in stratified_sample(items, 50, 1234)] == [it.id for it in sample]
    other = stratified_sample(items, 50, 4321)
    assert {it.id for it in other} != {it.id for it in sample} and Counter(it.answer for it in other) == counts
    order = {it.id: i for i, it in enumerate(items)}
    assert [order[it.id] for it in sample] == sorted(order[it.id] for it in sample)  # file order kept


@requires_shared_data
def test_mmlu_sample_is_stratified_by_subject():
    items = load_benchmark("mmlu_medical", SHARED_DATA / "benchmarks").items
    sample = stratified_sample(items, 100, 7)
    per_subject = Counter(it.subject for it in sample)
    assert len(per_subject) == 9 and sum(per_subject.values()) == 100
    sizes = Counter(it.subject for it in items)
    for subject, n in per_subject.items():
        assert abs(n - 100 * sizes[subject] / len(items)) < 1, subject
    rec = sample_record(items, sample, 100, 7)
    assert rec["stratified_by"] == "subject" and rec["strata"] == dict(sorted(per_subject.items()))


def test_embedded_pubmedqa_limit_and_results_fields(tiny_model, tmp_path):
    items = load_benchmark("pubmedqa", SAMPLE_BENCHMARKS).items
    assert len(stratified_sample(items, 50, 1234)) == 20  # fewer items than the limit: all of them
    small = stratified_sample(items, 10, 1234)
    # 10 yes / 5 no / 5 maybe → 5, 2.5, 2.5: the tie on the remainder goes to the stratum named first ("maybe")
    assert Counter(it.answer for it in small) == {"yes": 5, "no": 2, "maybe": 3}
    assert [it.id for it in stratified_sample(items, 10, 99)] != [it.id for it in small]

    cfg = dict(
        model=str(tiny_model),
        data_dir=SAMPLE_BENCHMARKS,
        benchmarks=["pubmedqa"],
        modes=["top_token"],
        num_fewshot=0,
        bootstrap_samples=50,
    )
    doc = run_eval(EvalConfig(limit=10, sample_seed=1234, out=tmp_path / "a", **cfg))
    d = doc["data"]["pubmedqa"]
    assert d["limited"] is True and d["limit"] == 10 and d["sample_seed"] == 1234 and d["n_total"] == 20
    assert d["n_items"] == 10 and d["sampled_ids"] == [it.id for it in small] and len(d["sampled_ids_sha256"]) == 64
    assert d["stratified_by"] == "gold label" and sum(d["strata"].values()) == 10
    assert doc["results"]["pubmedqa"]["top_token"]["n"] == 10
    full = run_eval(EvalConfig(limit=50, out=tmp_path / "b", **cfg))["data"]["pubmedqa"]
    assert full["limited"] is False and full["n_items"] == 20 and "sampled_ids" not in full


@pytest.mark.parametrize("n", [1, 3, 7])
def test_allocation_is_exact(n):
    from meditron.benchmarks import BenchmarkItem

    items = [BenchmarkItem(f"x{i}", "medqa4", "q", {"A": "a", "B": "b"}, "AB"[i % 5 == 0]) for i in range(20)]
    sample = stratified_sample(items, n, 0)
    assert len(sample) == n and len({it.id for it in sample}) == n
