"""Prompts that fit the model's context window, cut by one documented rule and counted once.

Without this, lm-eval cuts every over-long request from the left, silently dropping the instruction (and for a long
PubMedQA abstract part of the question), and logs one warning per request (1,228 lines on a 128-token model). Here
every prompt is measured with the model's own tokenizer against ``eval.max_context`` (default: the model's
``max_position_embeddings``; minus ``eval.max_new_tokens`` for the generative modes) and, when too long, shortened in
this order, each step only as far as needed:

1. **demonstrations**: drop the last shots, one at a time (the item keeps the most shots that fit; items that keep all
   shots keep the seed's shared prefix);
2. **context** (PubMedQA abstract) cut from the left, whole words;
3. **question** stem cut from the left, whole words;
4. **instruction** cut from the left, whole words.

The options and the ``Answer:`` line are never cut. An item whose options alone exceed the budget is sent as is (the
backend then truncates it from the left) and counted under ``over_budget``. Counts per rule go to results.json
(``data[bench]["truncated_prompts"]``, ``data[bench]["truncation"]``) and one line on stderr; lm-eval's per-request
truncation warnings are silenced and counted (``backend_truncations``, 0 when the rule worked).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from meditron.benchmarks import BenchmarkItem
from meditron.errors import ConfigError
from meditron.model_info import read_model_context

#: The order in which parts of a prompt are shortened (see the module docstring).
CUT_ORDER = ("context", "question", "instruction")


def model_max_context(model_dir: str | Path | None) -> tuple[int | None, str]:
    """(maximum context, where it came from) of the model in ``model_dir``, read by the one helper every stage uses
    (:func:`meditron.model_info.read_model_context`); (None, why) when there is no readable config.json."""
    if model_dir is None or not (Path(model_dir) / "config.json").is_file():
        return None, "unknown (no local config.json)"
    try:
        ctx = read_model_context(model_dir)
    except (OSError, json.JSONDecodeError):
        return None, f"unknown ({Path(model_dir) / 'config.json'} is not readable JSON)"
    if ctx.max_context is None:
        return None, "unknown (config.json names no maximum context)"
    return ctx.max_context, f"config.json {ctx.key}"


def resolve_max_context(configured: int | None, model_dir: str | Path | None) -> tuple[int | None, str]:
    """``eval.max_context`` if set (never above the model's own limit), else the model's; (None, why) if unknown."""
    native, source = model_max_context(model_dir)
    if configured is None:
        return native, source
    if native is not None and configured > native:
        raise ConfigError(
            f"eval.max_context {configured} exceeds the model's maximum context {native} ({source} in {model_dir}); "
            f"set eval.max_context <= {native} or leave it unset"
        )
    return configured, "eval.max_context"


def token_counter(lm: Any, tokenizer_dir: str | None = None) -> Callable[[str], int] | None:
    """Tokens of a text as the backend encodes it (its ``tok_encode``), or with a local tokenizer; None if neither."""
    tokenizer = getattr(lm, "tokenizer", None)
    if tokenizer is not None and hasattr(lm, "tok_encode"):
        return lambda text: len(lm.tok_encode(text))
    if tokenizer_dir:
        from meditron.tokenizer import load_tokenizer

        tok = load_tokenizer(tokenizer_dir)
        return lambda text: len(tok(text, add_special_tokens=True)["input_ids"])
    return None


def _cut_left(text: str, drop: int) -> str:
    words = text.split(" ")
    return " ".join(words[drop:])


@dataclass
class PromptFitter:
    """Shortens prompts to ``budget`` tokens by the module's rule and counts what it cut, per rule.

    ``count`` is None or ``budget`` None when the context cannot be checked (HTTP chat backend without a local
    tokenizer, no config.json): prompts then pass unchanged and results.json says the check was not done.
    """

    count: Callable[[str], int] | None
    budget: int | None
    cuts: Counter = field(default_factory=Counter)
    prompts_cut: int = 0

    @property
    def active(self) -> bool:
        return self.count is not None and self.budget is not None

    def fits(self, text: str, reserve: int = 0) -> bool:
        return not self.active or self.count(text) + reserve <= self.budget  # type: ignore[misc,operator]

    def shots_that_fit(self, render: Callable[[int], str], k: int) -> int:
        """The most shots ``n <= k`` whose prompt ``render(n)`` fits (0 when none does; the item is cut next)."""
        if not self.active or k == 0 or self.fits(render(k)):
            return k
        for n in range(k - 1, -1, -1):
            if self.fits(render(n)):
                return n
        return 0

    def fit_item(self, item: BenchmarkItem, render: Callable[[BenchmarkItem], str], reserve: int = 0) -> tuple:
        """(item, rules applied): the item with context, question, then instruction cut from the left until it fits."""
        if self.fits(render(item), reserve):
            return item, []
        applied: list[str] = []
        for part in CUT_ORDER:
            text = self._part(item, part)
            if not text:
                continue
            applied.append(part)
            words = len(text.split(" "))
            # The fewest words dropped from the left of this part that make the prompt fit (binary search).
            lo, hi = 1, words
            if not self.fits(render(self._with(item, part, words)), reserve):
                item = self._with(item, part, words)
                continue
            while lo < hi:
                mid = (lo + hi) // 2
                if self.fits(render(self._with(item, part, mid)), reserve):
                    hi = mid
                else:
                    lo = mid + 1
            return self._with(item, part, lo), applied
        return item, [*applied, "over_budget"]

    @staticmethod
    def _part(item: BenchmarkItem, part: str) -> str:
        if part == "instruction":
            from meditron.benchmarks.prompts import instruction

            return instruction(item)
        return (item.context if part == "context" else item.question) or ""

    def _with(self, item: BenchmarkItem, part: str, drop: int) -> BenchmarkItem:
        cut = _cut_left(self._part(item, part), drop)
        if part == "context":
            return replace(item, context=cut)
        if part == "question":
            return replace(item, question=cut)
        return replace(item, meta={**item.meta, "instruction": cut})

    def record(self, rules: list[str]) -> None:
        """Count one prompt cut by ``rules`` (e.g. ``["shots"]``, ``["shots", "context"]``); no-op when empty."""
        if rules:
            self.prompts_cut += 1
            self.cuts.update(rules)


class _TruncationWarnings(logging.Filter):
    """Drops lm-eval's per-request "truncat…" warnings and counts them (our rule should leave none to drop)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "truncat" in record.getMessage().lower():
            self.count += 1
            return False
        return True


_LM_EVAL_LOGGERS = (
    "lm_eval.models.huggingface",
    "lm_eval.models.vllm_causallms",
    "lm_eval.models.api_models",
    "lm_eval.models.utils",
)


@contextlib.contextmanager
def quiet_backend_truncation() -> Iterator[_TruncationWarnings]:
    """Within the block, lm-eval's truncation warnings are counted (``.count``) instead of printed one per request."""
    flt = _TruncationWarnings()
    loggers = [logging.getLogger(name) for name in _LM_EVAL_LOGGERS]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield flt
    finally:
        for lg in loggers:
            lg.removeFilter(flt)
