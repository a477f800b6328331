"""Study designs (``facts/studies.yaml``) and the abstract renderer shared by PubMedQA items, MEDLINE citations and JATS papers.

A study is a domain (population, intervention versus comparator, outcome) plus a finding (yes / no / maybe). Numbers
are drawn from a seeded generator so that the results agree with the finding: a "yes" study shows a clear effect
with a confidence interval excluding no effect, a "no" study a null result, a "maybe" study a borderline or
subgroup-only effect.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .facts import load

_FACTS = load("studies")
DOMAINS: dict[str, dict] = _FACTS["domains"]
DESIGNS: list[dict[str, str]] = _FACTS["designs"]
UNITS: dict[str, str] = _FACTS["units"]




@dataclass(frozen=True)
class Study:
    domain: str
    population: str
    intervention: str
    comparator: str
    rationale: str
    outcome: str
    outcome_kind: str
    verb: str
    design: str
    design_verb: str
    decision: str  # yes | no | maybe
    n1: int
    n2: int
    year: int
    numbers: dict
    mesh: tuple[str, ...]

    @property
    def plural(self) -> bool:
        """Whether the intervention phrase is grammatically plural ("text-message reminders")."""
        last = self.intervention.split()[-1]
        return last.endswith("s") and not last.endswith("ss")

    @property
    def question(self) -> str:
        if self.design.startswith(("prospective", "retrospective")):
            return f"Is {self.intervention} associated with {'better' if self.verb in ('improve', 'increase') else 'lower'} {self.outcome} in {self.population}?"
        return f"{'Do' if self.plural else 'Does'} {self.intervention} {self.verb} {self.outcome} in {self.population}?"

    @property
    def title(self) -> str:
        verb = self.verb if self.plural else {"reduce": "reduces", "shorten": "shortens", "improve": "improves",
                                              "increase": "increases", "lower": "lowers"}[self.verb]
        if self.decision == "yes":
            return f"{self.intervention[0].upper()}{self.intervention[1:]} {verb} {self.outcome} in {self.population}: a {self.design}."
        if self.decision == "no":
            return f"Effect of {self.intervention} on {self.outcome} in {self.population}: a {self.design}."
        return f"{self.intervention[0].upper()}{self.intervention[1:]} and {self.outcome} in {self.population}: results of a {self.design}."


def draw(domain: str, pop_i: int, int_i: int, out_i: int, decision: str, rng: random.Random) -> Study:
    d = DOMAINS[domain]
    iv, oc = d["interventions"][int_i], d["outcomes"][out_i]
    inter, comp, why = iv["intervention"], iv["comparator"], iv["rationale"]
    outcome, kind, verb = oc["outcome"], oc["kind"], oc["verb"]
    chosen = DESIGNS[rng.randrange(len(DESIGNS))]
    design, dverb = chosen["design"], chosen["verb"]
    n1, n2 = rng.randint(60, 480), rng.randint(60, 480)
    nums: dict = {}
    if kind == "rate":
        base = rng.uniform(0.12, 0.38)
        better = verb in ("increase", "improve")
        factor = {"yes": rng.uniform(0.55, 0.72), "no": rng.uniform(0.94, 1.05), "maybe": rng.uniform(0.8, 0.88)}[
            decision
        ]
        r2 = base
        r1 = min(0.95, base / factor) if better else base * factor
        e1, e2 = round(r1 * n1), round(r2 * n2)
        ratio = (e1 / n1) / (e2 / n2)
        spread = {"yes": 0.14, "no": 0.22, "maybe": 0.2}[decision]
        lo, hi = ratio * (1 - spread), ratio * (1 + spread)
        if decision == "no":
            lo, hi = min(lo, 0.9), max(hi, 1.12)
        if decision == "maybe":
            lo, hi = (min(lo, 0.78), 1.02) if ratio < 1 else (0.98, max(hi, 1.3))
        nums = {"e1": e1, "e2": e2, "ratio": ratio, "lo": lo, "hi": hi}
    else:
        mean2 = {"days": rng.uniform(6, 12), "percent": rng.uniform(7.8, 9.2), "kg": rng.uniform(82, 96),
                 "score": rng.uniform(40, 62), "g": rng.uniform(3000, 3350), "min": rng.uniform(70, 110),
                 "m": rng.uniform(280, 380), "mg": rng.uniform(30, 80), "mlmin": rng.uniform(-4, -1)}[kind]
        sd = abs(mean2) * rng.uniform(0.15, 0.3) + 0.5
        rel = {"yes": rng.uniform(0.12, 0.22), "no": rng.uniform(-0.02, 0.02), "maybe": rng.uniform(0.05, 0.08)}[
            decision
        ]
        up = verb in ("increase", "improve")
        if kind == "mlmin":
            mean1 = mean2 + abs(mean2) * (rel * 6)
        else:
            mean1 = mean2 * (1 + rel) if up else mean2 * (1 - rel)
        diff = mean1 - mean2
        half = abs(diff) * 0.45 + sd * 0.15 if decision == "yes" else abs(diff) + sd * 0.2
        nums = {"m1": mean1, "m2": mean2, "sd1": sd * rng.uniform(0.9, 1.1), "sd2": sd, "diff": diff,
                "lo": diff - half, "hi": diff + half}
    p = {"yes": rng.choice(["<0.001", "0.002", "0.004", "0.01"]), "no": f"{rng.uniform(0.3, 0.9):.2f}",
         "maybe": f"{rng.uniform(0.052, 0.09):.3f}"}[decision]
    nums["p"] = p
    return Study(domain, d["populations"][pop_i], inter, comp, why, outcome, kind, verb, design, dverb, decision,
                 n1, n2, rng.randint(2009, 2023), nums, tuple(d["mesh"]))


def _fmt_num(x: float, kind: str) -> str:
    if kind in ("g", "m", "min"):
        return f"{x:.0f}"
    return f"{x:.1f}"


def background(s: Study, rng: random.Random) -> str:
    d = DOMAINS[s.domain]
    aim = rng.choice((
        f"We aimed to determine whether {s.intervention} would {s.verb} {s.outcome} compared with {s.comparator}.",
        f"This study assessed the effect of {s.intervention}, compared with {s.comparator}, on {s.outcome}.",
        f"The aim of this study was to evaluate {s.intervention} in {s.population}.",
    ))
    return f"{rng.choice(d['background'])} {s.rationale} {aim}"


def methods(s: Study, rng: random.Random) -> str:
    total = s.n1 + s.n2
    who = f"{total} {s.population}"
    if s.design == "randomised controlled trial":
        first = f"{s.design_verb} {who} to {s.intervention} (n = {s.n1}) or {s.comparator} (n = {s.n2})."
    elif s.design == "cluster randomised trial":
        first = f"{s.design_verb} {who}, to {s.intervention} or {s.comparator}."
    else:
        first = f"{s.design_verb} {who}, of whom {s.n1} received {s.intervention} and {s.n2} {s.comparator}."
    primary = f"The primary outcome was {s.outcome}."
    if "random" in s.design:
        extra = rng.choice(("Analyses followed the intention-to-treat principle.",
                            "Outcomes were assessed by investigators unaware of group allocation."))
    else:
        extra = rng.choice(("Multivariable regression was used to adjust for age, sex and comorbidity.",
                            "Propensity scores were used to balance baseline characteristics between groups."))
    return f"{first} {primary} {extra}"


def results(s: Study, rng: random.Random) -> str:
    n = s.numbers
    if s.outcome_kind == "rate":
        pct1, pct2 = 100 * n["e1"] / s.n1, 100 * n["e2"] / s.n2
        measure = "relative risk" if "random" in s.design else "adjusted odds ratio"
        text = (f"{s.outcome[0].upper()}{s.outcome[1:]} occurred in {n['e1']} of {s.n1} participants "
                f"({pct1:.1f}%) in the intervention group and in {n['e2']} of {s.n2} "
                f"({pct2:.1f}%) in the comparison group ({measure} {n['ratio']:.2f}, 95% CI {n['lo']:.2f} to "
                f"{n['hi']:.2f}; P = {n['p'].lstrip('<')})".replace("P = 0.001", "P < 0.001") + ".")
    else:
        unit = UNITS[s.outcome_kind]
        k = s.outcome_kind
        text = (f"The mean {s.outcome} was {_fmt_num(n['m1'], k)} {unit} (SD {_fmt_num(n['sd1'], k)}) with "
                f"{s.intervention} and {_fmt_num(n['m2'], k)} {unit} (SD {_fmt_num(n['sd2'], k)}) with "
                f"{s.comparator} (mean difference {_fmt_num(n['diff'], k)} {unit}, 95% CI "
                f"{_fmt_num(n['lo'], k)} to {_fmt_num(n['hi'], k)}; P {'<' if n['p'].startswith('<') else '='} "
                f"{n['p'].lstrip('<')}).")
    if s.decision == "maybe":
        text += rng.choice((
            " In a prespecified subgroup of participants older than 70 years the effect was larger and "
            "statistically significant.",
            " The effect was consistent in direction across sites but the confidence interval was wide.",
            " A per-protocol analysis suggested a benefit among participants who completed the programme.",
        ))
    elif s.decision == "no":
        text += rng.choice((" Secondary outcomes did not differ between the groups.",
                            " Adverse events were similar in both groups.", ""))
    else:
        text += rng.choice((" Secondary outcomes also favoured the intervention.",
                            " No serious adverse events were attributed to the intervention.", ""))
    return text


def conclusion(s: Study, rng: random.Random) -> str:
    if s.decision == "yes":
        return rng.choice((
            f"In {s.population}, {s.intervention} {dict(reduce='reduced', shorten='shortened', improve='improved', increase='increased', lower='lowered')[s.verb]} {s.outcome} compared with {s.comparator}.",
            f"{s.intervention[0].upper()}{s.intervention[1:]} {'are' if s.plural else 'is'} an effective way to {s.verb} {s.outcome} in {s.population} and should be considered in routine care.",
        ))
    if s.decision == "no":
        return rng.choice((
            f"{s.intervention[0].upper()}{s.intervention[1:]} did not {s.verb} {s.outcome} in {s.population}.",
            f"We found no evidence that {s.intervention} {s.verb if s.plural else s.verb + 's'} {s.outcome}; routine use in {s.population} is not supported.",
        ))
    return rng.choice((
        f"{s.intervention[0].upper()}{s.intervention[1:]} may {s.verb} {s.outcome} in some {s.population}, but the evidence is inconclusive and a larger trial is needed.",
        f"The benefit of {s.intervention} on {s.outcome} was uncertain; it may be limited to selected patients.",
    ))


def draw_many(count: int, rng: random.Random, taken: set[tuple[str, int, int]], decisions: list[str],
              avoid: set[tuple[str, str, str]] = frozenset()) -> list[Study]:
    """``count`` studies with distinct (domain, intervention, outcome) triples not already in ``taken``, and whose
    (domain, population, outcome) and (domain, population, intervention) are not in ``avoid``."""
    studies = []
    domains = sorted(DOMAINS)
    while len(studies) < count:
        dom = domains[rng.randrange(len(domains))]
        ii, oi = rng.randrange(4), rng.randrange(4)
        if (dom, ii, oi) in taken:
            continue
        st = draw(dom, rng.randrange(3), ii, oi, decisions[len(studies) % len(decisions)], rng)
        if (dom, st.population, st.outcome) in avoid or (dom, st.population, st.intervention) in avoid:
            continue
        taken.add((dom, ii, oi))
        studies.append(st)
    return studies
