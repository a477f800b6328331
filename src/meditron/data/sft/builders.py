"""Builders: official benchmark *training* files (and users' chat JSONL) → chat examples, with counts.

Layouts are the official ones (the same as the test files the evaluation stage reads):

* MedQA-USMLE JSONL: ``{"question", "options": {"A": ..., "D"|"E": ...}, "answer_idx"}`` (4- or 5-option files);
* MedMCQA JSON Lines: ``{"question", "opa".."opd", "cop": 1..4, "exp", "id"}``; the CoT variant uses ``exp``;
* PubMedQA ``{PMID: {"QUESTION", "CONTEXTS", "final_decision", "LONG_ANSWER"}}`` (labelled ``ori_pqal.json`` and
  artificial ``ori_pqaa.json``); the CoT variant uses ``LONG_ANSWER``;
* users' chat JSONL: ``{"messages": [{"role", "content"}, ...]}`` kept as is (optional ``"id"``).

A malformed record raises ``InputError`` naming the file and line (or PMID): training on half-read data is worse than
stopping. Records that are valid but unusable for the requested variant (a CoT example without an explanation) are
skipped and counted in the report, never silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from meditron.benchmarks import LETTERS, PUBMEDQA_LABELS, BenchmarkItem
from meditron.errors import ConfigError, InputError
from meditron.json_io import read_json_lines, require_text

from .format import guard_text, to_messages
from .records import BuildReport, ChatExample

ROLES = ("system", "user", "assistant")


def _explanation(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _medqa(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    if cot:
        raise ConfigError(f"finetune dataset {path}: MedQA files have no explanation, so cot: true is not available")
    for lineno, row in read_json_lines(path):
        report.num_records += 1
        where = f"line {lineno}"
        question = require_text(row, "question", path, where)
        options = row.get("options")
        keys = tuple(sorted(options)) if isinstance(options, dict) else ()
        if keys not in (LETTERS[:4], LETTERS[:5]):
            raise InputError(
                f"field 'options' must map A..D or A..E to text, got {options!r:.80}", path=str(path), record=where
            )
        opts = {k: require_text(options, k, path, where, allow_empty=True) for k in keys}
        answer = row.get("answer_idx")
        if answer not in opts:
            raise InputError(
                f"field 'answer_idx' must be one of {', '.join(keys)}, got {answer!r}", path=str(path), record=where
            )
        item = BenchmarkItem(
            id=f"{path.name}:{lineno}", benchmark=f"medqa{len(opts)}", question=question, options=opts, answer=answer
        )
        yield ChatExample(item.id, "medqa", to_messages(item), guard_text(item), {"answer": answer})


def _medmcqa(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    for lineno, row in read_json_lines(path):
        report.num_records += 1
        where = f"line {lineno}"
        question = require_text(row, "question", path, where)
        opts = {
            k: require_text(row, f, path, where, allow_empty=True)
            for k, f in zip("ABCD", ("opa", "opb", "opc", "opd"), strict=True)
        }
        cop = row.get("cop")
        if isinstance(cop, bool) or not isinstance(cop, int) or not 1 <= cop <= 4:
            hint = " (official files number options 1..4; 0-based exports are not accepted)" if cop == 0 else ""
            raise InputError(f"field 'cop' must be an integer 1..4, got {cop!r}{hint}", path=str(path), record=where)
        explanation = _explanation(row.get("exp"))
        if cot and explanation is None:
            report.skip("cot-without-explanation")
            continue
        qid = row.get("id") if isinstance(row.get("id"), str) else f"{path.name}:{lineno}"
        item = BenchmarkItem(id=qid, benchmark="medmcqa", question=question, options=opts, answer="ABCD"[cop - 1])
        messages = to_messages(item, explanation if cot else None)
        yield ChatExample(f"medmcqa-{qid}", "medmcqa", messages, guard_text(item), {"answer": item.answer})


def _pubmedqa(path: Path, cot: bool, report: BuildReport) -> Iterator[ChatExample]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(path), record=f"line {e.lineno}") from None
    if not isinstance(data, dict):
        raise InputError(
            "expected an object {PMID: {QUESTION, CONTEXTS, final_decision, LONG_ANSWER}}", path=str(path)
        )
    for pmid, entry in data.items():
        report.num_records += 1
        where = f"PMID {pmid}"
        if not isinstance(entry, dict):
            raise InputError(f"expected an object, got {type(entry).__name__}", path=str(path), record=where)
        question = require_text(entry, "QUESTION", path, where)
        contexts = entry.get("CONTEXTS")
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise InputError("field 'CONTEXTS' must be a list of strings", path=str(path), record=where)
        label = entry.get("final_decision")
        if label not in PUBMEDQA_LABELS:
            raise InputError(
                f"field 'final_decision' must be yes/no/maybe, got {label!r}", path=str(path), record=where
            )
        explanation = _explanation(entry.get("LONG_ANSWER"))
        if cot and explanation is None:
            report.skip("cot-without-explanation")
            continue
        item = BenchmarkItem(
            id=pmid,
            benchmark="pubmedqa",
            question=question,
            options={k: k for k in PUBMEDQA_LABELS},
            answer=label,
            context="\n".join(contexts),
        )
        messages = to_messages(item, explanation if cot else None)
        yield ChatExample(f"pubmedqa-{pmid}", "pubmedqa", messages, guard_text(item), {"answer": label})


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
