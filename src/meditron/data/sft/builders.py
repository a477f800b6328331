"""Builders: official benchmark *training* files (and users' chat JSONL) → chat examples, with counts.

Layouts are the official ones; the benchmark files are read by :func:`meditron.benchmarks.read_benchmark_file`, the
reader (and validation, and error messages) of the evaluation stage's test files:

* MedQA-USMLE JSONL: ``{"question", "options": {"A": ..., "D"|"E": ...}, "answer_idx"}`` (4- or 5-option files);
* MedMCQA JSON Lines: ``{"question", "opa".."opd", "cop": 1..4, "exp", "id"}`` (ids unique); the CoT variant uses
  ``exp``;
* PubMedQA ``{PMID: {"QUESTION", "CONTEXTS", "final_decision", "LONG_ANSWER"}}`` (labelled ``ori_pqal.json`` and
  artificial ``ori_pqaa.json``); the CoT variant uses ``LONG_ANSWER``;
* users' chat JSONL: ``{"messages": [{"role", "content"}, ...]}`` kept as is (optional ``"id"``).

A malformed record raises ``InputError`` naming the file and line (or PMID): training on half-read data is worse than
stopping. Records that are valid but unusable for the requested variant (a CoT example without an explanation) are
skipped and counted in the report, never silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from meditron.benchmarks import read_benchmark_file
from meditron.errors import ConfigError, InputError
from meditron.json_io import read_json_lines

from .format import guard_text, to_messages
from .records import BuildReport, ChatExample

ROLES = ("system", "user", "assistant")


def _explanation(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _medqa(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    if cot:
        raise ConfigError(f"finetune dataset {path}: MedQA files have no explanation, so cot: true is not available")
    for item in read_benchmark_file("medqa", path, split="train"):
        report.num_records += 1
        example_id = f"{path.name}:{item.meta['line']}"
        yield ChatExample(example_id, "medqa", to_messages(item), guard_text(item), {"answer": item.answer})


def _with_explanation(
    kind: str, path: Path, cot: bool, report: BuildReport, explanation_key: str
) -> Iterator[ChatExample]:
    """MedMCQA and PubMedQA: the plain variant, or the CoT one from the item's explanation (skipped, and counted,
    when the record has none)."""
    for item in read_benchmark_file(kind, path, split="train"):
        report.num_records += 1
        explanation = _explanation(item.meta.get(explanation_key))
        if cot and explanation is None:
            report.skip("cot-without-explanation")
            continue
        messages = to_messages(item, explanation if cot else None)
        yield ChatExample(item.id, kind, messages, guard_text(item), {"answer": item.answer})


def _medmcqa(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    return _with_explanation("medmcqa", path, cot, report, "explanation")


def _pubmedqa(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    return _with_explanation("pubmedqa", path, cot, report, "long_answer")


def _chat(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    for lineno, row in read_json_lines(path):
        report.num_records += 1
        where = f"line {lineno}"
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InputError(
                "field 'messages' must be a non-empty list of {role, content}", path=str(path), record=where
            )
        clean = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise InputError(
                    f"message {i} must be {{'role': one of {', '.join(ROLES)}, 'content': str}}, got {m!r:.80}",
                    path=str(path),
                    record=where,
                )
            clean.append({"role": m["role"], "content": m["content"]})
        if not any(m["role"] == "assistant" and m["content"] for m in clean):
            report.skip("no-assistant-turn")
            continue
        if clean[-1]["role"] != "assistant":
            raise InputError(
                "the last message must be the assistant's (it is what the model learns)", path=str(path), record=where
            )
        ident = row.get("id") if isinstance(row.get("id"), (str, int)) else f"{path.name}:{lineno}"
        text = "\n".join(m["content"] for m in clean if m["role"] == "user")
        yield ChatExample(f"chat-{ident}", "chat", clean, text)


BUILDERS: dict[str, Callable[[Path, bool, BuildReport], Iterator[ChatExample]]] = {
    "medqa": _medqa,
    "medmcqa": _medmcqa,
    "pubmedqa": _pubmedqa,
    "chat": _chat,
}


def build_examples(
    kind: str, path: str | Path, *, cot: bool = False, limit: int | None = None, name: str | None = None
) -> tuple[list[ChatExample], BuildReport]:
    """Read one training file of ``kind`` (``medqa``, ``medmcqa``, ``pubmedqa``, ``chat``) into chat examples.

    ``limit`` keeps the first N examples (after skips). Returns the examples and a report of the counts.
    """
    if kind not in BUILDERS:
        raise ConfigError(f"unknown finetune dataset kind {kind!r}; valid: {', '.join(BUILDERS)}")
    p = Path(path)
    if not p.is_file():
        raise InputError("finetune dataset file does not exist", path=str(p))
    report = BuildReport(source=name or kind + ("-cot" if cot else ""), path=str(p), kind=kind, cot=cot)
    examples: list[ChatExample] = []
    for ex in BUILDERS[kind](p, cot, report):
        if limit is not None and len(examples) >= limit:
            report.skip("over-limit")
            continue
        examples.append(ex)
    report.num_examples = len(examples)
    return examples, report
