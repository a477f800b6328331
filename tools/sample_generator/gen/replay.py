"""General-domain "replay" documents (cooking, history, sports, technology, travel, gardening, money, nature).

MEDITRON mixed ~1% general web text into pretraining to limit forgetting; these play that role in the sample. They are
hand-written seeds (``facts/replay.yaml``) expanded by small templates, so that 80 documents of 300 to 2,000 characters read naturally.
"""

from __future__ import annotations

import itertools
import random

from .facts import load

_FACTS = load("replay")








def _recipe(rng: random.Random, dish: str, ingredients: list[str], steps: list[str]) -> str:
    serves = rng.choice((2, 4, 6))
    intro = rng.choice((
        f"This {dish} is a weeknight favourite: it uses cupboard ingredients and takes less than an hour.",
        f"A good {dish} needs no special equipment, just a little patience at the stove.",
        f"Everyone should have a reliable recipe for {dish}. This version serves {serves}.",
    ))
    body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
    tip = rng.choice(("It keeps in the fridge for three days and freezes well.",
                      "Leftovers make an excellent lunch the next day.",
                      "Taste and adjust the seasoning just before serving."))
    return f"{intro}\n\nIngredients: {', '.join(ingredients)}.\n\nMethod:\n{body}\n\n{tip}"





def _match(rng: random.Random, used: set[frozenset[str]]) -> str:
    """A match report; no two reports share more than one of their stock sentences (no accidental near-dups)."""
    home, away = rng.sample(_FACTS["sports_teams"], 2)
    hg, ag = rng.randint(0, 4), rng.randint(0, 3)
    crowd = rng.randint(4000, 31000)
    day = rng.choice(("Saturday", "Sunday", "Tuesday night", "Friday evening"))
    if hg > ag:
        verdict = rng.choice((f"{home} beat {away} {hg}-{ag} on {day}",
                              f"A {hg}-{ag} home win over {away} lifted {home} up the table on {day}",
                              f"Goals flowed at {home}, who saw off {away} {hg}-{ag} on {day}"))
    elif hg < ag:
        verdict = rng.choice((f"{away} won {ag}-{hg} at {home} on {day}",
                              f"{home} slipped to a {hg}-{ag} home defeat against {away} on {day}",
                              f"Travelling fans celebrated as {away} took a {ag}-{hg} win from {home} on {day}"))
    else:
        verdict = rng.choice((f"{home} and {away} drew {hg}-{ag} on {day}",
                              f"There was nothing to separate {home} and {away} on {day}, the game ending {hg}-{ag}",
                              f"A share of the spoils, {hg}-{ag}, was a fair result for {home} and {away} on {day}"))
    while True:
        parts = [rng.choice(_FACTS["match_open"]), *rng.sample(_FACTS["match_events"], 2),
                 rng.choice(_FACTS["match_close"])]
        pairs = {frozenset(p) for p in itertools.combinations(parts, 2)}
        if not pairs & used:
            used.update(pairs)
            break
    return f"{verdict}, watched by {crowd:,} spectators. {' '.join(parts)}"


def _travel(rng: random.Random, city: str, country: str, sights: str, food: str, season: str) -> str:
    days = rng.choice(("two", "three", "four"))
    opening = rng.choice((
        f"{city}, {country}, rewards slow exploration. In {days} days you can see {sights}, but the city is at its "
        f"best when you wander without a plan.",
        f"Most visitors give {city} only a weekend, which is a mistake. Set aside {days} days for {sights}, and "
        f"leave time to do nothing at all.",
        f"The first thing that strikes you about {city} is the light. The second is how much there is to see: "
        f"{sights}, all within reach in {days} days.",
    ))
    eat = rng.choice((
        f"Food is a large part of any visit: look for {food}, ideally where local people queue.",
        f"Eat where the menus are handwritten. In {city} that usually means {food}, served without ceremony.",
        f"Ask at your guesthouse where they eat themselves; you will be pointed towards {food}.",
    ))
    when = rng.choice((f"The best time to go is {season}.", f"Aim for {season}, when the weather is kindest.",
                       f"Locals recommend {season}; the rest of the year can be crowded or uncomfortable."))
    move = rng.choice((
        "Public transport is cheap and reliable, and much of the centre is walkable in comfortable shoes.",
        "Taxis are inexpensive, but the best way to get around is on foot or by hired bicycle.",
        f"A day pass covers buses and trains across {country.split(',')[0]} cities, and the airport link is quick.",
    ))
    tip = rng.choice(("Book popular sights a few days ahead, especially at weekends.",
                      "Carry a little cash: small shops and market stalls may not take cards.",
                      "Learn a few words of the local language; it is always appreciated."))
    return f"{opening}\n\n{eat} {when} {move}\n\n{tip}"


def _merge_short(texts: list[str], floor: int = 300) -> list[str]:
    """Join consecutive short pieces of one theme until each document reaches ``floor`` characters."""
    out: list[str] = []
    for text in texts:
        if out and len(out[-1]) < floor:
            out[-1] = f"{out[-1]}\n\n{text}"
        else:
            out.append(text)
    if len(out) > 1 and len(out[-1]) < floor:
        last = out.pop()
        out[-1] = f"{out[-1]}\n\n{last}"
    return out


def build(seed: int = 5) -> list[dict]:
    """80 distinct documents of 300-2,000 characters, ids ``replay-0001``..``replay-0080``."""
    rng = random.Random(seed)
    used: set[frozenset[str]] = set()
    facts = _FACTS
    texts: list[str] = [_recipe(rng, r["dish"], r["ingredients"], r["steps"]) for r in facts["recipes"]]
    texts += _merge_short(list(facts["history"]))
    texts += [f"How to {t['topic']}\n\n" + "\n\n".join(t["paragraphs"]) for t in facts["tech"]]
    texts += [_travel(rng, **c) for c in facts["cities"]]
    texts += _merge_short([f"Growing {g['topic']}\n\n{g['text']}" for g in facts["garden"]])
    texts += _merge_short([f"How to {m['topic']}. {m['text']}" for m in facts["money"]])
    for group in facts["more"]:  # one theme per group
        texts += _merge_short(list(group))
    week = 1
    while len(texts) < 80:
        if len(texts) % 4 == 0:
            reports = "\n\n".join(_match(rng, used) for _ in range(rng.randint(3, 4)))
            texts.append(f"Weekend round-up, week {week}\n\n{reports}")
            week += 1
        else:
            texts.append(_match(rng, used))
    rng.shuffle(texts)
    return [{"id": f"replay-{i:04d}", "text": t} for i, t in enumerate(texts, start=1)]
