"""PubMedQA items (PQA-L layout with expert-style labels, PQA-A artificial layout) rendered from study designs."""

from __future__ import annotations

import random

from .facts import load
from .studies import Study, background, conclusion, methods, results

_FACTS = load("studies")
LABEL_SETS: list[list[str]] = _FACTS["label_sets"]
COMMON_MESH: list[str] = _FACTS["common_mesh"]
DESIGN_MESH: dict[str, str] = _FACTS["design_mesh"]


def contexts(s: Study, rng: random.Random) -> tuple[list[str], list[str]]:
    labels = LABEL_SETS[rng.randrange(len(LABEL_SETS))]
    bg, me, re_ = background(s, rng), methods(s, rng), results(s, rng)
    if len(labels) == 4:
        first, _, rest = me.partition(". ")
        setting = rng.choice(("The study took place in three teaching hospitals.",
                              "Participants were recruited from 12 sites between 2015 and 2019.",
                              "The setting was a regional health service serving about 400,000 people."))
        return [bg, f"{first}.", f"{setting} {rest}".strip(), re_], list(labels)
    return [bg, me, re_], list(labels)


def meshes(s: Study, rng: random.Random) -> list[str]:
    terms = set(s.mesh) | {DESIGN_MESH[s.design]} | set(rng.sample(COMMON_MESH, 3))
    return sorted(terms)


def pqal_item(s: Study, rng: random.Random) -> dict:
    ctx, labels = contexts(s, rng)
    other = {"yes": "maybe", "no": "maybe", "maybe": "yes"}[s.decision]
    return {
        "QUESTION": s.question,
        "CONTEXTS": ctx,
        "LABELS": labels,
        "MESHES": meshes(s, rng),
        "YEAR": str(s.year),
        "reasoning_required_pred": s.decision if rng.random() < 0.8 else other,
        "reasoning_free_pred": s.decision if rng.random() < 0.7 else other,
        "final_decision": s.decision,
        "LONG_ANSWER": conclusion(s, rng),
    }


def pqaa_item(s: Study, rng: random.Random) -> dict:
    item = pqal_item(s, rng)
    del item["reasoning_required_pred"], item["reasoning_free_pred"]
    return item
