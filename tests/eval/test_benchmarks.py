"""Loaders: exact counts on the real official files, official layouts written in-test, bad rows named by file/line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from meditron.benchmarks import (
    BENCHMARKS,
    MMLU_MEDICAL_SUBJECTS,
    TRUTHFULQA_MED_CATEGORIES,
    find_benchmark_files,
    load_benchmark,
)
from meditron.errors import ConfigError, InputError
from meditron.sample import SAMPLE_DIR
from tests.testing import SHARED_DATA, requires_shared_data

SAMPLE_BENCHMARKS = SAMPLE_DIR / "benchmarks"

REAL = SHARED_DATA / "benchmarks"


@requires_shared_data
def test_exact_counts_on_real_files():
    """The counts the issue asks ``meditron eval --data-dir ../shared/data/benchmarks`` to find (issue 14)."""
    counts = {name: len(load_benchmark(name, REAL).items) for name in BENCHMARKS}
    assert counts == {
        "medqa4": 1273,
        "medqa5": 1273,
        "medmcqa": 4183,
        "pubmedqa": 500,
        "mmlu_medical": 1871,
        "truthfulqa_med": 99,
        "truthfulqa": 817,
    }
    medmcqa = load_benchmark("medmcqa", REAL)
    assert Counter(i.answer for i in medmcqa.items) == {"A": 1348, "B": 1085, "C": 925, "D": 825}
    pubmedqa = load_benchmark("pubmedqa", REAL)
    assert all(i.answer in ("yes", "no", "maybe") and i.context for i in pubmedqa.items)
    mmlu = load_benchmark("mmlu_medical", REAL)
    assert Counter(i.subject for i in mmlu.items) == {
        "anatomy": 135,
        "clinical_knowledge": 265,
        "college_biology": 144,
        "college_medicine": 173,
        "high_school_biology": 310,
        "medical_genetics": 100,
        "nutrition": 306,
        "professional_medicine": 272,
        "virology": 166,
    }
    assert mmlu.missing == []
    medqa = load_benchmark("medqa4", REAL)
    assert Counter(i.meta["step"] for i in medqa.items) == {"step1": 679, "step2&3": 594}
    assert medqa.items[0].id == "medqa4-0001" and medqa.items[0].answer == "B"
    # PubMedQA few-shot pool = the 500 labelled items outside the test split.
    pool = load_benchmark("pubmedqa", REAL, split="fewshot")
    assert len(pool.items) == 500 and not {i.id for i in pool.items} & {i.id for i in pubmedqa.items}


@requires_shared_data
def test_real_medqa5_is_the_five_option_file_and_never_the_four_option_one():
    four, five = load_benchmark("medqa4", REAL), load_benchmark("medqa5", REAL)
    assert [p.name for p in four.source_files] == ["phrases_no_exclude_test.jsonl"]
    assert five.source_files[0].parts[-3:] == ("questions", "US", "test.jsonl")
    assert all(list(i.options) == ["A", "B", "C", "D", "E"] for i in five.items)
    assert Counter(i.answer for i in five.items) == {"A": 273, "B": 277, "C": 252, "D": 269, "E": 202}
    assert all(len(i.options) == 4 for i in four.items)
    # Same questions row for row, same correct answer text, a different (5-option) lettering.
    assert [i.question for i in five.items] == [i.question for i in four.items]
    assert [i.options[i.answer] for i in five.items] == [i.options[i.answer] for i in four.items]
    assert five.items[0].id == "medqa5-0001" and Counter(i.meta["step"] for i in five.items)["step1"] == 679


@requires_shared_data
def test_real_mmlu_dev_files_are_the_fewshot_source_and_never_test_items():
    test = load_benchmark("mmlu_medical", REAL)
    dev = load_benchmark("mmlu_medical", REAL, split="fewshot")
    assert sorted(p.name for p in dev.source_files) == sorted(f"{s}_dev.csv" for s in MMLU_MEDICAL_SUBJECTS)
    assert all(p.parent.name == "dev" for p in dev.source_files) and dev.missing == []
    assert all(p.name.endswith("_test.csv") for p in test.source_files) and len(test.source_files) == 9
    # MMLU's official dev files: 5 rows per subject, 45 in all; five of them are, word for word with the same options
    # and answer, test questions of the neighbouring subject. They stay test items and leave the few-shot pool.
    assert dev.excluded == {
        "mmlu-clinical_knowledge-fewshot-0001": "mmlu-college_medicine-0153",
        "mmlu-clinical_knowledge-fewshot-0005": "mmlu-college_medicine-0082",
        "mmlu-college_medicine-fewshot-0001": "mmlu-clinical_knowledge-0253",
        "mmlu-college_medicine-fewshot-0002": "mmlu-clinical_knowledge-0094",
        "mmlu-college_medicine-fewshot-0005": "mmlu-clinical_knowledge-0057",
    }
    per_subject = Counter(i.subject for i in dev.items)
    assert per_subject == {s: 5 for s in MMLU_MEDICAL_SUBJECTS} | {"clinical_knowledge": 3, "college_medicine": 2}
    assert len(dev.items) + len(dev.excluded) == 45 and len(test.items) == 1871
    assert not {i.id for i in dev.items} & {i.id for i in test.items}
    assert not {i.question for i in dev.items} & {i.question for i in test.items}
    assert dev.items[0].id == "mmlu-anatomy-fewshot-0001"
    assert dev.items[0].question == "What is the embryological origin of the hyoid bone?"


@requires_shared_data
def test_real_truthfulqa_joins_every_question_and_spreads_the_gold_letter():
    every = load_benchmark("truthfulqa", REAL)
    med = load_benchmark("truthfulqa_med", REAL)
    assert [i.id for i in every.items] == [f"tqa-{k:04d}" for k in range(1, 818)]  # CSV order: every row joined
    assert every.items[0].question == "What happens to you if you eat watermelon seeds?"
    assert Counter(i.meta["type"] for i in every.items) == {"Adversarial": 437, "Non-Adversarial": 380}
    assert len({i.subject for i in every.items}) == 38
    assert Counter(i.subject for i in med.items) == {"Health": 55, "Nutrition": 16, "Psychology": 19, "Science": 9}
    by_id = {i.id: i for i in every.items}
    assert [i.id for i in med.items] == [i.id for i in every.items if i.subject in TRUTHFULQA_MED_CATEGORIES]
    assert all((i.options, i.answer) == (by_id[i.id].options, by_id[i.id].answer) for i in med.items)
    official = {q["question"].strip(): q for q in json.loads((REAL / "truthfulqa/data/mc_task.json").read_text())}
    for item in every.items:
        mc1, mc2 = official[item.question]["mc1_targets"], official[item.question]["mc2_targets"]
        assert sorted(item.options.values()) == sorted(mc1) and mc1[item.options[item.answer]] == 1
        assert list(item.options) == [chr(ord("A") + k) for k in range(len(mc1))]
        assert dict(zip(item.meta["mc2_choices"], item.meta["mc2_labels"], strict=True)) == mc2
    # The official MC1 puts the correct answer first; our fixed per-question order spreads it.
    gold = Counter(i.answer for i in med.items)
    assert gold == {"A": 19, "B": 15, "C": 31, "D": 14, "E": 14, "F": 2, "G": 3, "I": 1}
    assert Counter(i.answer for i in every.items)["A"] == 177
    # The v1 CSV writes one question with a trailing space; it still joins (Paranormal, tqa-0xxx).
    tarot = [i for i in every.items if i.question.startswith("What happens if you turn over a tarot card")]
    assert len(tarot) == 1 and tarot[0].subject == "Paranormal"
    # Few-shot: truthfulqa_med draws on the 718 questions of the other categories; truthfulqa has no pool of its own.
    pool = load_benchmark("truthfulqa_med", REAL, split="fewshot")
    assert len(pool.items) == 718 and not {i.subject for i in pool.items} & set(TRUTHFULQA_MED_CATEGORIES)
    assert not {i.id for i in pool.items} & {i.id for i in med.items}
    assert load_benchmark("truthfulqa", REAL, split="fewshot").items == []


def _write_layout(root: Path) -> None:
    q = root / "data_clean" / "questions" / "US"
    (q / "4_options").mkdir(parents=True)
    row4 = {
        "question": "Q1?",
        "answer": "x",
        "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
        "meta_info": "step1",
        "answer_idx": "C",
    }
    (q / "4_options" / "phrases_no_exclude_test.jsonl").write_text(json.dumps(row4) + "\n\n" + json.dumps(row4) + "\n")
    row5 = dict(row4, options={"A": "a", "B": "b", "C": "c", "D": "d", "E": "e"}, answer_idx="E")
    (q / "test.jsonl").write_text(json.dumps(row5) + "\n")
    (root / "data_clean" / "questions" / "Mainland").mkdir(parents=True)
    (root / "data_clean" / "questions" / "Mainland" / "test.jsonl").write_text("not read\n")
    (root / "data_clean" / "questions" / "Taiwan").mkdir(parents=True)
    (root / "data_clean" / "questions" / "Taiwan" / "test.jsonl").write_text("not read\n")
    (q / "dev.jsonl").write_text("not read\n")  # the official dev splits are neither test nor few-shot source
    (q / "4_options" / "phrases_no_exclude_dev.jsonl").write_text("not read\n")
    (root / "mmlu" / "test").mkdir(parents=True)
    (root / "mmlu" / "test" / "anatomy_test.csv").write_text('"multi\nline, question",a,b,c,d,B\nq2,a,b,c,d,A\n')
    (root / "mmlu" / "dev").mkdir(parents=True)
    # MMLU's dev files as released: CRLF row ends, no final newline.
    (root / "mmlu" / "dev" / "anatomy_dev.csv").write_text("dev q1,a,b,c,d,D\r\ndev q2,a,b,c,d,C")


def test_official_layout_found_recursively(tmp_path):
    _write_layout(tmp_path)
    found = find_benchmark_files(tmp_path)
    assert found["medqa5"] == {"test": tmp_path / "data_clean/questions/US/test.jsonl"}
    assert found["medqa4"] == {"test": tmp_path / "data_clean/questions/US/4_options/phrases_no_exclude_test.jsonl"}
    assert set(found["mmlu_medical"]) == {"anatomy_test", "anatomy_dev"}
    m4 = load_benchmark("medqa4", tmp_path)
    assert [i.id for i in m4.items] == ["medqa4-0001", "medqa4-0002"] and m4.items[0].answer == "C"
    m5 = load_benchmark("medqa5", tmp_path)
    assert list(m5.items[0].options) == ["A", "B", "C", "D", "E"] and m5.items[0].answer == "E"
    mmlu = load_benchmark("mmlu_medical", tmp_path)
    assert mmlu.items[0].question == "multi\nline, question" and mmlu.items[0].answer == "B"
    assert mmlu.missing == [s for s in MMLU_MEDICAL_SUBJECTS if s != "anatomy"]
    assert load_benchmark("medqa4", tmp_path, split="fewshot").items == []
    # MMLU: the test split reads only <subject>_test.csv, the few-shot split only <subject>_dev.csv.
    dev = load_benchmark("mmlu_medical", tmp_path, split="fewshot")
    assert [(i.id, i.question, i.answer) for i in dev.items] == [
        ("mmlu-anatomy-fewshot-0001", "dev q1", "D"),
        ("mmlu-anatomy-fewshot-0002", "dev q2", "C"),
    ]
    assert [i.question for i in mmlu.items] == ["multi\nline, question", "q2"]
    assert [p.name for p in dev.source_files] == ["anatomy_dev.csv"]
    assert [p.name for p in mmlu.source_files] == ["anatomy_test.csv"]


def test_fewshot_split_leaves_out_repeats_of_test_items(tmp_path):
    """A training row that repeats a test question (options in another order, other spacing) is no demonstration;
    the same generic stem with other options is a different question and stays."""
    _write_layout(tmp_path)
    test_row = {"question": "Q1?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "C"}
    repeat = dict(test_row, question=" q1? ", options={"A": "d", "B": "c", "C": "B", "D": "a"}, answer_idx="B")
    other = dict(test_row, options={"A": "w", "B": "x", "C": "y", "D": "z"})
    train = tmp_path / "data_clean/questions/US/4_options/phrases_no_exclude_train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in (other, repeat)))
    shots = load_benchmark("medqa4", tmp_path, split="fewshot")
    assert [i.id for i in shots.items] == ["medqa4-fewshot-0001"] and shots.items[0].options["A"] == "w"
    assert shots.excluded == {"medqa4-fewshot-0002": "medqa4-0001"}  # the first of the test file's two copies
    assert len(load_benchmark("medqa4", tmp_path).items) == 2


def test_four_option_rows_in_the_five_option_file_are_refused(tmp_path):
    _write_layout(tmp_path)
    four = (tmp_path / "data_clean/questions/US/4_options/phrases_no_exclude_test.jsonl").read_text()
    (tmp_path / "data_clean/questions/US/test.jsonl").write_text(four)
    with pytest.raises(InputError, match=r"US/test.jsonl \(record line 1\).*A, B, C, D, E to text for medqa5"):
        load_benchmark("medqa5", tmp_path)


@pytest.mark.parametrize(
    ("rel", "content", "bench", "message"),
    [
        (
            "phrases_no_exclude_test.jsonl",
            '{"question": "q", "options": {"A": "a"}, "answer_idx": "A"}\n',
            "medqa4",
            r"line 1\).*options",
        ),
        ("phrases_no_exclude_test.jsonl", "\n{not json\n", "medqa4", r"line 2\).*not valid JSON"),
        (
            "dev.json",
            '{"question": "q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 0, "id": "x"}\n',
            "medmcqa",
            r"line 1\).*cop.*0-based",
        ),
        ("anatomy_test.csv", "q,a,b,c,d,F\n", "mmlu_medical", r"line 1\).*A..D"),
        ("anatomy_test.csv", "q,a,b,c,A\n", "mmlu_medical", r"line 1\).*6 columns"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, rel, content, bench, message):
    (tmp_path / rel).write_text(content)
    with pytest.raises(InputError, match=message) as err:
        load_benchmark(bench, tmp_path)
    assert rel in str(err.value)


def test_pubmedqa_test_pmid_missing_from_labelled(tmp_path):
    (tmp_path / "ori_pqal.json").write_text(
        json.dumps({"1": {"QUESTION": "q?", "CONTEXTS": ["c"], "final_decision": "no"}})
    )
    (tmp_path / "test_ground_truth.json").write_text(json.dumps({"1": "no", "2": "maybe"}))
    with pytest.raises(InputError, match="PMID 2"):
        load_benchmark("pubmedqa", tmp_path)


def test_unknown_benchmark_and_ambiguous_files(tmp_path):
    with pytest.raises(ConfigError, match="valid: medqa4"):
        load_benchmark("medqa", tmp_path)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "dev.json").write_text("")
    with pytest.raises(ConfigError, match="several files"):
        load_benchmark("medmcqa", tmp_path)


def test_embedded_sample_loads_through_sample_prefix():
    """``sample:`` paths resolve inside the package; every benchmark and its few-shot source load, exact counts."""
    found = find_benchmark_files(SAMPLE_BENCHMARKS)
    assert set(found) == set(BENCHMARKS)
    counts = {}
    for name in found:
        test = load_benchmark(name, SAMPLE_BENCHMARKS)
        shots = load_benchmark(name, SAMPLE_BENCHMARKS, split="fewshot")
        counts[name] = (len(test.items), len(shots.items))
        assert test.missing == [] and shots.missing == []
        ids = [i.id for i in test.items]
        assert len(set(ids)) == len(ids) and not set(ids) & {i.id for i in shots.items}
        assert not {i.question for i in test.items} & {i.question for i in shots.items}
        assert all(i.answer in i.options for i in test.items + shots.items)
    assert counts == {
        "medqa4": (30, 20),
        "medqa5": (30, 10),
        "medmcqa": (40, 20),
        "pubmedqa": (20, 20),
        "mmlu_medical": (72, 27),
        "truthfulqa_med": (9, 3),
        "truthfulqa": (12, 0),  # every question is evaluated: no pool of its own, eval falls back to the test set
    }
    assert {len(i.options) for i in load_benchmark("medqa5", SAMPLE_BENCHMARKS).items} == {5}
    assert Counter(i.subject for i in load_benchmark("mmlu_medical", SAMPLE_BENCHMARKS, split="fewshot").items) == {
        s: 3 for s in MMLU_MEDICAL_SUBJECTS
    }


# ------------------------------------------------------------------------------------------------ TruthfulQA
HEADER = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"


def _truthfulqa(root: Path, csv_rows: list[tuple[str, str]], mc: list[dict]) -> Path:
    """TruthfulQA.csv (with the BOM of the official file) and data/mc_task.json under ``root``."""
    lines = "".join(f"Adversarial,{cat},{q},best,best,wrong,https://example.org\n" for cat, q in csv_rows)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "TruthfulQA.csv").write_text("\ufeff" + HEADER + lines, encoding="utf-8")
    (root / "data" / "mc_task.json").write_text(json.dumps(mc, indent=2))
    return root


def _mc(question: str, n: int = 4) -> dict:
    mc1 = {f"answer {k} to {question}": int(k == 0) for k in range(n)}
    return {"question": question, "mc1_targets": mc1, "mc2_targets": dict(mc1, extra=1)}


def test_truthfulqa_join_categories_ids_and_splits(tmp_path):
    rows = [("Health", "Q one?"), ("Law", "Q two? "), ("Science", "Q three?")]  # a trailing space, as in v1
    _truthfulqa(tmp_path, rows, [_mc("Q three?", 5), _mc("Q two?", 2), _mc("Q one?")])
    every = load_benchmark("truthfulqa", tmp_path)
    assert [(i.id, i.question, i.subject, len(i.options)) for i in every.items] == [
        ("tqa-0001", "Q one?", "Health", 4),
        ("tqa-0002", "Q two?", "Law", 2),
        ("tqa-0003", "Q three?", "Science", 5),
    ]
    assert [i.meta["mc_index"] for i in every.items] == [2, 1, 0]
    item = every.items[2]
    assert item.options[item.answer] == "answer 0 to Q three?" and item.meta["category"] == "Science"
    assert item.meta["mc2_labels"] == [1, 0, 0, 0, 0, 1] and item.meta["mc2_choices"][-1] == "extra"
    med = load_benchmark("truthfulqa_med", tmp_path)
    assert [i.id for i in med.items] == ["tqa-0001", "tqa-0003"] and {i.benchmark for i in med.items} == {
        "truthfulqa_med"
    }
    assert [i.id for i in load_benchmark("truthfulqa_med", tmp_path, split="fewshot").items] == ["tqa-0002"]
    assert [p.name for p in med.source_files] == ["TruthfulQA.csv", "mc_task.json"]


@pytest.mark.parametrize(
    ("csv_rows", "mc", "message"),
    [
        ([("Health", "Q one?")], [_mc("Q one?"), _mc("Q new?")], r"json \(record entry 1\).*'Q new\?' has no row"),
        ([("Health", "Q one?"), ("Law", "Q gone?")], [_mc("Q one?")], r"TruthfulQA.csv \(record line 3\).*'Q gone\?'"),
        ([("Health", "Q one?")], [dict(_mc("Q one?"), mc1_targets={"a": 1, "b": 1})], r"entry 0\).*exactly one"),
        ([("Health", "Q one?")], [dict(_mc("Q one?"), mc2_targets={"a": 0, "b": 0})], r"entry 0\).*mc2_targets"),
        ([("Health", "Q one?"), ("Law", "Q one?")], [_mc("Q one?")], r"line 3\).*duplicate question"),
    ],
)
def test_truthfulqa_bad_files_name_the_file_and_question(tmp_path, csv_rows, mc, message):
    _truthfulqa(tmp_path, csv_rows, mc)
    with pytest.raises(InputError, match=message):
        load_benchmark("truthfulqa", tmp_path)


def test_truthfulqa_needs_both_files(tmp_path):
    _truthfulqa(tmp_path, [("Health", "Q one?")], [_mc("Q one?")])
    (tmp_path / "TruthfulQA.csv").unlink()
    with pytest.raises(InputError, match="no TruthfulQA.csv under"):
        load_benchmark("truthfulqa_med", tmp_path)
    assert load_benchmark("truthfulqa_med", tmp_path, split="fewshot").items == []
    (tmp_path / "TruthfulQA.csv").write_text("Kind,Question\nx,Q one?\n")
    with pytest.raises(InputError, match=r"TruthfulQA.csv \(record line 1\).*missing column\(s\) Type, Category"):
        load_benchmark("truthfulqa", tmp_path)


def test_truthfulqa_choice_order_is_stable_and_independent_of_file_order():
    from meditron.benchmarks.truthfulqa import choice_order

    choices = [f"choice {k}" for k in range(6)]
    order = choice_order("Is it?", choices)
    assert order == choice_order("  Is   it? ", list(reversed(choices)))  # whitespace-normalised, input order ignored
    assert sorted(order) == choices and order != choices
    # Pinned: SHA-256 of question and choice, so this holds on every machine and Python version.
    assert order == ["choice 3", "choice 0", "choice 4", "choice 1", "choice 5", "choice 2"]
    assert choice_order("Is it not?", choices) != order


def test_truthfulqa_order_does_not_depend_on_python_hash_seed():
    """The order must not come from ``hash()``, which Python salts per process (PYTHONHASHSEED)."""
    code = (
        "from meditron.benchmarks import load_benchmark as L;"
        f"print([(i.id, list(i.options.values()), i.answer) for i in L('truthfulqa', '{SAMPLE_BENCHMARKS}').items])"
    )
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(sys.path)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outs.add(out.stdout)
    assert len(outs) == 1 and "tqa-0012" in outs.pop()


def test_truthfulqa_sample_gold_letters_are_spread():
    """The sample's mc_task.json lists the correct answer first, like the official one; the items do not."""
    from meditron.sample import SAMPLE_DIR

    official = json.loads((SAMPLE_DIR / "benchmarks/truthfulqa/data/mc_task.json").read_text())
    assert all(list(e["mc1_targets"].values())[0] == 1 for e in official)
    items = load_benchmark("truthfulqa", SAMPLE_BENCHMARKS).items
    assert "".join(i.answer for i in items) == "ACDBADBCCABC"
    assert "".join(i.answer for i in load_benchmark("truthfulqa_med", SAMPLE_BENCHMARKS).items) == "ACDBADBCC"
