"""Loaders for the official benchmark files: MedQA-USMLE (4/5 options), MedMCQA dev, PubMedQA test, MMLU-Medical,
TruthfulQA (all 817 questions, and MEDITRON's medical categories).

Plain data readers with no heavy imports, because the corpus decontamination step and the finetuning contamination
guard import them too. Files are found recursively under a data folder by their *official* names, so a user can point
``--data-dir`` at the unpacked upstream releases as they are. Every row is validated: a bad row raises ``InputError``
naming the file and the line, never a KeyError deep in a scorer; an MMLU subject whose file is absent is listed in
``BenchmarkSet.missing``, never silently skipped.

``split="test"`` reads the evaluated split; ``split="fewshot"`` reads the official training/dev file used for few-shot
demonstrations (MedQA ``*_train.jsonl``, MedMCQA ``train.json``, MMLU ``<subject>_dev.csv``, PubMedQA the labelled
items that are not in the test split) and returns an empty set when the file is absent. TruthfulQA has no training
split: the few-shot pool of ``truthfulqa_med`` is the questions of the *other* categories (never an evaluated
question), and ``truthfulqa`` (every question evaluated) has none, so the caller falls back to other test items and
says so.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from meditron.benchmarks.items import (
    BENCHMARKS,
    LETTERS,
    MMLU_MEDICAL_SUBJECTS,
    PUBMEDQA_LABELS,
    TRUTHFULQA_MED_CATEGORIES,
    BenchmarkItem,
    BenchmarkSet,
)
from meditron.errors import ConfigError, InputError
from meditron.json_io import read_json_lines, require_text

# Official file names (matched on the trailing path parts, so `US/test.jsonl` does not match `Mainland/test.jsonl`).
_MEDQA4 = {"test": ("phrases_no_exclude_test.jsonl",), "fewshot": ("phrases_no_exclude_train.jsonl",)}
_MEDQA5 = {"test": ("US", "test.jsonl"), "fewshot": ("US", "train.jsonl")}
_MEDMCQA = {"test": ("dev.json",), "fewshot": ("train.json",)}
_PUBMEDQA = {"labelled": ("ori_pqal.json",), "test": ("test_ground_truth.json",)}
_TRUTHFULQA = {"test": ("mc_task.json",), "categories": ("TruthfulQA.csv",)}


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        files.extend(Path(dirpath) / f for f in sorted(filenames))
    return files


def _match(files: list[Path], tail: tuple[str, ...], what: str) -> Path | None:
    hits = [f for f in files if f.parts[-len(tail) :] == tail]
    if len(hits) > 1:
        listed = ", ".join(str(h) for h in hits)
        raise ConfigError(f"{what}: several files named {'/'.join(tail)!r} under the data folder ({listed}); keep one")
    return hits[0] if hits else None


def find_benchmark_files(data_dir: str | Path) -> dict[str, dict[str, Path]]:
    """Official files found under ``data_dir`` (recursively), per benchmark → role → path.

    Roles: ``test`` and ``fewshot`` (MedQA, MedMCQA); ``test`` (test_ground_truth.json) and ``labelled``
    (ori_pqal.json) for PubMedQA; ``<subject>_test`` / ``<subject>_dev`` for MMLU; ``test`` (mc_task.json) and
    ``categories`` (TruthfulQA.csv) for both TruthfulQA benchmarks. Benchmarks with no file are absent from the result.
    Two files with the same official name are ambiguous and raise ``ConfigError``. MedQA's 4-option test file is
    matched by its own name (``phrases_no_exclude_test.jsonl``), the 5-option one only as ``US/test.jsonl``, so the
    two never swap.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise ConfigError(f"eval.data_dir {str(data_dir)!r} is not a folder")
    files = _walk(root)
    found: dict[str, dict[str, Path]] = {}
    specs = (
        ("medqa4", _MEDQA4), ("medqa5", _MEDQA5), ("medmcqa", _MEDMCQA), ("pubmedqa", _PUBMEDQA),
        ("truthfulqa_med", _TRUTHFULQA), ("truthfulqa", _TRUTHFULQA),
    )
    for name, spec in specs:
        roles = {role: p for role, tail in spec.items() if (p := _match(files, tail, name)) is not None}
        if roles:
            found[name] = roles
    mmlu: dict[str, Path] = {}
    for subject in MMLU_MEDICAL_SUBJECTS:
        for role in ("test", "dev"):
            p = _match(files, (f"{subject}_{role}.csv",), "mmlu_medical")
            if p is not None:
                mmlu[f"{subject}_{role}"] = p
    if mmlu:
        found["mmlu_medical"] = mmlu
    return found


def _load_medqa(name: str, path: Path, num_options: int | None, split: str) -> list[BenchmarkItem]:
    """MedQA JSONL; ``num_options`` None accepts 4 or 5 options per row (``medqa<n>`` by its count)."""
    allowed = (LETTERS[:num_options],) if num_options else (LETTERS[:4], LETTERS[:5])
    items = []
    for lineno, row in read_json_lines(path):
        where = f"line {lineno}"
        question = require_text(row, "question", path, where)
        options = row.get("options")
        letters = tuple(sorted(options)) if isinstance(options, dict) else None
        if letters not in allowed:
            raise InputError(
                f"field 'options' must map exactly {' or '.join(', '.join(a) for a in allowed)} to text for {name}, "
                f"got keys {sorted(options) if isinstance(options, dict) else options!r}",
                path=str(path),
                record=where,
            )
        opts = {k: require_text(options, k, path, where, allow_empty=True) for k in letters}
        answer = row.get("answer_idx")
        if answer not in opts:
            raise InputError(
                f"field 'answer_idx' must be one of {letters}, got {answer!r}", path=str(path), record=where
            )
        benchmark = name if num_options else f"medqa{len(letters)}"
        items.append(
            BenchmarkItem(
                id=f"{benchmark}-{split + '-' if split != 'test' else ''}{len(items) + 1:04d}",
                benchmark=benchmark,
                question=question,
                options=opts,
                answer=answer,
                meta={"step": row.get("meta_info"), "answer_text": row.get("answer"), "line": lineno},
            )
        )
    return items


def _load_medmcqa(path: Path, split: str) -> list[BenchmarkItem]:
    items = []
    seen: set[str] = set()
    for lineno, row in read_json_lines(path):
        where = f"line {lineno}"
        question = require_text(row, "question", path, where)
        opts = {
            letter: require_text(row, key, path, where, allow_empty=True)
            for letter, key in zip("ABCD", ("opa", "opb", "opc", "opd"), strict=True)
        }
        cop = row.get("cop")
        if isinstance(cop, bool) or not isinstance(cop, int) or not 1 <= cop <= 4:
            hint = " (the official files number options 1..4; 0-based exports are not accepted)" if cop == 0 else ""
            raise InputError(f"field 'cop' must be an integer 1..4, got {cop!r}{hint}", path=str(path), record=where)
        qid = require_text(row, "id", path, where)
        if qid in seen:
            raise InputError(f"duplicate id {qid!r}", path=str(path), record=where)
        seen.add(qid)
        subject = row.get("subject_name")
        items.append(
            BenchmarkItem(
                id=f"medmcqa-{qid}",
                benchmark="medmcqa",
                question=question,
                options=opts,
                answer="ABCD"[cop - 1],
                subject=subject if isinstance(subject, str) else None,
                meta={
                    "topic": row.get("topic_name"),
                    "choice_type": row.get("choice_type"),
                    "explanation": row.get("exp"),
                    "line": lineno,
                },
            )
        )
    return items


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(path), record=f"line {e.lineno}") from None


def _pubmedqa_item(pmid: str, entry: Any, label: str, path: Path) -> BenchmarkItem:
    where = f"PMID {pmid}"
    if not isinstance(entry, dict):
        raise InputError(f"expected an object, got {type(entry).__name__}", path=str(path), record=where)
    question = require_text(entry, "QUESTION", path, where)
    contexts = entry.get("CONTEXTS")
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise InputError("field 'CONTEXTS' must be a list of strings", path=str(path), record=where)
    return BenchmarkItem(
        id=f"pubmedqa-{pmid}",
        benchmark="pubmedqa",
        question=question,
        options={k: k for k in PUBMEDQA_LABELS},
        answer=label,
        context="\n".join(contexts),
        subject=None,
        meta={
            "pmid": pmid,
            "labels": entry.get("LABELS"),
            "meshes": entry.get("MESHES"),
            "year": entry.get("YEAR"),
            "long_answer": entry.get("LONG_ANSWER"),
        },
    )


def _read_pqal(path: Path) -> dict[str, Any]:
    """A labelled PubMedQA file: ``{PMID: {QUESTION, CONTEXTS, final_decision, LONG_ANSWER, ...}}``."""
    pqal = _read_json(path)
    if not isinstance(pqal, dict):
        raise InputError("expected an object {PMID: {...}}", path=str(path))
    return pqal


def _load_pubmedqa(labelled: Path, test: Path | None, split: str) -> list[BenchmarkItem]:
    pqal = _read_pqal(labelled)
    truth: dict[str, Any] = {}
    if test is not None:
        truth = _read_json(test)
        if not isinstance(truth, dict):
            raise InputError("expected an object {PMID: yes|no|maybe}", path=str(test))
    if split == "test":
        items = []
        for pmid, label in truth.items():
            if label not in PUBMEDQA_LABELS:
                raise InputError(f"label must be yes/no/maybe, got {label!r}", path=str(test), record=f"PMID {pmid}")
            if pmid not in pqal:
                raise InputError(
                    f"PMID {pmid} of the test split is not in {labelled.name}", path=str(test), record=f"PMID {pmid}"
                )
            items.append(_pubmedqa_item(pmid, pqal[pmid], label, labelled))
        return items
    return _pubmedqa_labelled(pqal, labelled, skip=set(truth))


def _pubmedqa_labelled(pqal: dict[str, Any], path: Path, skip: set[str]) -> list[BenchmarkItem]:
    """The entries of a labelled file (``ori_pqal.json``, ``ori_pqaa.json``) but ``skip``, by their final_decision."""
    items = []
    for pmid, entry in pqal.items():
        if pmid in skip:
            continue
        label = entry.get("final_decision") if isinstance(entry, dict) else None
        if label not in PUBMEDQA_LABELS:
            raise InputError(
                f"final_decision must be yes/no/maybe, got {label!r}", path=str(path), record=f"PMID {pmid}"
            )
        items.append(_pubmedqa_item(pmid, entry, label, path))
    return items


def _load_mmlu_csv(path: Path, subject: str, split: str) -> list[BenchmarkItem]:
    items = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        for row in reader:
            where = f"line {reader.line_num}"
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 6:
                raise InputError(
                    f"expected 6 columns (question, A, B, C, D, answer), got {len(row)}", path=str(path), record=where
                )
            answer = row[5].strip().upper()
            if answer not in "ABCD" or len(answer) != 1:
                raise InputError(f"answer column must be A..D, got {row[5]!r}", path=str(path), record=where)
            if not row[0].strip():
                raise InputError("empty question", path=str(path), record=where)
            n = len(items) + 1
            items.append(
                BenchmarkItem(
                    id=f"mmlu-{subject}-{split + '-' if split != 'test' else ''}{n:04d}",
                    benchmark="mmlu_medical",
                    question=row[0],
                    options=dict(zip("ABCD", row[1:5], strict=True)),
                    answer=answer,
                    subject=subject,
                    meta={"line": reader.line_num},
                )
            )
    return items


#: Kinds :func:`read_benchmark_file` reads: one official file each.
FILE_KINDS: tuple[str, ...] = ("medqa", "medqa4", "medqa5", "medmcqa", "pubmedqa")


def read_benchmark_file(kind: str, path: str | Path, split: str = "test") -> list[BenchmarkItem]:
    """The items of one official file, validated as :func:`load_benchmark` validates them (a bad row raises
    ``InputError`` naming the file and the line or PMID). The SFT builders read the training files with it.

    ``kind``: ``medqa4``/``medqa5`` (JSONL with exactly 4/5 options), ``medqa`` (4 or 5 options per row, each item
    ``medqa4``/``medqa5`` by its count), ``medmcqa`` (JSON Lines, options 1..4, ids unique), ``pubmedqa`` (an object
    ``{PMID: {QUESTION, CONTEXTS, final_decision, LONG_ANSWER}}``: every entry, labelled by its final_decision).
    ``split`` only names the items (``medqa4-<split>-0001``; none for ``test``). Each item's ``meta`` keeps its
    ``line`` (JSONL kinds) and explanation (MedMCQA ``explanation``, PubMedQA ``long_answer``)."""
    path = Path(path)
    if kind in ("medqa", "medqa4", "medqa5"):
        return _load_medqa(kind, path, {"medqa4": 4, "medqa5": 5}.get(kind), split)
    if kind == "medmcqa":
        return _load_medmcqa(path, split)
    if kind == "pubmedqa":
        return _pubmedqa_labelled(_read_pqal(path), path, skip=set())
    raise ConfigError(f"unknown benchmark file kind {kind!r}; valid: {', '.join(FILE_KINDS)}")


def _load_qa_file(name: str, found: dict[str, Path], root: Path, split: str) -> BenchmarkSet:
    """MedQA (4/5 options) and MedMCQA: one official file per split."""
    path = found.get(split)
    if path is None:
        if split == "fewshot":
            return BenchmarkSet([], name=name, split=split)
        spec = {"medqa4": _MEDQA4, "medqa5": _MEDQA5, "medmcqa": _MEDMCQA}[name]
        raise InputError(f"no {'/'.join(spec['test'])} for {name} under {root}", path=str(root))
    items = read_benchmark_file(name, path, split)
    return BenchmarkSet(items, source_files=[path], name=name, split=split)


def _load_pubmedqa_set(found: dict[str, Path], root: Path, split: str) -> BenchmarkSet:
    labelled, test = found.get("labelled"), found.get("test")
    if labelled is None or (test is None and split == "test"):
        if split == "fewshot" and labelled is None:
            return BenchmarkSet([], name="pubmedqa", split=split)
        raise InputError(f"pubmedqa needs ori_pqal.json and test_ground_truth.json under {root}", path=str(root))
    items = _load_pubmedqa(labelled, test, split)
    files = [labelled] + ([test] if test is not None else [])
    return BenchmarkSet(items, source_files=files, name="pubmedqa", split=split)


def _load_mmlu_set(found: dict[str, Path], root: Path, split: str) -> BenchmarkSet:
    """MMLU-Medical: ``<subject>_test.csv`` for the test split, MMLU's own ``<subject>_dev.csv`` for few-shot."""
    role = "test" if split == "test" else "dev"
    items, files, missing = [], [], []
    for subject in MMLU_MEDICAL_SUBJECTS:
        path = found.get(f"{subject}_{role}")
        if path is None:
            missing.append(subject)
            continue
        items.extend(_load_mmlu_csv(path, subject, split))
        files.append(path)
    if not files and split == "test":
        raise InputError(f"no MMLU-Medical <subject>_test.csv files under {root}", path=str(root))
    return BenchmarkSet(items, missing=missing, source_files=files, name="mmlu_medical", split=split)


def _load_truthfulqa_set(name: str, found: dict[str, Path], root: Path, split: str) -> BenchmarkSet:
    """``truthfulqa``: every question; ``truthfulqa_med``: MEDITRON's four categories, few-shot = the other ones."""
    from meditron.benchmarks.truthfulqa import load_truthfulqa

    mc_task, categories = found.get("test"), found.get("categories")
    if mc_task is None or categories is None:
        if split == "fewshot":
            return BenchmarkSet([], name=name, split=split)
        files = (("TruthfulQA.csv", categories), ("data/mc_task.json", mc_task))
        absent = " and ".join(f for f, p in files if p is None)
        raise InputError(
            f"{name} needs TruthfulQA.csv and data/mc_task.json (TruthfulQA v1); no {absent} under {root}",
            path=str(root),
        )
    items = load_truthfulqa(mc_task, categories, name)
    if name == "truthfulqa":
        items = items if split == "test" else []
    else:
        medical = set(TRUTHFULQA_MED_CATEGORIES)
        items = [it for it in items if (it.subject in medical) == (split == "test")]
    return BenchmarkSet(items, source_files=[categories, mc_task], name=name, split=split)


def load_benchmark(name: str, data_dir: str | Path, split: str = "test") -> BenchmarkSet:
    """Read one benchmark (see ``BENCHMARKS``) from the official files.

    ``split="test"`` raises ``InputError`` when the benchmark's files are absent (for MMLU: when no subject is present;
    absent subjects are listed in ``.missing``). ``split="fewshot"`` returns an empty set when no training/dev file is
    present, so the caller can fall back to other items of the test set and say so in its report; when the test files
    are there too, a training/dev item that repeats a test item is left out and listed in ``.excluded``.
    """
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
    if split not in ("test", "fewshot"):
        raise ConfigError(f"unknown split {split!r}; valid: test, fewshot")
    found = find_benchmark_files(data_dir).get(name, {})
    root = Path(data_dir)
    if name in ("medqa4", "medqa5", "medmcqa"):
        bset = _load_qa_file(name, found, root, split)
    elif name == "pubmedqa":
        bset = _load_pubmedqa_set(found, root, split)
    elif name == "mmlu_medical":
        bset = _load_mmlu_set(found, root, split)
    else:
        bset = _load_truthfulqa_set(name, found, root, split)
    has_test = any(role == "test" or role.endswith("_test") for role in found)
    if split == "fewshot" and bset.items and has_test:
        _drop_test_duplicates(bset, load_benchmark(name, data_dir, split="test"))
    return bset


def _item_key(item: BenchmarkItem) -> tuple[str, str, frozenset[str]]:
    """What makes two items the same question: stem, context and option texts (any order), whitespace and case
    normalised. Generic stems ("Which of the following is not a true statement?") differ by their options."""

    def norm(text: str) -> str:
        return " ".join(text.split()).lower()

    return norm(item.question), norm(item.context or ""), frozenset(norm(v) for v in item.options.values())


def _drop_test_duplicates(fewshot: BenchmarkSet, test: BenchmarkSet) -> None:
    """Leave out of the few-shot split every item that repeats a test item (recorded in ``fewshot.excluded``)."""
    test_ids: dict[tuple[str, str, frozenset[str]], str] = {}
    for it in test.items:
        test_ids.setdefault(_item_key(it), it.id)
    kept = []
    for it in fewshot.items:
        twin = test_ids.get(_item_key(it))
        if twin is None:
            kept.append(it)
        else:
            fewshot.excluded[it.id] = twin
    fewshot.items = kept
