"""The clinical facts of ``facts/conditions.yaml`` as typed records: the raw material of the sample's exam questions.

Each record holds a presentation (patient, complaint, history, vital signs, examination, investigations) and a few
question kinds, each with its stem, the correct answer and four plausible distractors. The facts follow standard
teaching; the wording is original to this project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .facts import load


@dataclass(frozen=True)
class Kind:
    """One question a presentation can support: the stem, the right answer, four wrong ones."""

    stem: str
    answer: str
    distractors: tuple[str, str, str, str]


@dataclass(frozen=True)
class Condition:
    key: str
    dx: str
    specialty: str
    age: tuple[int, int]
    sex: str  # "M" | "F"
    setting: str  # "ed" | "office" | "hospital"
    duration: str
    symptoms: tuple[str, ...]
    history: str
    vitals: tuple[float, int, int, str] | None
    exam: str
    labs: str
    kinds: dict[str, Kind] = field(default_factory=dict)
    age_text: str = ""  # overrides "{age}-year-old" for infants ("5-week-old")
    presentation: str = ""  # overrides "comes to ... because of ..." for patients who are brought in


def _condition(record: dict, stems: dict[str, str]) -> Condition:
    """One record of ``conditions.yaml``; a kind's stem is a name from ``stems`` or the stem itself."""
    key = record.get("key", "?")
    kinds = {}
    for name, kind in record["kinds"].items():
        if len(kind["distractors"]) != 4:
            raise ValueError(f"conditions.yaml: condition {key!r}, kind {name!r}: needs 4 distractors, "
                             f"has {len(kind['distractors'])}")
        kinds[name] = Kind(stems.get(kind["stem"], kind["stem"]), kind["answer"], tuple(kind["distractors"]))
    vitals = record["vitals"]
    fields = {**record, "age": tuple(record["age"]), "symptoms": tuple(record["symptoms"]),
              "vitals": tuple(vitals) if vitals else None, "kinds": kinds}
    try:
        return Condition(**fields)
    except TypeError as err:  # a missing or unknown field
        raise ValueError(f"conditions.yaml: condition {key!r}: {err}") from None


def _conditions() -> tuple[Condition, ...]:
    facts = load("conditions")
    return tuple(_condition(record, facts["stems"]) for record in facts["conditions"])


CONDITIONS: tuple[Condition, ...] = _conditions()



