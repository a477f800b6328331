"""Decontamination index: benchmark items found in documents by n-gram overlap, with their ids."""

from __future__ import annotations

import json

import pytest

from meditron.corpus.decont import BenchmarkNgramIndex, build_benchmark_index, normalize_words
from meditron.corpus.decont.index import ngram_hashes
from tests.corpus.pipeline_fixtures import OTHER_QUESTIONS, PLANTED_QUESTION, write_benchmarks
from tests.testing import SHARED_DATA, requires_shared_data


def test_planted_question_found_with_its_id(tmp_path):
    index = build_benchmark_index(write_benchmarks(tmp_path), ["medqa4", "pubmedqa"], ngram=13)
    assert index.summary["benchmarks"]["medqa4"]["checked"] == 3
    assert "pubmedqa" in index.summary["skipped"]  # listed but its files are absent
    assert index.summary["skipped"]["medmcqa"] == "not listed in corpus.decontamination.benchmarks"
    doc = "Clinical vignette used in teaching.\n\n" + PLANTED_QUESTION.upper() + "\nAnswer: aspirin."
    assert index.lookup(doc) == ["medqa4-0001"]
    both = PLANTED_QUESTION + " " + OTHER_QUESTIONS[1]
    assert index.lookup(both) == ["medqa4-0001", "medqa4-0003"]
    # 12 consecutive words of the question are not enough for a 13-gram
    assert index.lookup(" ".join(normalize_words(PLANTED_QUESTION)[:12])) == []
    assert index.lookup(" ".join(normalize_words(PLANTED_QUESTION)[3:16])) == ["medqa4-0001"]
    assert index.lookup("An unrelated text about diabetes and insulin dosing in adults.") == []
    # the contamination-index stage saves it; each decontamination task loads the same index
    index.save(tmp_path / "index.npz")
    loaded = BenchmarkNgramIndex.load(tmp_path / "index.npz")
    assert (loaded.ngram, loaded.item_ids, loaded.item_benchmarks, loaded.lengths) == (
        index.ngram, index.item_ids, index.item_benchmarks, index.lengths)
    assert loaded.lookup(both) == ["medqa4-0001", "medqa4-0003"]


def test_short_items_matched_whole_or_listed_unchecked(tmp_path):
    rows = [
        {"question": "Which vitamin deficiency causes scurvy in sailors at sea?", "answer": "C",
         "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "C"},
        {"question": "Drug of choice?", "answer": "x", "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
         "answer_idx": "A"},
    ]
    (tmp_path / "phrases_no_exclude_test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    index = build_benchmark_index(tmp_path, ["medqa4"], ngram=13, min_item_words=8)
    assert index.summary["unchecked_items"] == ["medqa4-0002"]
    assert index.lookup("Quiz: which vitamin deficiency causes scurvy in sailors at sea? Think.") == ["medqa4-0001"]
    assert index.lookup("which vitamin deficiency causes scurvy in sailors") == []


def test_rolling_hash_equals_direct_hash_of_each_window():
    import numpy as np
    import xxhash

    words = normalize_words("The quick brown fox jumps over the lazy dog, again and again.")
    hashes = np.array([xxhash.xxh64_intdigest(w) for w in words], dtype=np.uint64)
    grams = ngram_hashes(hashes, 3)
    assert len(grams) == len(words) - 2
    assert len(set(grams.tolist())) == len(set(zip(words, words[1:], words[2:], strict=False)))  # "again and again" repeats
    assert ngram_hashes(hashes, len(words) + 1).size == 0


@requires_shared_data
@pytest.mark.parametrize("name", ["medqa4", "pubmedqa", "mmlu_medical", "medmcqa"])
def test_real_benchmark_items_found(name):
    from meditron.benchmarks import load_benchmark

    index = build_benchmark_index(SHARED_DATA / "benchmarks", [name])
    items = load_benchmark(name, SHARED_DATA / "benchmarks").items
    unchecked = set(index.summary["unchecked_items"])
    item = next(i for i in items[10:] if i.id not in unchecked)
    text = item.context if name == "pubmedqa" else item.question
    assert item.id in index.lookup("Some text before.\n" + text + "\nSome text after.")
