"""The paper's evaluation modes on top of any lm-eval ``LM``: top_token, cot, sc_cot, chat.

Each mode turns benchmark items into lm-eval ``Instance`` requests (``loglikelihood`` or ``generate_until``), sends them
through the model, and returns one record per item (prompt, output, parsed answer, gold) that the report aggregates.
Requests are built here from our loaders rather than from lm-eval task YAMLs because the few-shot prefix must be the
same string for every question of a seed (that is what the prefix-sharing backend exploits and what MEDITRON did) and
because PubMedQA's test split and MMLU's header-less CSVs need our validated readers anyway (see docs/EVALUATION.md).
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lm_eval.api.instance import Instance

from meditron.benchmarks import BenchmarkItem, prompts
from meditron.eval.context import PromptFitter
from meditron.eval.metrics import majority_vote
from meditron.eval.parse import parse_answer
from meditron.special_tokens import IM_END

STOP_SEQUENCES = [IM_END, "\n\nQuestion:", "\n\nContext:"]


@dataclass
class FewshotPool:
    """Where demonstrations come from: the official train/dev file, or other items of the test set."""

    items: list[BenchmarkItem]
    source: str  # "train/dev file <name>" or "test set (other items, excluding the question itself)"
    from_test: bool


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def _base_record(item: BenchmarkItem, mode: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "benchmark": item.benchmark,
        "mode": mode,
        "subject": item.subject,
        "step": item.meta.get("step"),
        "gold": item.answer,
    }


def _group_key(item: BenchmarkItem) -> str:
    # MMLU demonstrations come from the question's own subject (as in MMLU's 5-shot protocol).
    return (item.subject or "") if item.benchmark == "mmlu_medical" else ""


def _select_shots(pool: FewshotPool, group: str, k: int, seed: int) -> list[BenchmarkItem]:
    """k+1 seeded candidates from the pool restricted to the group (so a test item can be swapped out)."""
    members = [x for x in pool.items if _group_key(x) == group] or pool.items
    order = list(range(len(members)))
    random.Random(seed).shuffle(order)
    return [members[i] for i in order[: k + 1]]


def _shots_for(item: BenchmarkItem, candidates: list[BenchmarkItem], k: int) -> list[BenchmarkItem]:
    return [c for c in candidates if c.id != item.id][:k]


#: How each top-token scoring picks the prediction (the mode names of ``eval.modes``).
SCORINGS = {"top_token": "full_vocab", "top_token_options": "options"}


@dataclass
class _Request:
    """One item's top-token prompt: the (possibly cut) item, its shots, the rendered context, the rules applied."""

    item: BenchmarkItem
    shots: list[BenchmarkItem]
    context: str
    cut: list[str]


def _longest_key(item: BenchmarkItem) -> str:
    return max((prompts.answer_key(item, k) for k in item.options), key=len)


def _fit_top_token(item: BenchmarkItem, shots: list[BenchmarkItem], fitter: PromptFitter | None) -> _Request:
    """The item's prompt with the most shots that fit, then the item cut by the context rule (eval.context)."""

    def render(it: BenchmarkItem, n: int) -> str:
        return prompts.fewshot_prefix(prompts.instruction(it), shots[:n]) + prompts.top_token_prompt(it)

    cut: list[str] = []
    if fitter is not None and fitter.active:
        tail = _longest_key(item)  # the answer token(s) must fit too
        n = fitter.shots_that_fit(lambda m: render(item, m) + tail, len(shots))
        if n < len(shots):
            cut.append("shots")
            shots = shots[:n]
        if not n:
            item, applied = fitter.fit_item(item, lambda it: render(it, 0) + tail)
            cut += applied
        fitter.record(cut)
    return _Request(item, shots, render(item, len(shots)), cut)


def _score_groups(lm: Any, requests: list[Instance], group_of: list[Any]) -> tuple[list, list]:
    """(ll, greedy) per request, and (argmax id, log-prob) per request when the backend exposes it (else None).

    One call per demonstration group (the whole set, or one MMLU subject, and one shot count): every request of a call
    shares the group's few-shot prefix, which the prefix-sharing backend encodes once. Any backend gives the same
    numbers.
    """
    by_group: dict[Any, list[int]] = defaultdict(list)
    for req in requests:
        by_group[group_of[req.doc_id]].append(req.idx)
    scores: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
    tops: list[tuple[int, float] | None] = [None] * len(requests)
    for idxs in by_group.values():
        results = lm.loglikelihood([requests[j] for j in idxs], disable_tqdm=True)
        got = getattr(lm, "last_top", None)
        for n, (j, res) in enumerate(zip(idxs, results, strict=True)):
            scores[j] = res
            tops[j] = got[n] if got is not None else None
    return scores, tops


def _decode(lm: Any, token_id: int) -> str | None:
    tokenizer = getattr(lm, "tokenizer", None)
    return tokenizer.decode([token_id]) if tokenizer is not None else None


def _pick(keys: list[str], lls: list[float], greedy: list[bool], scoring: str) -> str | None:
    """The predicted key: the best option (``options``), or the option the model would write greedily (paper)."""
    if scoring == "options":
        return keys[max(range(len(keys)), key=lambda j: (lls[j], -j))]  # ties → first option, deterministically
    written = [j for j in range(len(keys)) if greedy[j]]
    # Several greedy options only happen when one key's tokens extend another's: the longer, likelier one wins.
    return keys[max(written, key=lambda j: (lls[j], -j))] if written else None


def top_token(
    lm: Any,
    items: list[BenchmarkItem],
    *,
    k: int,
    seed: int | None,
    pool: FewshotPool | None,
    scoring: str = "full_vocab",
    fitter: PromptFitter | None = None,
) -> list[dict]:
    """Top-token answers: ``full_vocab`` (paper, HELM) or ``options`` (lm-eval's restricted multiple choice).

    Both score the log-likelihood of every option's answer key (`` A``, `` yes``) after the prompt. ``options``
    predicts the likeliest key. ``full_vocab`` predicts the key the model would *write*: the one whose whole
    continuation is its greedy (argmax over the full vocabulary) continuation; for one-token keys (letters on every
    Llama/Mistral/GPT-2-style tokenizer) that is exactly "the argmax token at the answer position equals the key's
    token". No option written → the item is unparsed and wrong, as in the paper (section 4.3).
    """
    built: list[_Request] = []
    candidates: dict[str, list[BenchmarkItem]] = {}
    for item in items:
        shots: list[BenchmarkItem] = []
        if k and pool is not None and seed is not None:
            group = _group_key(item)
            if group not in candidates:
                candidates[group] = _select_shots(pool, group, k, seed)
            shots = _shots_for(item, candidates[group], k)
        built.append(_fit_top_token(item, shots, fitter))
    requests: list[Instance] = []
    for i, b in enumerate(built):
        for key in b.item.options:
            args = (b.context, prompts.answer_key(b.item, key))
            requests.append(Instance("loglikelihood", {"id": b.item.id}, args, len(requests), (b.item.benchmark, i, 1)))
    groups = [(_group_key(b.item), len(b.shots)) for b in built]
    scores, tops = _score_groups(lm, requests, groups)
    records, pos = [], 0
    for item, b in zip(items, built, strict=True):
        keys = list(item.options)
        lls = [float(s[0]) for s in scores[pos : pos + len(keys)]]
        greedy = [bool(s[1]) for s in scores[pos : pos + len(keys)]]
        top = tops[pos]
        pos += len(keys)
        parsed = _pick(keys, lls, greedy, scoring)
        rec = _base_record(item, "top_token" if scoring == "full_vocab" else "top_token_options")
        rec.update(
            seed=seed,
            num_fewshot=k,
            shots=len(b.shots),
            prompt=b.context,
            output=None,
            loglikelihoods={key: round(v, 6) for key, v in zip(keys, lls, strict=True)},
            parsed=parsed,
            correct=parsed == item.answer,
            confidence=_confidence(lls, keys, parsed, top, scoring),
            top_token=_decode(lm, top[0]) if top is not None else None,
        )
        if b.cut:
            rec["truncated"] = b.cut
        records.append(rec)
    return records


def _confidence(lls: list[float], keys: list[str], parsed: str | None, top, scoring: str) -> float:
    """The model's probability of its answer: softmax over the options (``options``), or over the full vocabulary.

    Under ``full_vocab`` it is the written option's probability; when no option is written it is the top token's
    probability if the backend reports it (``meditron``), else the likeliest option's (a lower bound).
    """
    if scoring == "options":
        return round(max(_softmax(lls)), 6)
    if parsed is not None:
        return round(math.exp(lls[keys.index(parsed)]), 6)
    if top is not None:
        return round(math.exp(top[1]), 6)
    return round(math.exp(max(lls)), 6)


def mc2(lm: Any, items: list[BenchmarkItem], *, fitter: PromptFitter | None = None) -> list[dict]:
    """TruthfulQA MC2 (lm-eval ``truthfulqa_mc2``): the normalised probability mass of the true answers.

    Every answer of ``item.meta["mc2_choices"]`` is scored by its log-likelihood after ``prompts.mc2_prompt``; the
    item's score is sum(p of true answers) / sum(p of all answers), computed in log space (no underflow to 0/0).
    """
    requests: list[Instance] = []
    contexts: list[str] = []
    for i, item in enumerate(items):
        choices = item.meta["mc2_choices"]
        context, cut = _fit_mc2(item, choices, fitter)
        contexts.append(context)
        for text in choices:
            args = (context, prompts.mc2_continuation(text))
            requests.append(Instance("loglikelihood", {"id": item.id}, args, len(requests), (item.benchmark, i, 1)))
    scores, _ = _score_groups(lm, requests, [0] * len(items))
    records, pos = [], 0
    for item, context in zip(items, contexts, strict=True):
        choices, labels = item.meta["mc2_choices"], item.meta["mc2_labels"]
        lls = [float(s[0]) for s in scores[pos : pos + len(choices)]]
        pos += len(choices)
        p_true = math.exp(_logsumexp([v for v, y in zip(lls, labels, strict=True) if y]) - _logsumexp(lls))
        best = max(range(len(lls)), key=lambda j: (lls[j], -j))
        rec = _base_record(item, "mc2")
        rec.update(
            prompt=context,
            output=None,
            mc2_loglikelihoods=[round(v, 6) for v in lls],
            parsed=choices[best],
            correct=round(p_true, 6),
        )
        records.append(rec)
    return records


def _fit_mc2(item: BenchmarkItem, choices: list[str], fitter: PromptFitter | None) -> tuple[str, list[str]]:
    if fitter is None or not fitter.active:
        return prompts.mc2_prompt(item), []
    tail = prompts.mc2_continuation(max(choices, key=len))
    n = fitter.shots_that_fit(lambda m: prompts.mc2_prompt(item, m) + tail, 6)
    cut = ["shots"] if n < 6 else []
    if not n:
        item, applied = fitter.fit_item(item, lambda it: prompts.mc2_prompt(it, 0) + tail)
        cut += applied
    fitter.record(cut)
    return prompts.mc2_prompt(item, n), cut


def _logsumexp(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def generative_prompt(lm: Any, item: BenchmarkItem, mode: str, chat_api: bool) -> str:
    """The text a generative mode sends for ``item``: the chat messages as JSON over a chat API, the model's chat
    template for ``chat`` (and for CoT when the tokenizer has one), else the plain CoT prompt. The context rule
    counts the tokens of this same text (``eval.runners``)."""
    cot = mode in ("cot", "sc_cot")
    if chat_api:
        return json.dumps(prompts.chat_messages(item, cot=cot), ensure_ascii=False)
    tokenizer = getattr(lm, "tokenizer", None)
    if mode == "chat" or (cot and tokenizer is not None and getattr(tokenizer, "chat_template", None)):
        return prompts.render_chat(tokenizer, prompts.chat_messages(item, cot=cot))
    return prompts.cot_prompt(item)


def _gen_request(
    lm: Any, item: BenchmarkItem, idx: int, *, mode: str, chat_api: bool, gen: dict
) -> tuple[Instance, str]:
    text = generative_prompt(lm, item, mode, chat_api)
    arg: Any = text
    if chat_api:
        from lm_eval.models.api_models import JsonChatStr

        arg = JsonChatStr(text)
    gen = dict(gen)  # one dict per request: backends may normalise it in place
    return Instance("generate_until", {"id": item.id}, (arg, gen), idx, (item.benchmark, idx, 1)), text


def _gen_kwargs(max_new_tokens: int, temperature: float) -> dict[str, Any]:
    if temperature > 0:
        return {"until": STOP_SEQUENCES, "max_gen_toks": max_new_tokens, "do_sample": True, "temperature": temperature}
    return {"until": STOP_SEQUENCES, "max_gen_toks": max_new_tokens, "do_sample": False}


def _sample_all(
    lm: Any, items: list[BenchmarkItem], *, mode: str, gen: dict, samples: int, seed: int, chat_api: bool
) -> tuple[list[str], list[list[str]], list[list[float | None]]]:
    """(prompts, outputs per item, mean log-prob per output) for ``samples`` samples of every item.

    A backend with ``generate_samples`` (``meditron``) gets every sample of every question in one call: it encodes
    each prompt once and seeds each sample by (seed, prompt, sample index). Any other lm-eval backend gets one
    ``generate_until`` call per sample with torch seeded ``seed + s`` (and, over HTTP, ``seed + s`` in the request),
    as lm-eval's API allows; those give no log-probabilities.
    """
    import torch

    if hasattr(lm, "generate_samples") and not chat_api:
        built = [_gen_request(lm, item, i, mode=mode, chat_api=False, gen=gen) for i, item in enumerate(items)]
        groups = lm.generate_samples([r for r, _ in built], samples, seed) if built else []
        return (
            [t for _, t in built],
            [[x.text for x in g] for g in groups],
            [[x.mean_logprob for x in g] for g in groups],
        )
    outputs: list[list[str]] = [[] for _ in items]
    texts: list[str] = []
    for s in range(samples):
        per_sample = dict(gen, seed=seed + s) if chat_api else dict(gen)
        built = [_gen_request(lm, x, i, mode=mode, chat_api=chat_api, gen=per_sample) for i, x in enumerate(items)]
        texts = [t for _, t in built]
        torch.manual_seed(seed + s)  # sample s of every run uses the same RNG stream: reproducible votes
        for i, out in enumerate(lm.generate_until([r for r, _ in built], disable_tqdm=True) if built else []):
            outputs[i].append(out if isinstance(out, str) else "")
    return texts, outputs, [[None] * len(o) for o in outputs]


def generate(
    lm: Any,
    items: list[BenchmarkItem],
    *,
    mode: str,
    max_new_tokens: int,
    samples: int = 1,
    temperature: float = 0.0,
    seed: int = 1234,
    chat_api: bool = False,
) -> list[dict]:
    """Greedy (cot, chat) or sampled (sc_cot) generation, answers parsed by ``parse_answer``; majority vote for sc_cot.

    SC-CoT records keep every sample, its parsed vote, its mean token log-probability (None when the backend gives
    none) and how the vote was decided (``tie_break``: majority, logprob or a seeded random draw; see
    :func:`~meditron.eval.metrics.majority_vote`).
    """
    gen = _gen_kwargs(max_new_tokens, temperature)
    texts, outputs, logprobs = _sample_all(
        lm, items, mode=mode, gen=gen, samples=samples, seed=seed, chat_api=chat_api
    )
    records = []
    for item, text, outs, lps in zip(items, texts, outputs, logprobs, strict=True):
        parsed_each = [parse_answer(o, item.options) for o in outs]
        rec = _base_record(item, mode)
        if samples > 1:
            parsed, tie_break = majority_vote(parsed_each, lps, tie_seed=f"{seed}:{item.id}")
            rec.update(
                votes=parsed_each,
                sample_logprobs=[None if x is None else round(x, 6) for x in lps],
                tie_break=tie_break,
                seed=seed,
            )
        else:
            parsed = parsed_each[0] if parsed_each else None
        rec.update(prompt=text, output=outs[0] if samples == 1 else outs, parsed=parsed, correct=parsed == item.answer)
        records.append(rec)
    return records


def per_item_mean(runs: dict[str, list[dict]]) -> list[dict]:
    """Collapse per-seed records into one record per item with the fraction of seeds that were correct."""
    by_id: dict[str, list[dict]] = defaultdict(list)
    order: list[str] = []
    for recs in runs.values():
        for r in recs:
            if r["id"] not in by_id:
                order.append(r["id"])
            by_id[r["id"]].append(r)
    merged = []
    for item_id in order:
        group = by_id[item_id]
        first = dict(group[0])
        first["correct"] = sum(r["correct"] for r in group) / len(group)
        merged.append(first)
    return merged
