"""Contamination guard: training items copied (or lightly edited) from a benchmark test file are dropped and listed."""

from __future__ import annotations

import json

import pytest

from meditron.data.sft import ContaminationGuard, build_examples, guard_examples
from meditron.data.sft.guard import ngrams
from tests.testing import SHARED_DATA, requires_shared_data

TEST_ITEMS = [
    {"question": "A 45-year-old man presents with crushing substernal chest pain radiating to the left arm for two "
                 "hours. Electrocardiography shows ST elevation in leads II, III and aVF. Which artery is occluded?",
     "options": {"A": "Right coronary artery", "B": "Left circumflex", "C": "Left anterior descending", "D": "Aorta"},
     "answer_idx": "A"},
    {"question": "A 6-year-old girl has periorbital oedema and cola-coloured urine two weeks after a sore throat. "
                 "Which finding is most likely on renal biopsy?",
     "options": {"A": "Subepithelial humps", "B": "Foot process effacement", "C": "Crescents", "D": "Normal"},
     "answer_idx": "A"},
]  # fmt: skip


def _bench(tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    (d / "phrases_no_exclude_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TEST_ITEMS))
    return d


def _train(tmp_path, rows):
    p = tmp_path / "phrases_no_exclude_train.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_copied_and_edited_test_items_are_dropped_and_listed(tmp_path):
    copied = dict(TEST_ITEMS[1])
    edited = dict(TEST_ITEMS[0], options=TEST_ITEMS[0]["options"] | {"D": "Pulmonary trunk"})  # one option changed
    clean = {"question": "Which vitamin deficiency causes scurvy in sailors on long voyages without fresh fruit?",
             "options": {"A": "Vitamin C", "B": "Vitamin D", "C": "Vitamin A", "D": "Vitamin K"}, "answer_idx": "A"}  # fmt: skip
    examples, _ = build_examples("medqa", _train(tmp_path, [clean, copied, edited]))
    kept, report = guard_examples(examples, _bench(tmp_path), n=8, threshold=0.8)
    assert [e.id for e in kept] == ["phrases_no_exclude_train.jsonl:1"]
    d = report.to_dict()
    assert d["num_test_items"] == {"medqa4": 2} and d["num_checked"] == 3 and d["num_dropped"] == 2
    assert d["dropped"][0] == {
        "example": "phrases_no_exclude_train.jsonl:2", "source": "medqa", "test_item": "medqa4-0002", "overlap": 1.0
    }  # fmt: skip
    assert d["dropped"][1]["test_item"] == "medqa4-0001" and 0.8 <= d["dropped"][1]["overlap"] < 1.0


def test_threshold_is_configurable(tmp_path):
    edited = dict(TEST_ITEMS[0], question=TEST_ITEMS[0]["question"].replace("for two hours", "since this morning"))
    examples, _ = build_examples("medqa", _train(tmp_path, [edited]))
    bench = _bench(tmp_path)
    overlap = ContaminationGuard.from_benchmarks(bench, threshold=0.0)[0].check(examples[0].guard_text)[1]
    assert 0.5 < overlap < 1.0
    assert len(guard_examples(examples, bench, threshold=overlap)[0]) == 0
    assert len(guard_examples(examples, bench, threshold=overlap + 0.01)[0]) == 1


def test_containment_in_a_longer_example_is_caught():
    """A test question pasted into a long chat turn: the overlap is measured on the smaller side."""
    q = TEST_ITEMS[1]["question"] + " " + " ".join(TEST_ITEMS[1]["options"].values())
    guard = ContaminationGuard({"t1": q}, n=8, threshold=0.8)
    long_text = "Here is a case from my notes, please explain it in detail. " * 10 + q + " Thanks a lot!" * 20
    assert guard.check(long_text) == ("t1", 1.0)
    assert guard.check("Periorbital oedema in children has many causes, including nephrotic syndrome.") is None


def test_short_texts_match_only_identical_short_texts():
    assert ngrams("Axonal transport is:", 8) == ngrams("axonal TRANSPORT is", 8)
    guard = ContaminationGuard({"t": "Axonal transport is:"}, n=8)
    assert guard.check("Axonal transport is") == ("t", 1.0)
    assert guard.check("Axonal transport is fast") is None


@requires_shared_data
def test_pubmedqa_labelled_file_loses_exactly_its_test_half():
    """Training on ori_pqal.json (1000 items, 500 of them the test split) drops exactly the 500 test PMIDs."""
    bench = SHARED_DATA / "benchmarks"
    examples, _ = build_examples("pubmedqa", bench / "pubmedqa" / "ori_pqal.json")
    kept, report = guard_examples(examples, bench)
    test_pmids = set(json.loads((bench / "pubmedqa" / "test_ground_truth.json").read_text()))
    assert len(kept) == 500 and report.to_dict()["num_dropped"] == 500
    assert {m.example_id.split("-")[1] for m in report.dropped} == test_pmids
    assert all(m.test_id == m.example_id for m in report.dropped)


def test_no_benchmark_test_file(tmp_path):
    with pytest.raises(Exception, match="not a folder"):
        guard_examples([], tmp_path / "absent")
