"""Turn a benchmark-style item into chat messages, with the evaluation stage's own prompt functions.

``meditron.benchmarks.prompts`` owns MEDITRON's per-task instructions and the chat layout; using it here means the model is
trained on exactly the system and user messages that chat-mode evaluation later renders (the CoT variant adds the
same "Let's think step by step." trigger the CoT chat mode uses, and puts the explanation before "the answer is X").
"""

from __future__ import annotations

from meditron.benchmarks import BenchmarkItem
from meditron.benchmarks.prompts import training_messages


def to_messages(item: BenchmarkItem, explanation: str | None = None) -> list[dict[str, str]]:
    """System + user + assistant messages of one item; with ``explanation``, the chain-of-thought variant."""
    return training_messages(item, explanation)


def guard_text(item: BenchmarkItem) -> str:
    """The item's own words (question, options, context) for the contamination guard, without the instruction."""
    parts = [item.question]
    if item.benchmark != "pubmedqa":
        parts.extend(item.options.values())
    if item.context:
        parts.append(item.context)
    return "\n".join(p for p in parts if p)
