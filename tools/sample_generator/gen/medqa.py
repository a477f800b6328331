"""MedQA-USMLE style items rendered from the clinical facts.

Two wording families keep training items from copying test items: family "A" (the test files) reads like the
classic USMLE vignette, family "B" (the training files) like a case summary; the same facts never share long runs of
words across the two, which the finetuning contamination guard relies on.
"""

from __future__ import annotations

import random
import re

from .clinical import CONDITIONS, Condition, Kind

LETTERS5 = "ABCDE"
LETTERS4 = "ABCD"
STEP1_KINDS = {"cause", "organism", "dx"}  # basic-science and diagnosis items; management is step 2&3

_STOP = {
    "a", "an", "the", "of", "and", "or", "with", "is", "are", "was", "were", "has", "have", "had", "his", "her",
    "he", "she", "for", "because", "which", "following", "to", "in", "on", "at", "by", "this", "that", "there",
    "be", "it", "its", "as", "from", "most", "likely", "who", "after", "during", "over", "than",
}


def _f(celsius: float) -> str:
    return f"{celsius * 9 / 5 + 32:.1f}".rstrip("0").rstrip(".")


def _noun(cond: Condition, age: int) -> str:
    if cond.age_text or age < 18:
        return "boy" if cond.sex == "M" else "girl"
    return "man" if cond.sex == "M" else "woman"


def _pro(cond: Condition) -> tuple[str, str]:
    return ("He", "His") if cond.sex == "M" else ("She", "Her")


def _join(items: tuple[str, ...]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def _age_phrase(cond: Condition, age: int) -> str:
    return cond.age_text or f"{age}-year-old"


def vignette_a(cond: Condition, rng: random.Random) -> str:
    """USMLE-style stem: who comes where because of what, history, vital signs, examination, studies."""
    age = rng.randint(*cond.age) if cond.age[1] else 0
    noun = _noun(cond, age)
    he, his = _pro(cond)
    child = bool(cond.age_text) or age < 13
    art = "An" if _age_phrase(cond, age)[0] in "8" or _age_phrase(cond, age).startswith(("11-", "18-")) else "A"
    who = f"{art} {_age_phrase(cond, age)} {noun}"
    if cond.presentation:
        first = f"{who} {cond.presentation}."
    else:
        place = {"ed": "the emergency department", "office": "the physician", "hospital": "the physician"}[
            cond.setting
        ]
        verb = f"is brought to {place} by {'his' if cond.sex == 'M' else 'her'} parents" if child else f"comes to {place}"
        first = f"{who} {verb} because of {cond.duration} of {_join(cond.symptoms)}."
    parts = [first, cond.history]
    if cond.vitals:
        t, p, r, bp = cond.vitals
        vit = f"{his} temperature is {t:.1f}°C ({_f(t)}°F), pulse is {p}/min, "
        vit += f"respirations are {r}/min, and blood pressure is {bp} mm Hg." if bp else f"and respirations are {r}/min."
        parts.append(vit.replace(f"{his} temperature", "Temperature") if rng.random() < 0.5 else vit)
    parts.append(f"Physical examination shows the following: {cond.exam}" if rng.random() < 0.2 else cond.exam)
    if cond.labs:
        parts.append(cond.labs)
    return " ".join(p for p in parts if p)


def vignette_b(cond: Condition, rng: random.Random) -> str:
    """Case-summary wording for the training files: same facts, different sentences."""
    age = rng.randint(*cond.age) if cond.age[1] else 0
    noun = _noun(cond, age)
    he, his = _pro(cond)
    where = {"ed": "the emergency room", "office": "an outpatient clinic", "hospital": "the surgical ward"}[
        cond.setting
    ]
    opening = f"You are asked to see a {_age_phrase(cond, age)} {noun} in {where}."
    if cond.symptoms:
        complaint = f"{he} reports {_join(cond.symptoms)}"
        complaint += f", which started {cond.duration} ago." if cond.duration else "."
    else:
        complaint = f"{he} {cond.presentation.replace('is brought to the emergency department', 'arrived')}."
    parts = [opening, complaint, f"Relevant history: {cond.history[0].lower()}{cond.history[1:]}"]
    if cond.vitals:
        t, p, r, bp = cond.vitals
        vit = f"On arrival the heart rate is {p} beats per minute, the respiratory rate {r} breaths per minute"
        vit += f", the blood pressure {bp} mm Hg" if bp else ""
        vit += f", and the temperature {t:.1f}°C."
        parts.append(vit)
    parts.append(f"On examination: {cond.exam[0].lower()}{cond.exam[1:]}")
    if cond.labs:
        parts.append(f"Initial workup: {cond.labs[0].lower()}{cond.labs[1:]}")
    return " ".join(parts)


def metamap_phrases(question: str) -> list[str]:
    """Approximate MetaMap's noun-phrase chunks: split at punctuation and function words, drop single letters."""
    phrases: list[str] = []
    for clause in re.split(r"[,;:?()]|\.(?!\d)", question):
        current: list[str] = []
        for word in clause.split():
            if word.lower() in _STOP:
                if current:
                    phrases.append(" ".join(current))
                current = []
            else:
                current.append(word)
        if current:
            phrases.append(" ".join(current))
    return [p for p in phrases if len(p) > 1]


def _options(kind: Kind, answer_pos: int, n: int) -> dict[str, str]:
    wrong = list(kind.distractors[: n - 1])
    ordered = wrong[:answer_pos] + [kind.answer] + wrong[answer_pos:]
    return dict(zip((LETTERS5 if n == 5 else LETTERS4), ordered, strict=True))


def item(cond: Condition, kind_name: str, question: str, answer_pos5: int, answer_pos4: int) -> tuple[dict, dict]:
    """The same question in the 5-option layout (US/*.jsonl) and the 4-option layout (4_options/*.jsonl)."""
    kind = cond.kinds[kind_name]
    opts5 = _options(kind, answer_pos5, 5)
    opts4 = _options(kind, answer_pos4, 4)
    meta = "step1" if kind_name in STEP1_KINDS else "step2&3"
    five = {"question": question, "answer": kind.answer, "options": opts5, "meta_info": meta,
            "answer_idx": LETTERS5[answer_pos5]}
    four = {"question": question, "answer": kind.answer, "options": opts4, "meta_info": meta,
            "answer_idx": LETTERS4[answer_pos4], "metamap_phrases": metamap_phrases(question)}
    return five, four


def all_pairs() -> list[tuple[Condition, str]]:
    return [(c, k) for c in CONDITIONS for k in c.kinds]


def build(seed: int = 7) -> dict[str, list[dict]]:
    """Test items (family A, one per condition, 30 conditions) and training items (family B, every other kind)."""
    rng = random.Random(seed)
    conds = list(CONDITIONS)
    rng.shuffle(conds)
    test_conds = conds[:30]
    test_pairs = []
    for i, c in enumerate(test_conds):
        kinds = sorted(c.kinds)
        test_pairs.append((c, kinds[i % len(kinds)]))
    used = {(c.key, k) for c, k in test_pairs}
    train_pairs = [(c, k) for c, k in all_pairs() if (c.key, k) not in used]
    rng.shuffle(train_pairs)
    out: dict[str, list] = {"test5": [], "test4": [], "train5": [], "train4": [],
                            "test_keys": [c.key for c, _ in test_pairs]}
    for i, (c, k) in enumerate(test_pairs):
        q = f"{vignette_a(c, rng)} {c.kinds[k].stem}"
        five, four = item(c, k, q, i % 5, (i * 3 + 1) % 4)
        out["test5"].append(five)
        out["test4"].append(four)
    for i, (c, k) in enumerate(train_pairs):
        q = f"{vignette_b(c, rng)} {c.kinds[k].stem}"
        five, four = item(c, k, q, (i + 2) % 5, (i + 1) % 4)
        out["train5"].append(five)
        out["train4"].append(four)
    return out
