"""Every prompt the evaluation renders, in one place, so finetuning trains on exactly what evaluation asks.

The finetuning stage (``meditron.train.sft``) imports ``chat_messages``/``chat_answer`` to build its ChatML examples, so a
model finetuned by this toolkit sees the same system instruction and user layout at training and at test time.

* **Instructions** are MEDITRON's per-task system prompts (``evaluation/instructions.json`` of epfLLM/meditron); the
  letter range is taken from the item ("A to D" for 4 options, "A to E" for 5) instead of MEDITRON's fixed "A to E".
* **top_token** (pretrained models): ``Question: …\\nOptions:\\nA. …\\nAnswer:`` and the continuation `` B``; the
  instruction and the few-shot demonstrations form a *prefix* that is identical for every question of a seed, which is
  what lets the prefix-sharing backend encode it once.
* **cot**: the same question block followed by ``Answer: Let's think step by step.``; the reply is parsed by
  ``parse_answer`` (MEDITRON's "the answer is X").
* **chat**: system + user messages through the tokenizer's ``chat_template`` (ChatML on finetuned models).
"""

from __future__ import annotations

from typing import Any

from meditron.eval.benchmarks import BenchmarkItem

_MC_EXAM = (
    "You are a medical doctor answering realworld medical entrance exam questions. Based on your understanding of "
    "basic and clinical science, medical knowledge, and mechanisms underlying health, disease, patient care, and modes "
    "of therapy, answer the following multiple-choice question. Select one correct answer from A to {last}. Base your "
    "answer on the current and standard practices referenced in medical guidelines."
)
_USMLE = (
    "You are a medical doctor taking the US Medical Licensing Examination. You need to demonstrate your understanding "
    "of basic and clinical science, medical knowledge, and mechanisms underlying health, disease, patient care, and "
    "modes of therapy. Show your ability to apply the knowledge essential for medical practice. For the following "
    "multiple-choice question, select one correct answer from A to {last}. Base your answer on the current and "
    "standard practices referenced in medical guidelines."
)
_PUBMEDQA = (
    "As an expert doctor in clinical science and medical knowledge, can you tell me if the following statement is "
    "correct? Answer yes, no, or maybe."
)

#: Per-benchmark system instruction templates (``{last}`` = the last option letter).
INSTRUCTIONS: dict[str, str] = {
    "medqa4": _USMLE,
    "medqa5": _USMLE,
    "medmcqa": _MC_EXAM,
    "mmlu_medical": _MC_EXAM,
    "pubmedqa": _PUBMEDQA,
}

COT_TRIGGER = "Let's think step by step."
ANSWER_TEMPLATE = "The answer is {answer}."


def instruction(item: BenchmarkItem) -> str:
    """MEDITRON's system instruction for the item's benchmark, with the letter range of its options."""
    last = list(item.options)[-1]
    return INSTRUCTIONS[item.benchmark].format(last=last)


def question_block(item: BenchmarkItem) -> str:
    """The question as the model reads it in every mode: context (PubMedQA), question, lettered options."""
    if item.benchmark == "pubmedqa":
        return f"Context: {item.context or ''}\nQuestion: {item.question}"
    options = "\n".join(f"{k}. {v}" for k, v in item.options.items())
    return f"Question: {item.question}\nOptions:\n{options}"


def answer_key(item: BenchmarkItem, key: str | None = None) -> str:
    """The continuation scored in top_token mode: `` B`` or `` yes`` (leading space, as lm-eval targets)."""
    return " " + (key if key is not None else item.answer)


def fewshot_prefix(system: str, shots: list[BenchmarkItem]) -> str:
    """Instruction + worked demonstrations, identical for every question within a seed (MEDITRON's setup)."""
    parts = [system]
    parts.extend(f"{question_block(s)}\nAnswer:{answer_key(s)}" for s in shots)
    return "\n\n".join(parts) + "\n\n"


def top_token_prompt(item: BenchmarkItem) -> str:
    """The per-question part of a top_token request (appended to ``fewshot_prefix``)."""
    return f"{question_block(item)}\nAnswer:"


def cot_prompt(item: BenchmarkItem) -> str:
    """A plain-text chain-of-thought prompt for models without a chat template."""
    return f"{instruction(item)}\n\n{question_block(item)}\nAnswer: {COT_TRIGGER}"


def chat_messages(item: BenchmarkItem, *, cot: bool = False) -> list[dict[str, str]]:
    """System (MEDITRON's instruction) + user (the question block) messages; ``cot`` appends the CoT trigger."""
    user = question_block(item) + (f"\n\n{COT_TRIGGER}" if cot else "")
    return [{"role": "system", "content": instruction(item)}, {"role": "user", "content": user}]


def chat_answer(item: BenchmarkItem, explanation: str | None = None) -> str:
    """The assistant reply a finetuned model should produce: ``The answer is B.``, after the explanation if given."""
    final = ANSWER_TEMPLATE.format(answer=item.answer)
    if explanation and explanation.strip():
        return f"{explanation.strip()}\nTherefore, {final[0].lower()}{final[1:]}"
    return final


def training_messages(item: BenchmarkItem, explanation: str | None = None) -> list[dict[str, str]]:
    """A full ChatML training conversation (system, user, assistant) equal to what chat-mode evaluation renders."""
    return [
        *chat_messages(item, cot=bool(explanation)),
        {"role": "assistant", "content": chat_answer(item, explanation)},
    ]


def render_chat(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Messages through the tokenizer's chat template, ending with the assistant turn opened for generation.

    Models without a ``chat_template`` cannot be evaluated in chat mode: fail clearly instead of guessing a format.
    """
    if not getattr(tokenizer, "chat_template", None):
        from meditron.errors import ConfigError

        raise ConfigError(
            "chat mode needs a tokenizer with a chat_template (finetuned models store ChatML); "
            "use modes top_token/cot for pretrained models"
        )
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
