"""MedMCQA-style one-line questions (Indian postgraduate entrance exam style), hand-written, plus items phrased from
the clinical facts (both in ``facts/medmcqa.yaml``), rendered in the official dump's row layout.
"""

from __future__ import annotations

import random
import uuid

from .clinical import CONDITIONS
from .facts import load

OPTION_KEYS = ("opa", "opb", "opc", "opd")


def _row(rng: random.Random, subject: str, topic: str | None, question: str, correct: str,
         wrong: list[str], exp: str, choice_type: str, cop: int) -> dict:
    opts = wrong[: cop - 1] + [correct] + wrong[cop - 1 :]
    letter = "abcd"[cop - 1]
    row = {"question": question, "exp": f"Ans. is '{letter}' i.e., {correct}. {exp}", "cop": cop}
    row.update(dict(zip(OPTION_KEYS, opts, strict=True)))
    row.update({"subject_name": subject, "topic_name": topic, "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "choice_type": choice_type})
    return row


def build(seed: int = 11) -> list[dict]:
    """All 100 items in a fixed shuffled order, correct options cycling over a..d."""
    rng = random.Random(seed)
    conds = {c.key: c for c in CONDITIONS}
    facts = load("medmcqa")
    raw: list[tuple] = [(h["subject"], h["topic"], h["question"], h["answer"], list(h["distractors"]),
                         h["explanation"], h["choice_type"]) for h in facts["hand"]]
    for d in facts["derived"]:  # answer and distractors from a question kind of conditions.yaml
        kind = conds[d["condition"]].kinds[d["kind"]]
        raw.append((d["subject"], d["topic"], d["question"], kind.answer, list(kind.distractors[:3]),
                    d["explanation"], "single"))
    rng.shuffle(raw)
    return [_row(rng, *r, cop=(i % 4) + 1) for i, r in enumerate(raw)]
