"""Loaders: exact counts on the real official files, official layouts written in-test, bad rows named by file/line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from meditron.errors import ConfigError, InputError
from meditron.eval.benchmarks import MMLU_MEDICAL_SUBJECTS, find_benchmark_files, load_benchmark
from tests.testing import SHARED_DATA, requires_shared_data

REAL = SHARED_DATA / "benchmarks"


@requires_shared_data
def test_exact_counts_on_real_files():
    assert len(load_benchmark("medqa4", REAL).items) == 1273
    medmcqa = load_benchmark("medmcqa", REAL)
    assert len(medmcqa.items) == 4183
    assert Counter(i.answer for i in medmcqa.items) == {"A": 1348, "B": 1085, "C": 925, "D": 825}
    pubmedqa = load_benchmark("pubmedqa", REAL)
    assert len(pubmedqa.items) == 500
    assert all(i.answer in ("yes", "no", "maybe") and i.context for i in pubmedqa.items)
    mmlu = load_benchmark("mmlu_medical", REAL)
    assert len(mmlu.items) == 1089
    assert Counter(i.subject for i in mmlu.items) == {
        "anatomy": 135,
        "clinical_knowledge": 265,
        "college_biology": 144,
        "college_medicine": 173,
        "medical_genetics": 100,
        "professional_medicine": 272,
    }
    assert mmlu.missing == ["high_school_biology", "nutrition", "virology"]
    medqa = load_benchmark("medqa4", REAL)
    assert Counter(i.meta["step"] for i in medqa.items) == {"step1": 679, "step2&3": 594}
    assert medqa.items[0].id == "medqa4-0001" and medqa.items[0].answer == "B"
    # PubMedQA few-shot pool = the 500 labelled items outside the test split.
    pool = load_benchmark("pubmedqa", REAL, split="fewshot")
    assert len(pool.items) == 500 and not {i.id for i in pool.items} & {i.id for i in pubmedqa.items}
    with pytest.raises(InputError, match="US/test.jsonl"):
        load_benchmark("medqa5", REAL)


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
    (root / "mmlu" / "test").mkdir(parents=True)
    (root / "mmlu" / "test" / "anatomy_test.csv").write_text('"multi\nline, question",a,b,c,d,B\nq2,a,b,c,d,A\n')


def test_official_layout_found_recursively(tmp_path):
    _write_layout(tmp_path)
    found = find_benchmark_files(tmp_path)
    assert found["medqa5"]["test"].parent.name == "US"
    assert set(found["mmlu_medical"]) == {"anatomy_test"}
    m4 = load_benchmark("medqa4", tmp_path)
    assert [i.id for i in m4.items] == ["medqa4-0001", "medqa4-0002"] and m4.items[0].answer == "C"
    m5 = load_benchmark("medqa5", tmp_path)
    assert list(m5.items[0].options) == ["A", "B", "C", "D", "E"] and m5.items[0].answer == "E"
    mmlu = load_benchmark("mmlu_medical", tmp_path)
    assert mmlu.items[0].question == "multi\nline, question" and mmlu.items[0].answer == "B"
    assert mmlu.missing == [s for s in MMLU_MEDICAL_SUBJECTS if s != "anatomy"]
    assert load_benchmark("medqa4", tmp_path, split="fewshot").items == []


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
    """``sample:`` paths resolve inside the package; every benchmark and its few-shot file load, all 9 MMLU subjects."""
    found = find_benchmark_files("sample:benchmarks")
    assert set(found) == {"medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical"}
    for name in found:
        test = load_benchmark(name, "sample:benchmarks")
        shots = load_benchmark(name, "sample:benchmarks", split="fewshot")
        assert test.items and shots.items and test.missing == [] and shots.missing == []
        ids = [i.id for i in test.items]
        assert len(set(ids)) == len(ids) and not set(ids) & {i.id for i in shots.items}
        assert all(i.answer in i.options for i in test.items + shots.items)
    assert {len(i.options) for i in load_benchmark("medqa5", "sample:benchmarks").items} == {5}
