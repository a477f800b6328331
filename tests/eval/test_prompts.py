"""Prompts: the exact text every mode renders, and training conversations equal to chat-mode eval prompts."""

from __future__ import annotations

from meditron.benchmarks import BenchmarkItem
from meditron.benchmarks.prompts import (
    chat_answer,
    chat_messages,
    cot_prompt,
    fewshot_prefix,
    instruction,
    top_token_prompt,
    training_messages,
)

ITEM = BenchmarkItem(
    "medqa4-0001", "medqa4", "Which organ filters blood?", {"A": "Liver", "B": "Kidney", "C": "Skin", "D": "Bone"}, "B"
)
PQA = BenchmarkItem(
    "pubmedqa-1",
    "pubmedqa",
    "Does X cause Y?",
    {"yes": "yes", "no": "no", "maybe": "maybe"},
    "maybe",
    context="Abstract.",
)


def test_rendered_text():
    assert (
        top_token_prompt(ITEM)
        == "Question: Which organ filters blood?\nOptions:\nA. Liver\nB. Kidney\nC. Skin\nD. Bone\nAnswer:"
    )
    assert top_token_prompt(PQA) == "Context: Abstract.\nQuestion: Does X cause Y?\nAnswer:"
    assert "from A to D." in instruction(ITEM)
    assert cot_prompt(ITEM).endswith("D. Bone\nAnswer: Let's think step by step.")
    prefix = fewshot_prefix("SYS", [PQA])
    assert prefix == "SYS\n\nContext: Abstract.\nQuestion: Does X cause Y?\nAnswer: maybe\n\n"


def test_training_messages_equal_eval_messages():
    msgs = training_messages(ITEM)
    assert msgs[:2] == chat_messages(ITEM) and msgs[2] == {"role": "assistant", "content": "The answer is B."}
    cot = training_messages(ITEM, explanation="Kidneys filter plasma.")
    assert cot[:2] == chat_messages(ITEM, cot=True)
    assert cot[2]["content"] == "Kidneys filter plasma.\nTherefore, the answer is B."
    assert chat_answer(PQA) == "The answer is maybe."
