"""The grammar of ``corpus.mixtures`` (config layer: pydantic only, so loading a config imports nothing heavy).

``corpus.mixtures: {name: {source: share}}`` names blends of one curated corpus's sources (the paper's Tables 7-8:
PMC, PMC + Replay, GAP + Replay...). Each share is one of:

* a **weight**, a YAML float (written with a decimal point or an exponent: ``1.0``, ``0.25``, ``1e-2``), ≥ 0. A
  mixture of weights blends its sources in proportion to them (``{papers: 0.9, replay: 0.1}``: 9 of 10 sequences
  from papers), however many tokens each source holds;
* a **token budget**: a YAML integer (``2000000``, ``2_000_000``) or a string of a number and a unit ``K`` (10³),
  ``M`` (10⁶), ``B`` or ``G`` (10⁹), ``T`` (10¹²), case-insensitive (``"500M"``, ``"1.5B"``), rounded to whole tokens.
  At least 1,000 tokens: a smaller integer is almost surely a weight written without its decimal point;
* a budget **in epochs** of the source: ``"<number>x"`` (``"1x"``, ``"2.5x"``), that many passes over the source's
  training tokens (``"1x"`` on every source is the natural mix, as if the mixture were not there).

A mixture is either all weights or all budgets (tokens and epochs mix: both are token counts once the source sizes are
known); ``0`` or ``0.0`` leaves a source out, the same as not listing it. Budgets resolve when the mixture manifest is
built (``meditron.corpus.mixtures``): proportions ``budget / Σ budgets`` and epochs ``budget / available tokens``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator

#: the smallest token budget (a smaller integer is read as a forgotten decimal point, e.g. ``papers: 1``)
MIN_BUDGET_TOKENS = 1000
UNITS = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_BUDGET = re.compile(r"^\s*(\d[\d_]*(?:\.\d+)?)\s*([kmbgt]?)\s*$", re.IGNORECASE)
_EPOCHS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Share:
    """One source's share in a mixture: ``kind`` weight | tokens | epochs, and its ``amount`` (0 = left out)."""

    kind: Literal["weight", "tokens", "epochs"]
    amount: float

    @property
    def is_budget(self) -> bool:
        return self.kind != "weight"

    def budget_tokens(self, available: int) -> int:
        """The budget in tokens, given the source's training tokens (epochs × available, rounded)."""
        return round(self.amount * available) if self.kind == "epochs" else int(self.amount)


def parse_share(value: Any) -> Share:
    """A config value → :class:`Share`; a ValueError says what was wrong and how to write it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is neither a weight (e.g. 0.5), a token budget (e.g. 2B) nor epochs (e.g. 1x)")
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"a weight must be a finite number ≥ 0, got {value}")
        return Share("weight", value)
    if isinstance(value, int):
        return _budget(value, repr(value))
    epochs = _EPOCHS.match(value)
    if epochs:
        return Share("epochs", float(epochs.group(1)))
    budget = _BUDGET.match(value)
    if not budget:
        raise ValueError(
            f"{value!r} is not a token budget: write a number with an optional unit K, M, B or T (e.g. '500M', "
            "'1.5B', 2000000), epochs of the source (e.g. '2x'), or a float weight (e.g. 0.5)"
        )
    number, unit = budget.group(1).replace("_", ""), budget.group(2).lower()
    return _budget(round(float(number) * UNITS[unit]), repr(value))


def _budget(tokens: int, written: str) -> Share:
    if tokens == 0:
        return Share("tokens", 0)
    if tokens < MIN_BUDGET_TOKENS:
        raise ValueError(
            f"{written} reads as a token budget of {tokens} token{'s' if tokens > 1 else ''}; a budget is at least {MIN_BUDGET_TOKENS} tokens "
            f"('1K'): for a weight write it as a float (e.g. {tokens}.0)"
        )
    return Share("tokens", tokens)


def mixture_shares(spec: dict[str, Any]) -> dict[str, Share]:
    """Every source of one mixture with its parsed share (sources left out with 0 included, amount 0)."""
    return {source: parse_share(value) for source, value in spec.items()}


def _check_value(value: Any) -> Any:
    parse_share(value)
    return value  # the config keeps what the user wrote: dumps round-trip


def _check_mixture(spec: dict[str, Any]) -> dict[str, Any]:
    shares = {s: v for s, v in mixture_shares(spec).items() if v.amount > 0}
    if not shares:
        raise ValueError("a mixture needs at least one source with a share above 0")
    weights = sorted(s for s, v in shares.items() if not v.is_budget)
    budgets = sorted(s for s, v in shares.items() if v.is_budget)
    if weights and budgets:
        raise ValueError(
            f"mixes weights ({', '.join(weights)}) and token budgets ({', '.join(budgets)}): a mixture is either all "
            "weights (floats such as 0.5) or all budgets (tokens such as '2B', or epochs such as '1x')"
        )
    return spec


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"mixture name {name!r} must be letters, digits, '_', '-' or '.' (it names a file)")
    return name


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is neither a weight (e.g. 0.5), a token budget (e.g. 2B) nor epochs (e.g. 1x)")
    return value


#: one source's share as written in the config (validated by :func:`parse_share`)
ShareValue = Annotated[float | int | str, BeforeValidator(_reject_bool), AfterValidator(_check_value)]
#: ``{source: share}`` of one mixture
MixtureSpec = Annotated[dict[str, ShareValue], AfterValidator(_check_mixture)]
#: a mixture's name (the file ``<shards>/mixtures/<name>.json``)
MixtureName = Annotated[str, AfterValidator(_check_name)]


def check_mixture_sources(mixtures: dict[str, dict[str, Any]], sources: list[str]) -> None:
    """Every source a mixture names must be a source of the corpus (``corpus.sources``' names)."""
    known = sorted(set(sources))
    for name, spec in mixtures.items():
        unknown = [s for s in spec if s not in known]
        if unknown:
            raise ValueError(
                f"corpus.mixtures.{name} names {', '.join(repr(s) for s in unknown)}, not a source of the corpus "
                f"(corpus.sources: {', '.join(known)})"
            )
