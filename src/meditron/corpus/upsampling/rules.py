"""The upsampling rules engine: a rules file (YAML, data) → a score or a drop per document, as pure functions.

MEDITRON's Table 10 is the default (``paper_rules.yaml`` beside this module). A document's facts (publication types,
MeSH terms, whether its journal is listed, its age, its citations per year) go in; out comes either a drop (the first
``drop`` term found, with its ledger reason) or the score, the sum of each rule's contribution, where a
``conditional`` rule only counts when the other rules already sum to more than 0. Copies are
``1 + scale × score`` rounded probabilistically with a number drawn from ``hash(seed, document id)``, so a document's
copies depend on nothing else (not the task count, not the order).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from meditron.errors import InputError

PAPER_RULES = Path(__file__).with_name("paper_rules.yaml")
TermField = Literal["publication_types", "mesh_terms"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """``score`` for a value ≤ ``max`` (the first such band wins); a band without ``max`` takes every other value."""

    max: float | None = None
    score: float


class TermsRule(_Strict):
    """Publication types or MeSH terms: the scores of the terms the document has, summed; a ``drop`` term removes it."""

    kind: Literal["terms"]
    name: str
    field: TermField
    scores: dict[str, float] = {}
    drop: dict[str, str] = Field(default={}, description="term → the reason written in the ledger")
    conditional: bool = False


class JournalRule(_Strict):
    """``score`` when the document's journal is in ``corpus.upsampling.journals_file``."""

    kind: Literal["journal"]
    name: str
    score: float
    conditional: bool = False


class BandsRule(_Strict):
    """``age``: years from publication to the reference date; ``citations``: citations per year, bands' ``max`` being
    quantiles over ``corpus.upsampling.citations_file``."""

    kind: Literal["age", "citations"]
    name: str
    bands: list[Band]
    conditional: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> BandsRule:
        maxima = [b.max for b in self.bands]
        ordered = sorted(maxima, key=lambda m: math.inf if m is None else m)
        if not maxima or any(m is None for m in maxima[:-1]) or maxima != ordered:
            raise ValueError(f"rule {self.name!r}: bands need increasing `max`, only the last one without `max`")
        if self.kind == "citations" and any(m is not None and not 0 <= m <= 1 for m in maxima):
            raise ValueError(f"rule {self.name!r}: a citations band's `max` is a quantile between 0 and 1")
        return self


Rule = Annotated[TermsRule | JournalRule | BandsRule, Field(discriminator="kind")]


class RuleSet(_Strict):
    """A rules file: its rules in order, and the JATS ``article-type`` → publication type fallback."""

    name: str = "rules"
    article_types: dict[str, str] = {}
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique, got {names}")
        return self

    def terms(self, field_name: TermField) -> frozenset[str]:
        """Every term the rules look at in ``field_name`` (what the MEDLINE join needs to keep)."""
        return frozenset(t for r in self.rules if isinstance(r, TermsRule) and r.field == field_name
                         for t in (*r.scores, *r.drop))

    def quantiles(self) -> list[float]:
        return sorted({b.max for r in self.rules if isinstance(r, BandsRule) and r.kind == "citations"
                       for b in r.bands if b.max is not None})


def load_rules(path: str | Path | None = None) -> RuleSet:
    """The rules file at ``path`` (default: the paper's Table 10); a bad file is an InputError naming it."""
    file = Path(path) if path else PAPER_RULES
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        return RuleSet.model_validate(data)
    except OSError as err:
        raise InputError(f"cannot read the upsampling rules file ({err.strerror})", path=str(file)) from None
    except yaml.YAMLError as err:
        raise InputError(f"upsampling rules file is not valid YAML: {err}", path=str(file)) from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"upsampling rules file: {where}: {first['msg']}", path=str(file)) from None


@dataclass(frozen=True)
class Facts:
    """What the rules look at, for one document (None: unknown, so the rule gives nothing)."""

    publication_types: tuple[str, ...] = ()
    mesh_terms: tuple[str, ...] = ()
    journal_listed: bool = False
    age_years: float | None = None
    citations_per_year: float | None = None


@dataclass(frozen=True)
class Outcome:
    """A drop (``drop_reason``, ``drop_rule``) or a score with each counted rule's contribution and matched labels."""

    score: float = 0.0
    contributions: Mapping[str, float] = field(default_factory=dict)
    matched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    drop_reason: str | None = None
    drop_rule: str | None = None
    skipped_conditional: tuple[str, ...] = ()


def _band(bands: Sequence[Band], value: float, thresholds: Mapping[float, float] | None) -> Band:
    for band in bands:
        if band.max is None:
            return band
        limit = band.max if thresholds is None else thresholds[band.max]
        if value <= limit:
            return band
    return bands[-1]


def _band_label(band: Band) -> str:
    return f"<= {band.max:g}" if band.max is not None else "rest"


def _apply(rule: Rule, facts: Facts, thresholds: Mapping[float, float]) -> tuple[float, tuple[str, ...]]:
    """(contribution, matched labels) of one non-dropping rule."""
    if isinstance(rule, TermsRule):
        found = tuple(t for t in getattr(facts, rule.field) if t in rule.scores)
        return sum(rule.scores[t] for t in found), found
    if isinstance(rule, JournalRule):
        return (rule.score, ("listed",)) if facts.journal_listed else (0.0, ())
    value = facts.age_years if rule.kind == "age" else facts.citations_per_year
    if value is None or (rule.kind == "citations" and not thresholds):
        return 0.0, ()
    band = _band(rule.bands, value, thresholds if rule.kind == "citations" else None)
    return band.score, (_band_label(band),)


def evaluate(rules: RuleSet, facts: Facts, citation_thresholds: Mapping[float, float] | None = None) -> Outcome:
    """Drop or score one document (``citation_thresholds``: quantile → citations per year, from the citations file)."""
    for rule in rules.rules:
        if isinstance(rule, TermsRule) and rule.drop:
            for term in getattr(facts, rule.field):
                if term in rule.drop:
                    return Outcome(drop_reason=rule.drop[term], drop_rule=rule.name, matched={rule.name: (term,)})
    thresholds = citation_thresholds or {}
    contributions: dict[str, float] = {}
    matched: dict[str, tuple[str, ...]] = {}
    for rule in rules.rules:
        if not rule.conditional:
            contributions[rule.name], matched[rule.name] = _apply(rule, facts, thresholds)
    base = sum(contributions.values())
    skipped: list[str] = []
    for rule in rules.rules:
        if rule.conditional:
            if base > 0:
                contributions[rule.name], matched[rule.name] = _apply(rule, facts, thresholds)
            else:
                skipped.append(rule.name)
    return Outcome(score=sum(contributions.values()), contributions=contributions,
                   matched={k: v for k, v in matched.items() if v}, skipped_conditional=tuple(skipped))


def copies_for(score: float, scale: float, draw: float) -> int:
    """``1 + scale × score`` rounded probabilistically: the fractional part is the chance of one more copy, decided by
    ``draw`` (uniform in [0, 1), from ``hash(seed, document id)``). The expected number of copies is exactly
    ``1 + scale × score``."""
    x = round(max(0.0, scale * score), 9)  # 0.1 + 0.2 + ... sums land exactly on whole numbers
    whole = math.floor(x)
    return 1 + whole + (1 if draw < x - whole else 0)
