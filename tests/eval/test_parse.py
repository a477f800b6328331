"""The answer parser on real-world phrasings of model replies (CoT endings, chat replies, markdown, yes/no/maybe)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meditron.eval import parse_answer
from meditron.eval.parse import RULES, parse_answer_explained

ABCD = ["A", "B", "C", "D"]
ABCDE = ["A", "B", "C", "D", "E"]
YNM = ["yes", "no", "maybe"]

LETTER_CASES = [
    ("The answer is (B).", "B"),
    ("Answer: b", "B"),
    ("**C**", "C"),
    ("B) Glomerulus", "B"),
    ("B", "B"),
    ("(d)", "D"),
    ("D.", "D"),
    ("  c  ", "C"),
    ("The answer is C.", "C"),
    ("the answer is a", "A"),
    ("Therefore, the answer is D: Refuse to dictate the operative report.", "D"),
    ("So the correct answer is option B.", "B"),
    ("The correct option is (A) because the nerve is compressed distally.", "A"),
    ("Final answer: E", "E"),
    ("Answer: (C) Melanocytes", "C"),
    ("I would choose B, since it explains the findings.", "B"),
    (
        "Let's think step by step. The patient has X. Option A is wrong because... Option C is wrong. The answer is B.",
        "B",
    ),
    ("A 45-year-old man with ... so the answer is D.", "D"),
    ("**Answer:** C", "C"),
    ("The best answer is **B**.", "B"),
    ("After ruling out A and C, I'd go with **D** here.", "D"),
    ("Answer: [A]", "A"),
    ("The answer is option (E).", "E"),
    ("The answer is: C", "C"),
    ("C. Ureter", "C"),
    ("(A) burst suppression", "A"),
    ("The most likely answer is B) periodic lateralizing discharges.", "B"),
    ("Thus, the answer is C\n\nExplanation: the glomerulus ...", "C"),
    ("The answer is B. Option C is incorrect because it causes bleeding.", "B"),
    ("Option A is wrong. Option D is wrong. So the answer is C.", "C"),
    ("The answer is C. So A is wrong, and D is too.", "C"),
    ("Therefore, B.", "B"),
    ("The answer is B or C.", None),
    ("I am not sure.", None),
    ("", None),
    ("A lesion of the facial nerve causes paralysis.", None),
    ("The answer is F.", None),
]


@pytest.mark.parametrize(("text", "expected"), LETTER_CASES)
def test_letter_phrasings(text, expected):
    assert parse_answer(text, ABCDE if expected == "E" or "(E)" in text else ABCD) == expected


YNM_CASES = [
    ("yes", "yes"),
    ("Maybe.", "maybe"),
    ("maybe", "maybe"),
    ("No, the study found no association.", "no"),
    ("The answer is maybe.", "maybe"),
    ("Answer: yes", "yes"),
    ("**Maybe**", "maybe"),
    ("Based on the context, there is no clear evidence; the answer is maybe", "maybe"),
    ("Therefore, the answer is no.", "no"),
    ("YES", "yes"),
    ("The answer is yes. So no further trials are needed.", "yes"),
    ("The results are inconclusive.", None),
]


@pytest.mark.parametrize(("text", "expected"), YNM_CASES)
def test_yes_no_maybe(text, expected):
    assert parse_answer(text, YNM) == expected


def test_option_text_and_total_on_odd_input():
    options = {"A": "Bladder", "B": "Kidney", "C": "Ureter", "D": "Urethra"}
    assert parse_answer("The answer is Kidney.", options) == "B"
    assert parse_answer("ureter", options) == "C"
    for odd in (None, 3, "\x00\x00", "(" * 10000, "answer is " * 500):
        assert parse_answer(odd, ABCD) is None or parse_answer(odd, ABCD) in ABCD
    assert parse_answer("B", []) is None


def test_count_of_phrasings():
    assert len(LETTER_CASES) + len(YNM_CASES) >= 30


# ---------------------------------------------------------------------------------------------------------------------
# Real-world phrasings pinned as data (tests/eval/parse_cases.yaml): each with its expected answer, reason and source.
# ---------------------------------------------------------------------------------------------------------------------

CASES_FILE = Path(__file__).with_name("parse_cases.yaml")


def _load_cases() -> tuple[dict, list[dict]]:
    data = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return data["presets"], data["cases"]


PRESETS, CASES = _load_cases()


def _options(case: dict) -> list[str] | dict[str, str]:
    opts = case["options"]
    return PRESETS[opts] if isinstance(opts, str) else opts


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}-{c['source']}" for i, c in enumerate(CASES)])
def test_pinned_phrasing(case):
    expected = case["expected"]
    got, rule = parse_answer_explained(case["text"], _options(case))
    assert got == expected, f"{case['reason']} (rule {rule}; source {case['source']})"
    assert parse_answer(case["text"], _options(case)) == expected


def test_cases_are_complete_and_many():
    assert len(CASES) >= 100
    for case in CASES:
        assert set(case) == {"text", "options", "expected", "reason", "source"}, case
        opts = _options(case)
        assert case["expected"] is None or case["expected"] in opts, case
    # Both outcomes are pinned: answers that must parse and prose that must stay unparsed.
    assert sum(c["expected"] is None for c in CASES) >= 25
    assert sum(c["expected"] is not None for c in CASES) >= 75


def test_explained_names_the_rule():
    assert parse_answer_explained("The answer is B.", ABCD) == ("B", "meditron_format")
    assert parse_answer_explained("Answer: **C**", ABCD) == ("C", "answer_statement")
    assert parse_answer_explained("Option B is correct.", ABCD) == ("B", "option_is_correct")
    assert parse_answer_explained("**Option D**", ABCD) == ("D", "bold_key")
    assert parse_answer_explained("C - Warfarin", ABCD) == ("C", "leading_key")
    assert parse_answer_explained("Thus, B.", ABCD) == ("B", "conclusion")
    options = {"A": "Aspirin", "B": "Heparin"}
    assert parse_answer_explained("The answer is heparin.", options) == ("B", "answer_text")
    assert parse_answer_explained("Heparin", options) == ("B", "whole_option_text")
    assert parse_answer_explained("The answer is A or B.", ABCD) == (None, "ambiguous")
    assert parse_answer_explained("No idea.", ABCD) == (None, "unparsed")
    assert parse_answer_explained(None, ABCD) == (None, "unparsed")


def test_rules_are_named_documented_and_all_fire():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert all(r.reason for r in RULES)
    fired = {parse_answer_explained(c["text"], _options(c))[1] for c in CASES}
    fired |= {parse_answer_explained(t, ABCD)[1] for t, _ in LETTER_CASES}
    fired |= {parse_answer_explained(t, YNM)[1] for t, _ in YNM_CASES}
    assert set(names) <= fired, f"rules no pinned case exercises: {set(names) - fired}"


def test_same_answer_for_keys_and_mapping():
    """Callers pass ``item.options`` (a mapping); a key list must give the same letter wherever no text is needed."""
    for text, expected in LETTER_CASES:
        keys = ABCDE if expected == "E" or "(E)" in text else ABCD
        mapping = {k: f"option text {k}" for k in keys}
        assert parse_answer(text, mapping) == expected, text


def test_huge_and_adversarial_inputs_stay_total():
    """100 kB replies built to trigger backtracking: the parser answers (or not) without raising."""
    huge = [
        " " * 100_000,
        "answer is " * 10_000,
        "Therefore, " + "so " * 33_000 + "the answer is C.",
        "A" * 100_000,
        "(" * 100_000,
        "**" * 50_000,
        "A. x\n" * 20_000,
        "The answer is:" + " \t" * 50_000 + "B",
        "\n" * 100_000 + "Answer: D",
        ("Option A is wrong. " * 5_000) + "The answer is B.",
    ]
    results = [parse_answer(text, ABCD) for text in huge]
    assert results[2] == "C"
    assert results[-1] == "B"
    assert results[-2] == "D"
    assert all(r is None or r in ABCD for r in results)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.text(max_size=400),
        st.text(alphabet="ABCDEabcde .,:;()[]*\n-—/&orandtheisanswer", max_size=400),
    ),
    keys=st.sampled_from([ABCD, ABCDE, YNM, {"A": "Aspirin", "B": "aspirin", "C": "", "D": "??"}]),
)
def test_never_raises_and_returns_a_key(text, keys):
    got, rule = parse_answer_explained(text, keys)
    assert got is None or got in list(keys)
    assert isinstance(rule, str) and rule
    assert parse_answer(text, keys) == got
