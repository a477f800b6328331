"""One runner per evaluation mode, found by name in ``RUNNERS`` (``run_eval`` loops over benchmarks × modes).

A runner takes the shared :class:`Session` (config, models, context budget) and one :class:`BenchRun` (a benchmark's
evaluated items, few-shot pool, prompt fitters) and returns a :class:`ModeResult`: the summary that goes to
``results.json`` and the per-item records written to ``items/<bench>/``. A :class:`Runner` also says what the mode
needs (a log-likelihood model or a generating one, a few-shot pool), so ``run_eval`` asks it instead of testing mode
names. Adding a mode = one function + one :class:`Runner` + one ``RUNNERS`` entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meditron.benchmarks import BenchmarkItem, BenchmarkSet
from meditron.errors import ConfigError, MeditronError
from meditron.eval import modes as M
from meditron.eval import report as R
from meditron.eval.config import EvalConfig
from meditron.eval.context import PromptFitter, token_counter
from meditron.registry import resolve

log = logging.getLogger(__name__)

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


def top_token_pass(s: Session, b: BenchRun, mode: str, k: int, seed: int | None) -> list[dict]:
    """One scoring pass of a top-token mode over the benchmark's items: zero-shot (``k=0``) or k-shot drawn with
    ``seed`` from the benchmark's pool. The one place both ``meditron eval`` and in-training evaluation
    (``eval/downstream.py``) score top-token items."""
    fitter = b.fitter(s, generative=False)
    pool = b.pool if k else None
    return _scored(M.top_token, s.lm_ll, b.items, s.cfg, k=k, seed=seed, pool=pool, scoring=M.SCORINGS[mode],
                   fitter=fitter)  # fmt: skip


def fewshot_seeds(cfg: EvalConfig, b: BenchRun) -> list[int]:
    """The seeds of the k-shot passes: ``eval.seeds`` when shots are asked for and the benchmark has a pool."""
    return list(cfg.seeds) if cfg.num_fewshot and b.pool is not None else []


def run_top_token(s: Session, b: BenchRun, mode: str) -> ModeResult:
    """Zero-shot, then k-shot per seed (mean ± std over seeds) in either top-token scoring (``modes.SCORINGS``)."""
    cfg, scoring = s.cfg, M.SCORINGS[mode]
    zero = top_token_pass(s, b, mode, 0, None)
    runs: dict[str, list[dict]] = {}
    for seed in fewshot_seeds(cfg, b):
        log.info("%s %s %d-shot, seed %d", b.name, mode, cfg.num_fewshot, seed)
        runs[str(seed)] = top_token_pass(s, b, mode, cfg.num_fewshot, seed)
    merged = M.per_item_mean(runs) if runs else zero
    summary = R.top_token_summary(zero, runs, merged, bootstrap_samples=cfg.bootstrap_samples)
    summary["scoring"] = "full vocabulary (paper)" if scoring == "full_vocab" else "best of the option keys (lm-eval)"
    if scoring == "full_vocab":
        summary["top_token_basis"] = TOP_TOKEN_BASIS[cfg.backend]
        summary["not_an_option"] = summary["unparsed"]  # the paper's scorer leaves an item unparsed only then
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


def run_generative(s: Session, b: BenchRun, mode: str) -> ModeResult:
    """cot / chat (greedy) and sc_cot (sampled, majority vote), on prompts fitted to the context budget."""
    cfg, sc = s.cfg, mode == "sc_cot"
    fitter = b.fitter(s, generative=True)
    items, cut_of = [], {}
    for item in b.items:
        fitted, rules = fitter.fit_item(item, lambda it: M.generative_prompt(s.lm_gen, it, mode, s.chat_api))
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


@dataclass(frozen=True)
class Runner:
    """A mode's runner and what it needs, so ``run_eval`` loads models and pools without testing mode names."""

    run: Callable[[Session, BenchRun, str], ModeResult]
    #: Scored by log-likelihood (one model load serves every such mode); otherwise the mode generates text.
    loglikelihood: bool
    #: Draws k-shot demonstrations from the few-shot pool; on items carrying MC2 targets (TruthfulQA) it brings
    #: ``mc2`` along, which scores the same way.
    fewshot: bool = False


TOP_TOKEN = Runner(run_top_token, loglikelihood=True, fewshot=True)
MC2 = Runner(run_mc2, loglikelihood=True)
GENERATIVE = Runner(run_generative, loglikelihood=False)

#: Mode name → its :class:`Runner` (resolved with ``meditron.registry.resolve``). ``mc2`` is not a configurable mode:
#: :func:`modes_for` adds it for benchmarks whose items carry MC2 targets (TruthfulQA).
RUNNERS: dict[str, str] = {
    "top_token": "meditron.eval.runners:TOP_TOKEN",
    "top_token_options": "meditron.eval.runners:TOP_TOKEN",
    "mc2": "meditron.eval.runners:MC2",
    "cot": "meditron.eval.runners:GENERATIVE",
    "sc_cot": "meditron.eval.runners:GENERATIVE",
    "chat": "meditron.eval.runners:GENERATIVE",
}


def runner(mode: str) -> Runner:
    """The registered runner of ``mode``; an unknown name is a ConfigError listing the valid ones."""
    return resolve(RUNNERS, mode, "eval.modes entry")


def modes_for(cfg: EvalConfig, items: list[BenchmarkItem]) -> list[str]:
    """The configured modes, plus ``mc2`` for TruthfulQA items (MC2 targets) when a few-shot top-token mode is asked."""
    modes = list(cfg.modes)
    if items and "mc2_choices" in items[0].meta and any(runner(m).fewshot for m in modes):
        modes.append("mc2")
    return modes


def wants_fewshot_pool(cfg: EvalConfig) -> bool:
    """Whether any configured mode draws demonstrations (and ``eval.num_fewshot`` asks for some)."""
    return bool(cfg.num_fewshot) and any(runner(m).fewshot for m in cfg.modes)


def needs_loglikelihood(cfg: EvalConfig) -> bool:
    return any(runner(m).loglikelihood for m in cfg.modes)


def needs_generation(cfg: EvalConfig) -> bool:
    return any(not runner(m).loglikelihood for m in cfg.modes)
