"""CoT / SC-CoT generation: the fast decoding loop against lm-eval's stock ``hf`` backend; unbiased SC-CoT votes."""

from __future__ import annotations

import math
from itertools import permutations

import pytest
import torch
import torch.nn.functional as F
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from meditron.benchmarks import load_benchmark, prompts
from meditron.eval.backends import PrefixSharingHFLM
from meditron.eval.metrics import majority_vote
from meditron.eval.modes import STOP_SEQUENCES, generate
from tests.testing import SHARED_DATA, requires_shared_data

SHARED_MODEL = SHARED_DATA.parent / "models" / "aidreams260K-hf"


@pytest.fixture(scope="module")
def stock(tiny_model):
    return HFLM(pretrained=str(tiny_model), device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def ours(tiny_model):
    return PrefixSharingHFLM(pretrained=str(tiny_model), device="cpu", batch_size=3)


@pytest.fixture(scope="module")
def cot_texts(small_benchmarks, tiny_tokenizer):
    items = load_benchmark("medqa4", small_benchmarks).items[:6] + load_benchmark("pubmedqa", small_benchmarks).items
    chat = [prompts.render_chat(tiny_tokenizer, prompts.chat_messages(items[0], cot=True))]
    return [prompts.cot_prompt(item) for item in items] + chat


def _requests(texts: list[str], **gen) -> list[Instance]:
    return [Instance("generate_until", {}, (t, dict(gen)), i) for i, t in enumerate(texts)]


@pytest.mark.parametrize("until", [STOP_SEQUENCES, ["."], ["e", "\n"]])
def test_greedy_outputs_equal_stock_hf(stock, ours, cot_texts, until):
    """Same strings as lm-eval's ``hf`` ``generate_until`` (its batch 4, ours 3; frequent stops cut rows early)."""
    reqs = _requests(cot_texts, until=until, max_gen_toks=24, do_sample=False)
    expected = stock.generate_until(reqs, disable_tqdm=True)
    got = ours.generate_until(reqs, disable_tqdm=True)
    assert got == expected
    assert all(not any(s in text for s in until) for text in got)


def test_stop_strings_end_each_row_at_its_first_occurrence(ours, tiny_tokenizer, cot_texts):
    reqs = _requests(cot_texts, until=["e"], max_gen_toks=30, do_sample=False)
    groups = ours.generate_samples(reqs, 1, seed=0)
    stopped = 0
    for (sample,) in groups:
        raw = tiny_tokenizer.decode(sample.tokens)
        if len(sample.tokens) < 30:
            stopped += 1
            assert "e" in raw and "e" not in tiny_tokenizer.decode(sample.tokens[:-1])
            assert sample.text == ours.tok_decode(sample.tokens).split("e")[0]
        else:  # ran to max_gen_toks: exactly that many tokens
            assert len(sample.tokens) == 30
    assert stopped >= 3


def test_special_token_stop_matches_stock_row_by_row(tiny_model, ours, cot_texts):
    """A stop string that is a special token (ChatML's ``<|im_end|>``) ends the row, as the stock backend does for a
    row alone in its batch (in a bigger batch the stock text runs on past it, since decoding drops special tokens)."""
    alone = HFLM(pretrained=str(tiny_model), device="cpu", batch_size=1)
    reqs = _requests(cot_texts, until=["<|im_end|>", "qq"], max_gen_toks=20, do_sample=False)
    assert ours.generate_until(reqs, disable_tqdm=True) == alone.generate_until(reqs, disable_tqdm=True)


def test_samples_count_seed_and_batch_independence(ours, cot_texts):
    reqs = _requests(cot_texts[:4], until=STOP_SEQUENCES, max_gen_toks=12, do_sample=True, temperature=0.8)
    groups = ours.generate_samples(reqs, 5, seed=1234)
    assert [len(g) for g in groups] == [5, 5, 5, 5]
    assert all(0 < len(s.tokens) <= 12 for g in groups for s in g)
    assert len({tuple(s.tokens) for s in groups[0]}) > 1  # samples differ from each other
    again = ours.generate_samples(reqs, 5, seed=1234)
    assert [[s.tokens for s in g] for g in again] == [[s.tokens for s in g] for g in groups]
    # A question's samples do not depend on the other questions of the call (nor on their order).
    alone = ours.generate_samples([reqs[2]], 5, seed=1234)
    assert [s.tokens for s in alone[0]] == [s.tokens for s in groups[2]]
    other = ours.generate_samples(reqs, 5, seed=4321)
    assert [[s.tokens for s in g] for g in other] != [[s.tokens for s in g] for g in groups]


def test_sampling_with_top_k_1_is_greedy(ours, cot_texts):
    """The HF warpers are applied: top_k=1 leaves only the argmax, whatever the temperature."""
    greedy = ours.generate_until(_requests(cot_texts, until=["."], max_gen_toks=16, do_sample=False))
    sampled = _requests(cot_texts, until=["."], max_gen_toks=16, do_sample=True, temperature=0.8, top_k=1)
    assert ours.generate_until(sampled) == greedy


def test_continuous_batching_refills_rows_exactly(tiny_model, ours, cot_texts, monkeypatch):
    """Sampled rows decode with continuous batching: finished rows make room and the next questions' prefilled rows
    join mid-stream (left-padded into the running cache). With top_k=1 every sample must be the question's greedy
    output from the stock backend run one question at a time, so padding, merging and trimming change nothing."""
    from meditron.eval import generation

    merges = []
    original = generation._Decoder.merge
    monkeypatch.setattr(generation._Decoder, "merge", lambda self, o, rows: merges.append(rows) or original(self, o, rows))
    alone = HFLM(pretrained=str(tiny_model), device="cpu", batch_size=1)
    until = ["e", "\n"]
    reqs = _requests(cot_texts, until=until, max_gen_toks=20, do_sample=True, temperature=0.7, top_k=1)
    groups = ours.generate_samples(reqs, 2, seed=5)  # batch_size 3 → 2 questions x 2 samples = 4 rows at most
    assert len(merges) >= 2 and all(len(rows) % 2 == 0 for rows in merges)
    expected = alone.generate_until(_requests(cot_texts, until=until, max_gen_toks=20, do_sample=False))
    assert [[s.text for s in g] for g in groups] == [[text, text] for text in expected]
    assert len({len(g[0].tokens) for g in groups}) > 1  # rows really ended at different steps
    for req, group in zip(reqs, groups, strict=True):  # log-probs of merged rows = a plain forward pass
        ids, _ = ours.tok_batch_encode([req.args[0]])
        full = torch.tensor([ids[0].tolist() + group[1].tokens])
        with torch.no_grad():
            lp = F.log_softmax(ours.model(full).logits[0, ids.shape[1] - 1 : -1].float(), dim=-1)
        expected = lp.gather(1, torch.tensor(group[1].tokens).unsqueeze(-1)).mean().item()
        assert group[1].mean_logprob == pytest.approx(expected, abs=1e-4)


def test_mean_logprobs_equal_a_forward_pass(ours, cot_texts):
    reqs = _requests(cot_texts[:3], until=["\n\n"], max_gen_toks=10, do_sample=True, temperature=0.8)
    for req, group in zip(reqs, ours.generate_samples(reqs, 3, seed=7), strict=True):
        ids, _ = ours.tok_batch_encode([req.args[0]])
        for s in group:
            full = torch.tensor([ids[0].tolist() + s.tokens])
            with torch.no_grad():
                lp = F.log_softmax(ours.model(full).logits[0, ids.shape[1] - 1 : -1].float(), dim=-1)
            expected = lp.gather(1, torch.tensor(s.tokens).unsqueeze(-1)).mean().item()
            assert math.isfinite(s.mean_logprob) and s.mean_logprob == pytest.approx(expected, abs=1e-4)


def test_repeats_share_one_encoding_and_follow_torch_seed(ours, cot_texts):
    """lm-eval's ``repeats`` (the same request N times) → N samples of one prompt, seeded from torch's generator."""
    reqs = _requests(cot_texts[:2], until=STOP_SEQUENCES, max_gen_toks=8, do_sample=True, temperature=0.8)
    repeated = [r for r in reqs for _ in range(4)]
    torch.manual_seed(99)
    seed = int(torch.randint(0, 2**62, (1,)).item())
    torch.manual_seed(99)
    texts = ours.generate_until(repeated)
    expected = ours.generate_samples(reqs, 4, seed=seed)
    assert texts == [s.text for g in expected for s in g]


def test_settings_the_loop_cannot_match_go_through_stock(stock, ours, cot_texts):
    reqs = _requests(cot_texts[:3], until=["."], max_gen_toks=12, do_sample=False, repetition_penalty=1.5)
    assert ours.generate_until(reqs) == stock.generate_until(reqs)
    groups = ours.generate_samples(reqs, 2, seed=1)
    assert all(len(g) == 2 and g[0].mean_logprob is None for g in groups)


def test_sc_cot_records_votes_logprobs_and_tie_break(ours, stock, small_benchmarks):
    items = load_benchmark("medqa4", small_benchmarks).items[:4]
    for lm, has_logprobs in ((ours, True), (stock, False)):
        recs = generate(lm, items, mode="sc_cot", max_new_tokens=6, samples=4, temperature=0.8, seed=5)
        for r in recs:
            assert len(r["output"]) == len(r["votes"]) == len(r["sample_logprobs"]) == 4
            assert all((x is not None) == has_logprobs for x in r["sample_logprobs"])
            assert r["tie_break"]["method"] in ("none", "majority", "logprob", "random")
            assert r["parsed"] == majority_vote(r["votes"], r["sample_logprobs"], tie_seed=f"5:{r['id']}")[0]
    cot = generate(ours, items, mode="cot", max_new_tokens=10)
    reqs = _requests([r["prompt"] for r in cot], until=STOP_SEQUENCES, max_gen_toks=10, do_sample=False)
    assert [r["output"] for r in cot] == stock.generate_until(reqs)


@requires_shared_data
def test_greedy_equals_stock_on_real_pretrained_llama():
    """The real SentencePiece checkpoint (128-token context: prompts are left-truncated as the stock backend does)."""
    kw = {"pretrained": str(SHARED_MODEL), "device": "cpu"}
    stock, ours = HFLM(batch_size=4, **kw), PrefixSharingHFLM(batch_size=2, **kw)
    texts = ["Once upon a time", "The patient had a fever and", "In a dream, the robot", "Question: " + "why? " * 60]
    for until in (["."], ["\n\n", ","]):
        reqs = _requests(texts, until=until, max_gen_toks=40, do_sample=False)
        got = ours.generate_until(reqs)
        assert got == stock.generate_until(reqs) and all(until[0] not in t for t in got)
    assert any(len(t) > 20 for t in got)


# ---- majority vote ------------------------------------------------------------------------------------------------


def test_majority_wins_without_tie_break():
    expected = ("B", {"method": "majority", "tied": ["B"]})
    assert majority_vote(["B", "A", "B", None, "C"], None, tie_seed="s") == expected
    assert majority_vote([None, None], [-1.0, -2.0], tie_seed="s") == (None, {"method": "none", "tied": []})


def test_ties_go_to_the_highest_mean_logprob():
    # A and C tie 2-2; A's voters average -1.5, C's -0.75 → C, although A comes first.
    answer, info = majority_vote(["A", "C", "A", "C", "B"], [-1.0, -0.5, -2.0, -1.0, -0.1], tie_seed="s")
    assert answer == "C" and info["method"] == "logprob"
    assert info["mean_logprob"] == {"A": -1.5, "C": -0.75} and info["tied"] == ["A", "C"]
    # The same votes with A's samples more confident → A.
    assert majority_vote(["A", "C", "A", "C", "B"], [-0.2, -0.5, -0.4, -1.0, -0.1], tie_seed="s")[0] == "A"


def test_permuting_the_letters_permutes_the_winner():
    votes, lps = ["A", "B", "C", "A", "B", "C"], [-0.9, -0.3, -0.6, -0.9, -0.5, -0.6]
    assert majority_vote(votes, lps, tie_seed="x")[0] == "B"  # B: -0.4, C: -0.6, A: -0.9
    for perm in permutations("ABC"):
        relabel = dict(zip("ABC", perm, strict=True))
        got, _ = majority_vote([relabel[v] for v in votes], lps, tie_seed="x")
        assert got == relabel["B"]
        # Without log-probs: a seeded draw among the tied samples, so relabelling relabels the winner too.
        plain, info = majority_vote(votes, None, tie_seed="x")
        got, info2 = majority_vote([relabel[v] for v in votes], None, tie_seed="x")
        assert got == relabel[plain] and info2["sample"] == info["sample"] and info["method"] == "random"


def test_random_tie_break_is_seeded_and_unbiased():
    votes = ["A", "B"]
    draws = [majority_vote(votes, None, tie_seed=f"1234:q{i}")[0] for i in range(400)]
    assert draws == [majority_vote(votes, None, tie_seed=f"1234:q{i}")[0] for i in range(400)]
    assert 160 <= draws.count("A") <= 240  # ~Binomial(400, 0.5): earlier letters no longer win every tie
    # Equal mean log-probs (or a missing one among the tied voters) fall back to the seeded draw.
    assert majority_vote(["A", "B"], [-1.0, -1.0], tie_seed="z")[1]["method"] == "random"
    assert majority_vote(["A", "B", "C"], [-1.0, None, -3.0], tie_seed="z")[1]["method"] == "random"
