"""The answer parser on real-world phrasings of model replies (CoT endings, chat replies, markdown, yes/no/maybe)."""

from __future__ import annotations

import pytest

from meditron.eval import parse_answer

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
