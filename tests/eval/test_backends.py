"""lm-eval parity: our prefix-sharing backend gives the stock ``hf`` backend's log-likelihoods and accuracies."""

from __future__ import annotations

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from meditron.benchmarks import load_benchmark
from meditron.eval.backends import PrefixSharingHFLM
from meditron.eval.modes import FewshotPool, top_token
from tests.testing import SHARED_DATA, requires_shared_data


@pytest.fixture(scope="module")
def backends(tiny_model):
    return (
        HFLM(pretrained=str(tiny_model), device="cpu", batch_size=4),
        PrefixSharingHFLM(pretrained=str(tiny_model), device="cpu", batch_size=4),
    )


def _compare(backends, items, pool):
    """Same log-likelihoods, predictions and prompts under both scorers: top_token_options (lm-eval's restricted
    multiple choice, the parity this file was written for) and the paper's full-vocabulary top_token."""
    stock, ours = backends
    for k, seed, scoring in ((0, None, "options"), (3, 1234, "options"), (0, None, "full_vocab"), (3, 1234, "full_vocab")):
        ref = top_token(stock, items, k=k, seed=seed, pool=pool, scoring=scoring)
        got = top_token(ours, items, k=k, seed=seed, pool=pool, scoring=scoring)
        diffs = [
            abs(a["loglikelihoods"][key] - b["loglikelihoods"][key])
            for a, b in zip(ref, got, strict=True)
            for key in a["loglikelihoods"]
        ]
        assert max(diffs) <= 1e-4
        assert [r["parsed"] for r in ref] == [r["parsed"] for r in got]
        assert sum(r["correct"] for r in ref) == sum(r["correct"] for r in got)
        assert [r["prompt"] for r in ref] == [r["prompt"] for r in got]


def test_parity_on_official_layout(backends, small_benchmarks):
    items = load_benchmark("medqa4", small_benchmarks).items
    pool = FewshotPool(load_benchmark("medqa4", small_benchmarks, split="fewshot").items, "train", from_test=False)
    _compare(backends, items, pool)
    # The few-shot prefix really was shared: one prefix pass per call, far fewer tokens run than the stock backend.
    assert backends[1].prefix_stats["prefix_tokens"] > 0


@requires_shared_data
def test_parity_on_real_medqa(backends):
    bset = load_benchmark("medqa4", SHARED_DATA / "benchmarks")
    items = bset.items[:10]
    pool = FewshotPool(bset.items, "test set", from_test=True)
    _compare(backends, items, pool)


def test_multi_token_continuations_and_greedy_flags(backends):
    """Continuations of several tokens and mixed contexts fall back to exact per-row scoring, flags included."""
    stock, ours = backends
    reqs = [
        Instance("loglikelihood", {}, ("Question: is aspirin an antiplatelet drug?\nAnswer:", cont), i)
        for i, cont in enumerate([" yes", " no, it is an anticoagulant", " maybe"])
    ] + [Instance("loglikelihood", {}, ("Completely different context", " here"), 3)]
    a, b = stock.loglikelihood(reqs, disable_tqdm=True), ours.loglikelihood(reqs, disable_tqdm=True)
    assert [x[1] for x in a] == [x[1] for x in b]
    assert torch.allclose(torch.tensor([x[0] for x in a]), torch.tensor([x[0] for x in b]), atol=1e-4)


def test_parity_without_logits_to_keep(tiny_model, small_benchmarks):
    """Models whose forward lacks ``logits_to_keep`` take the full-logits path: same numbers."""
    ours = PrefixSharingHFLM(pretrained=str(tiny_model), device="cpu", batch_size=3)
    ours._logits_to_keep = False
    stock = HFLM(pretrained=str(tiny_model), device="cpu", batch_size=3)
    items = load_benchmark("medqa4", small_benchmarks).items[:5]
    pool = FewshotPool(items, "test set", from_test=True)
    _compare((stock, ours), items, pool)


def test_mmlu_demonstrations_come_from_the_question_subject(backends):
    from meditron.benchmarks import BenchmarkItem

    def item(subject: str, n: int, split: str = "") -> BenchmarkItem:
        opts = {k: f"{subject} option {k}" for k in "ABCD"}
        return BenchmarkItem(
            f"mmlu-{subject}-{split}{n:04d}",
            "mmlu_medical",
            f"A {subject} question {n}?",
            opts,
            "ABCD"[n % 4],
            subject=subject,
        )

    tests = [item("anatomy", i) for i in range(3)] + [item("virology", i) for i in range(3)]
    pool = FewshotPool([item(s, i, "dev-") for s in ("anatomy", "virology") for i in range(4)], "dev", from_test=False)
    stock, ours = backends
    before = ours.prefix_stats["prefix_tokens"]
    _compare(backends, tests, pool)
    recs = top_token(ours, tests, k=2, seed=432, pool=pool, scoring="options")
    for r in recs:
        demos = r["prompt"].split("\n\n")[1:3]
        assert len(demos) == 2 and all(r["subject"] in d for d in demos)
    assert ours.prefix_stats["prefix_tokens"] > before  # one shared prefix per subject


def test_medmcqa_shares_one_prefix_across_subjects():
    """Only MMLU groups demonstrations by subject; MedMCQA (which has subjects too) uses one prefix per seed."""
    from meditron.benchmarks import BenchmarkItem
    from meditron.eval.modes import _group_key

    med = BenchmarkItem("medmcqa-x", "medmcqa", "q", {"A": "a", "B": "b", "C": "c", "D": "d"}, "A", subject="Anatomy")
    mmlu = BenchmarkItem("mmlu-anatomy-0001", "mmlu_medical", "q", med.options, "A", subject="anatomy")
    assert _group_key(med) == "" and _group_key(mmlu) == "anatomy"
