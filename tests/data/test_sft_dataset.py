"""The finetuning source: per-epoch seeded permutations, exact epochs, packing stats, and the prepare pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meditron.data.sft import IGNORE_INDEX, SFTSource, prepare_sft_data
from meditron.data.sft.chat_template import TokenizedExample
from meditron.data.sft.config import SFTDataSection
from meditron.errors import ConfigError
from tests.fixtures.synthetic_qa import build_tokenizer, write_medqa


def _examples(n):
    return [
        TokenizedExample(f"e{k}", np.full(3 + k % 5, k, dtype=np.int64), np.full(3 + k % 5, k, dtype=np.int64))
        for k in range(n)
    ]


def test_each_epoch_is_a_seeded_permutation():
    src = SFTSource(_examples(10), seq_len=16, seed=7)
    first = [int(src[i]["input_ids"][0]) for i in range(10)]
    second = [int(src[i]["input_ids"][0]) for i in range(10, 20)]
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    again = SFTSource(_examples(10), seq_len=16, seed=7)
    assert [int(again[i]["input_ids"][0]) for i in range(20)] == first + second  # order depends on the seed only
    other = SFTSource(_examples(10), seq_len=16, seed=8)
    assert [int(other[i]["input_ids"][0]) for i in range(10)] != first
    assert int(src[13]["input_ids"][0]) == second[3]  # random access, any order (resume, prefetch threads)
    assert src.steps_for(3, 4) == 8 and src.steps_for(0.5, 4) == 2


def test_unpacked_sample_layout():
    """Unpacked samples keep their own length; the trainer's collate right-pads each micro-batch (dynamic padding)."""
    from meditron.data.loader import collate

    src = SFTSource(_examples(3), seq_len=16, seed=0, pad_id=9)
    assert src.length == 5  # the longest example
    rows = [src[i] for i in range(3)]
    for s in rows:
        n = int(s["input_ids"][0]) % 5 + 3
        assert len(s["input_ids"]) == n and s["seq_ids"].tolist() == [0] * n
        assert s["position_ids"].tolist() == list(range(n)) and (s["labels"] == s["input_ids"]).all()
    batch = collate(rows)
    assert batch["input_ids"].shape == (3, 5)
    assert {tuple(r) for r in batch["seq_ids"].tolist()} == {(0, 0, 0, -1, -1), (0, 0, 0, 0, -1), (0, 0, 0, 0, 0)}
    assert (batch["labels"][batch["seq_ids"] == -1] == IGNORE_INDEX).all()


def test_packed_source_covers_every_example_once_per_epoch():
    src = SFTSource(_examples(40), seq_len=16, seed=1, packing=True, pad_id=999)
    seen = []
    for i in range(src.num_units):
        row = src[i]
        assert len(row["input_ids"]) == 16
        seen += [int(row["input_ids"][row["seq_ids"] == k][0]) for k in range(int(row["seq_ids"].max()) + 1)]
        assert (row["input_ids"][row["seq_ids"] == -1] == 999).all()
    assert sorted(seen) == list(range(40))
    stats = src.stats()
    assert stats["num_examples"] == 40 and stats["num_units"] == src.num_units < 40
    assert stats["fill"] == round(stats["num_tokens"] / (16 * src.num_units), 4) > 0.8


def test_prepare_from_config_reports_everything(tmp_path):
    tok = build_tokenizer()
    train = write_medqa(tmp_path / "sft" / "phrases_no_exclude_train.jsonl", 30, seed=1)
    bench = tmp_path / "bench"
    test = write_medqa(bench / "phrases_no_exclude_test.jsonl", 10, seed=2)
    planted = json.loads(test.read_text().splitlines()[3])
    with open(train, "a") as fh:
        fh.write(json.dumps(planted) + "\n")
    cfg = SFTDataSection(
        datasets=[{"kind": "medqa", "path": str(train)}], guard_benchmarks_dir=str(bench), seq_len=256, packing=True
    )
    source, report = prepare_sft_data(cfg, tok, seed=3)
    assert report["datasets"][0]["num_records"] == 31 and report["num_built"] == 31
    assert report["guard"]["num_dropped"] == 1
    assert report["guard"]["dropped"][0] == {
        "example": "phrases_no_exclude_train.jsonl:31", "source": "medqa", "test_item": "medqa4-0004", "overlap": 1.0
    }  # fmt: skip
    assert report["too_long"]["num_dropped"] == 0 and report["source"]["num_examples"] == 30
    row = source[0]
    assert row["input_ids"].shape == (256,) and (row["labels"] != IGNORE_INDEX).sum() > 0

    short = cfg.model_copy(update={"seq_len": 100, "packing": False})
    with pytest.raises(ConfigError, match="no finetuning example is left"):
        prepare_sft_data(short, tok, seed=3)
    with pytest.raises(ConfigError, match="finetune.datasets is empty"):
        prepare_sft_data(SFTDataSection(), tok, seed=3)


def test_tokenized_data_cache_hits_and_invalidates(tmp_path):
    from meditron.data.sft import build_examples, tokenize_example, tokenize_examples

    tok = build_tokenizer()
    train = write_medqa(tmp_path / "phrases_no_exclude_train.jsonl", 20, seed=1)
    examples, _ = build_examples("medqa", train)
    batched = tokenize_examples(tok, examples, batch_size=7)
    single = [tokenize_example(tok, e) for e in examples]
    assert [(b.input_ids.tolist(), b.labels.tolist()) for b in batched] == [
        (s.input_ids.tolist(), s.labels.tolist()) for s in single
    ]

    cfg = SFTDataSection(datasets=[{"kind": "medqa", "path": str(train)}], seq_len=256)
    first, r1 = prepare_sft_data(cfg, tok, seed=3, cache_dir=tmp_path / "cache")
    second, r2 = prepare_sft_data(cfg, tok, seed=3, cache_dir=tmp_path / "cache")
    assert (r1["cache"]["hit"], r2["cache"]["hit"]) == (False, True) and r1["cache"]["dir"] == r2["cache"]["dir"]
    assert {k: v for k, v in r1.items() if k != "cache"} == {k: v for k, v in r2.items() if k != "cache"}
    for i in range(first.num_units * 2):
        a, b = first[i], second[i]
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [e.id for e in second.examples] == [e.id for e in first.examples]

    with open(train, "a") as fh:  # the input changed: a new key, a fresh build
        fh.write(train.read_text().splitlines()[0] + "\n")
    third, r3 = prepare_sft_data(cfg, tok, seed=3, cache_dir=tmp_path / "cache")
    assert r3["cache"]["hit"] is False and r3["cache"]["dir"] != r1["cache"]["dir"] and third.num_units == 21
    assert len(list((tmp_path / "cache").iterdir())) == 2  # complete caches only, no temp dirs left


def test_an_example_listed_twice_is_refused(tmp_path):
    train = write_medqa(tmp_path / "phrases_no_exclude_train.jsonl", 3, seed=1)
    cfg = SFTDataSection(datasets=[{"kind": "medqa", "path": str(train)}] * 2, seq_len=256)
    with pytest.raises(ConfigError, match="appears twice"):
        prepare_sft_data(cfg, build_tokenizer(), seed=0)
