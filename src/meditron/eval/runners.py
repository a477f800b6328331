"""One runner per evaluation mode, found by name in ``RUNNERS`` (``run_eval`` loops over benchmarks × modes).

A runner takes the shared :class:`Session` (config, models, context budget) and one :class:`BenchRun` (a benchmark's
evaluated items, few-shot pool, prompt fitters) and returns a :class:`ModeResult`: the summary that goes to
``results.json`` and the per-item records written to ``items/<bench>/``. Adding a mode = one function + one entry.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meditron.benchmarks import BenchmarkItem, BenchmarkSet, prompts
from meditron.errors import ConfigError, MeditronError
from meditron.eval import modes as M
from meditron.eval import report as R
from meditron.eval.config import EvalConfig
from meditron.eval.context import PromptFitter, token_counter

#: Modes scored by log-likelihood (one model load serves them all); the rest generate text.
LOGLIKELIHOOD_MODES = ("top_token", "top_token_options", "mc2")

#: How ``top_token`` finds the full-vocabulary argmax on each backend (results.json ``top_token_basis``).
TOP_TOKEN_BASIS = {
    "meditron": "full-vocabulary argmax from the logits (top token recorded for every item)",
    "hf": "full-vocabulary argmax via lm-eval's is_greedy (top token recorded only when it is an option)",
    "vllm": "full-vocabulary argmax via lm-eval's is_greedy (top token recorded only when it is an option)",
    "openai": "top-k logprobs (k=1) returned by the server: its top-1 token is the argmax when the server ranks the "
    "full vocabulary (meditron serve does)",
}


@dataclass
class Session:
    """What every runner shares: the config, the loaded models and the context budget."""

    cfg: EvalConfig
    lm_ll: Any = None
    lm_gen: Any = None
    max_context: int | None = None
    max_context_source: str = ""

    @property
    def chat_api(self) -> bool:
        return self.cfg.backend == "openai"

    def fitter(self, generative: bool) -> PromptFitter:
        """A fresh prompt fitter for one benchmark: the log-likelihood budget, or that minus the generation budget."""
        lm = self.lm_gen if generative else self.lm_ll
        count = token_counter(lm, self.cfg.tokenizer if generative and self.chat_api else None)
        budget = self.max_context
        if budget is not None and generative:
            budget -= self.cfg.max_new_tokens
            if budget <= 0:
                raise ConfigError(
                    f"eval.max_new_tokens {self.cfg.max_new_tokens} leaves no room for a prompt in the model's "
                    f"context of {self.max_context} tokens ({self.max_context_source}); lower eval.max_new_tokens"
                )
        return PromptFitter(count, budget)


@dataclass
class BenchRun:
    """One benchmark's evaluated items, its few-shot pool and the fitters that counted the prompts cut."""

    name: str
    bset: BenchmarkSet
    items: list[BenchmarkItem]
    pool: M.FewshotPool | None
    items_dir: Path
    fitters: dict[str, PromptFitter] = field(default_factory=dict)

    def fitter(self, session: Session, generative: bool) -> PromptFitter:
        key = "generative" if generative else "loglikelihood"
        if key not in self.fitters:
            self.fitters[key] = session.fitter(generative)
        return self.fitters[key]


@dataclass
class ModeResult:
    """A mode's summary for results.json, its merged per-item records, and its reliability bins (top-token modes)."""

    summary: dict[str, Any]
    records: list[dict[str, Any]]
    ece_bins: list[dict] | None = None


def say(text: str) -> None:
    """One progress line per pass on stderr (evaluations run for hours on real models)."""
    print(f"eval: {text}", file=sys.stderr, flush=True)


def _scored(fn: Callable, lm: Any, items: list, cfg: EvalConfig, **kw: Any) -> list[dict]:
    """Run a log-likelihood pass; an HTTP server without prompt log-probabilities gets a clear error, not a KeyError."""
    if cfg.backend != "openai":
        return fn(lm, items, **kw)
    try:
        return fn(lm, items, **kw)
    except Exception as e:  # lm-eval raises assorted errors when a server returns no prompt logprobs
        raise MeditronError(
            f"top_token over HTTP failed ({type(e).__name__}: {e}); it needs a /v1/completions endpoint that returns "
            f"prompt log-probabilities (echo=true, logprobs>=1) at {cfg.base_url} (meditron serve does, with its "
            "transformers backend); otherwise use modes cot/sc_cot/chat there, or a local --backend meditron"
        ) from None


def run_top_token(s: Session, b: BenchRun, mode: str) -> ModeResult:
    """Zero-shot, then k-shot per seed (mean ± std over seeds) in either top-token scoring (``modes.SCORINGS``)."""
    cfg, scoring = s.cfg, M.SCORINGS[mode]
    fitter = b.fitter(s, generative=False)

    def score(k: int, seed: int | None, pool: M.FewshotPool | None) -> list[dict]:
        return _scored(M.top_token, s.lm_ll, b.items, cfg, k=k, seed=seed, pool=pool, scoring=scoring, fitter=fitter)

    zero = score(0, None, None)
    runs: dict[str, list[dict]] = {}
    if cfg.num_fewshot and b.pool is not None:
        for seed in cfg.seeds:
            say(f"{b.name} {mode} {cfg.num_fewshot}-shot, seed {seed}")
            runs[str(seed)] = score(cfg.num_fewshot, seed, b.pool)
    merged = M.per_item_mean(runs) if runs else zero
    summary = R.top_token_summary(zero, runs, merged, bootstrap_samples=cfg.bootstrap_samples)
    summary["scoring"] = "full vocabulary (paper)" if scoring == "full_vocab" else "best of the option keys (lm-eval)"
    if scoring == "full_vocab":
        summary["top_token_basis"] = TOP_TOKEN_BASIS[cfg.backend]
        summary["not_an_option"] = sum(1 for r in merged if r["parsed"] is None)
    R.write_jsonl(b.items_dir / f"{mode}_zero_shot.jsonl", zero)
    for seed, recs in runs.items():
        R.write_jsonl(b.items_dir / f"{mode}_{cfg.num_fewshot}shot_seed{seed}.jsonl", recs)
    bins = summary["ece"]["bins"] if runs else summary["zero_shot"]["ece"]["bins"]
    return ModeResult(summary, merged, bins)


def run_mc2(s: Session, b: BenchRun, mode: str) -> ModeResult:
    """TruthfulQA MC2: mean normalised probability of the true answers (lm-eval ``truthfulqa_mc2``)."""
    records = _scored(M.mc2, s.lm_ll, b.items, s.cfg, fitter=b.fitter(s, generative=False))
    summary = R.summarize(records, bootstrap_samples=s.cfg.bootstrap_samples)
    R.write_jsonl(b.items_dir / "mc2.jsonl", records)
    return ModeResult(summary, records)


def render_generative(lm: Any, item: BenchmarkItem, mode: str, chat_api: bool) -> str:
    """The text a generative mode sends for ``item`` (as ``modes.generate`` renders it), for counting its tokens."""
    cot = mode in ("cot", "sc_cot")
    tokenizer = getattr(lm, "tokenizer", None)
    messages = prompts.chat_messages(item, cot=cot)
    if chat_api:
        return json.dumps(messages, ensure_ascii=False)
    if mode == "chat" or (cot and tokenizer is not None and getattr(tokenizer, "chat_template", None)):
        return prompts.render_chat(tokenizer, messages)
    return prompts.cot_prompt(item)


def run_generative(s: Session, b: BenchRun, mode: str) -> ModeResult:
    """cot / chat (greedy) and sc_cot (sampled, majority vote), on prompts fitted to the context budget."""
    cfg, sc = s.cfg, mode == "sc_cot"
    fitter = b.fitter(s, generative=True)
    items, cut_of = [], {}
    for item in b.items:
        fitted, rules = fitter.fit_item(item, lambda it: render_generative(s.lm_gen, it, mode, s.chat_api))
        fitter.record(rules)
        if rules:
            cut_of[item.id] = rules
        items.append(fitted)
    records = M.generate(
        s.lm_gen,
        items,
        mode=mode,
        max_new_tokens=cfg.max_new_tokens,
        samples=cfg.sc_samples if sc else 1,
        temperature=cfg.sc_temperature if sc else 0.0,
        seed=cfg.seeds[0] if cfg.seeds else 1234,
        chat_api=s.chat_api,
    )
    for rec in records:
        if rec["id"] in cut_of:
            rec["truncated"] = cut_of[rec["id"]]
    summary = R.summarize(records, bootstrap_samples=cfg.bootstrap_samples)
    if sc:
        summary.update(samples=cfg.sc_samples, temperature=cfg.sc_temperature)
    R.write_jsonl(b.items_dir / f"{mode}.jsonl", records)
    return ModeResult(summary, records)


#: Mode name → runner. ``mc2`` is added by ``run_eval`` for benchmarks whose items carry MC2 targets (TruthfulQA).
RUNNERS: dict[str, Callable[[Session, BenchRun, str], ModeResult]] = {
    "top_token": run_top_token,
    "top_token_options": run_top_token,
    "mc2": run_mc2,
    "cot": run_generative,
    "sc_cot": run_generative,
    "chat": run_generative,
}
