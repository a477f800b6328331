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
from dataclasses import dataclass, field
from typing import Any

from lm_eval.api.instance import Instance

from meditron.eval import prompts
from meditron.eval.benchmarks import BenchmarkItem
from meditron.eval.metrics import majority_vote
from meditron.eval.parse import parse_answer

STOP_SEQUENCES = ["<|im_end|>", "\n\nQuestion:", "\n\nContext:"]


@dataclass
class FewshotPool:
    """Where demonstrations come from: the official train/dev file, or other items of the test set."""

    items: list[BenchmarkItem]
    source: str  # "train/dev file <name>" or "test set (other items, excluding the question itself)"
    from_test: bool


@dataclass
class ModeOutput:
    """Per-item records of one mode; ``runs`` holds per-seed records for few-shot top_token."""

    records: list[dict[str, Any]]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


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


def top_token(
    lm: Any, items: list[BenchmarkItem], *, k: int, seed: int | None, pool: FewshotPool | None
) -> list[dict]:
    """Log-likelihood of each option key after the prompt; the prediction is the highest-scoring key."""
    requests: list[Instance] = []
    prompts_of: list[str] = []
    candidates: dict[str, list[BenchmarkItem]] = {}
    for i, item in enumerate(items):
        shots: list[BenchmarkItem] = []
        if k and pool is not None and seed is not None:
            group = _group_key(item)
            if group not in candidates:
                candidates[group] = _select_shots(pool, group, k, seed)
            shots = _shots_for(item, candidates[group], k)
        context = prompts.fewshot_prefix(prompts.instruction(item), shots) + prompts.top_token_prompt(item)
        prompts_of.append(context)
        for key in item.options:
            requests.append(
                Instance(
                    "loglikelihood",
                    {"id": item.id},
                    (context, prompts.answer_key(item, key)),
                    len(requests),
                    (item.benchmark, i, 1),
                )
            )
    # One call per demonstration group (the whole set, or one MMLU subject): every request of a call shares the
    # group's few-shot prefix, which the prefix-sharing backend encodes once. Any backend gives the same numbers.
    by_group: dict[str, list[int]] = defaultdict(list)
    for req in requests:
        by_group[_group_key(items[req.doc_id])].append(req.idx)
    scores: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
    for idxs in by_group.values():
        for j, res in zip(idxs, lm.loglikelihood([requests[j] for j in idxs], disable_tqdm=True), strict=True):
            scores[j] = res
    records, pos = [], 0
    for item, context in zip(items, prompts_of, strict=True):
        keys = list(item.options)
        lls = [float(s[0]) for s in scores[pos : pos + len(keys)]]
        pos += len(keys)
        probs = _softmax(lls)
        best = max(range(len(keys)), key=lambda j: (lls[j], -j))  # ties → first option, deterministically
        rec = _base_record(item, "top_token")
        rec.update(
            seed=seed,
            num_fewshot=k,
            prompt=context,
            output=None,
            loglikelihoods={key: round(v, 6) for key, v in zip(keys, lls, strict=True)},
            parsed=keys[best],
            confidence=round(probs[best], 6),
            correct=keys[best] == item.answer,
        )
        records.append(rec)
    return records


def _gen_request(
    lm: Any, item: BenchmarkItem, idx: int, *, mode: str, chat_api: bool, gen: dict
) -> tuple[Instance, str]:
    cot = mode in ("cot", "sc_cot")
    gen = dict(gen)  # one dict per request: backends may normalise it in place
    tokenizer = getattr(lm, "tokenizer", None)
    if chat_api:
        from lm_eval.models.api_models import JsonChatStr

        messages = prompts.chat_messages(item, cot=cot)
        text = json.dumps(messages, ensure_ascii=False)
        return Instance(
            "generate_until", {"id": item.id}, (JsonChatStr(text), gen), idx, (item.benchmark, idx, 1)
        ), text
    if mode == "chat" or (cot and tokenizer is not None and getattr(tokenizer, "chat_template", None)):
        text = prompts.render_chat(tokenizer, prompts.chat_messages(item, cot=cot))
    else:
        text = prompts.cot_prompt(item)
    return Instance("generate_until", {"id": item.id}, (text, gen), idx, (item.benchmark, idx, 1)), text


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
