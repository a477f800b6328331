"""Splits by id hash and replay sampling: deterministic, on target in expectation, independent of order."""

from __future__ import annotations

import json

import numpy as np
from datatrove.data import Document

from meditron.corpus.mixing import ReplaySelector, SplitAssigner, replay_probability, split_of
from meditron.corpus.writers.shards import ShardFile


def test_split_is_a_function_of_the_id():
    ids = [f"pmid{i}" for i in range(20000)]
    splits = [split_of(i, 0.03) for i in ids]
    assert splits == [split_of(i, 0.03) for i in ids]
    share = splits.count("validation") / len(ids)
    assert 0.027 < share < 0.033
    assert {split_of(i, 0.0) for i in ids[:100]} == {"train"}
    # a larger share only moves documents from train to validation, never back
    assert all(split_of(i, 0.05) == "validation" for i, s in zip(ids, splits, strict=True) if s == "validation")


def test_split_assigner_uses_the_source_share():
    docs = [Document(text="t", id=f"d{i}", metadata={"source": "guidelines" if i % 2 else "replay"})
            for i in range(2000)]
    out = list(SplitAssigner({"guidelines": 0.5, "replay": 0.0}).run(iter(docs)))
    assert {d.metadata["split"] for d in out if d.metadata["source"] == "replay"} == {"train"}
    val = sum(d.metadata["split"] == "validation" for d in out if d.metadata["source"] == "guidelines")
    assert 430 < val < 570


def test_replay_probability():
    assert replay_probability(0.01, 990_000, 100_000) == 0.1  # needs 10k tokens out of 100k
    assert replay_probability(0.5, 1000, 10) == 1.0
    assert replay_probability(0.0, 1000, 10) == 0.0
    assert replay_probability(0.01, 1000, 0) == 0.0


def test_replay_selector_copies_selected_documents(tmp_path):
    counts, cands, shards = tmp_path / "counts", tmp_path / "cands", tmp_path / "shards"
    counts.mkdir()
    (counts / "00000.json").write_text(json.dumps({"sources": {"papers": {"train": {
        "files": ["train/papers/00000.ds"], "num_tokens": 9000, "num_docs": 9}}}}))
    rng = np.random.default_rng(0)
    f = ShardFile(cands / "train" / "replay" / "00000.ds", 2, with_ids=True)
    docs = [rng.integers(3, 500, size=rng.integers(5, 30)).tolist() + [2] for _ in range(400)]
    for i, d in enumerate(docs):
        f.write(d, f"r{i}")
    f.close()
    total = sum(map(len, docs))
    selector = ReplaySelector(share=0.1, seed=7, shard_counts_dir=counts, candidates_dir=cands, shards_dir=shards,
                              token_size=2, ledger_dir=str(tmp_path / "ledger"), counts_dir=tmp_path / "rc")
    list(selector.run(None, 0, 1) or [])
    summary = json.loads((tmp_path / "rc" / "00000.json").read_text())
    assert summary["probability"] == 0.1 / 0.9 * 9000 / total
    ledger = [json.loads(x) for x in (tmp_path / "ledger" / "replay" / "00000.jsonl").read_text().splitlines()]
    assert len(ledger) == 400
    kept = [int(r["id"][1:]) for r in ledger if r["state"] == "kept"]
    assert {r["reason"] for r in ledger if r["state"] == "dropped"} == {"replay-not-sampled"}
    out = np.fromfile(shards / "train" / "replay" / "00000.ds", dtype="<u2")
    assert out.tolist() == [t for i in kept for t in docs[i]]
    assert summary["sources"]["replay"]["train"]["num_docs"] == len(kept)
    assert 0.5 * 1000 < out.size < 1.5 * 1000  # ≈ 0.1/0.9 · 9000 = 1000 tokens in expectation


def test_replay_readers_jsonl_and_parquet(tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    from meditron.corpus.mixing import ReplayJsonlReader, ReplayParquetReader

    lines = [json.dumps({"id": "a", "text": "alpha", "meta": "x"}), "{not json", json.dumps({"url": "u", "content": "b"}),
             json.dumps({"title": "no text"}), json.dumps(["a", "list"])]
    (tmp_path / "r.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    docs = list(ReplayJsonlReader([str(tmp_path / "r.jsonl.gz")], "replay").run())
    assert [d.id for d in docs] == ["replay:a", f"{tmp_path / 'r.jsonl.gz'}#2", "replay:u",
                                    f"{tmp_path / 'r.jsonl.gz'}#4", f"{tmp_path / 'r.jsonl.gz'}#5"]
    assert docs[0].text == "alpha" and docs[0].metadata["meta"] == "x" and docs[0].metadata["source"] == "replay"
    assert [bool(d.metadata.get("quarantined")) for d in docs] == [False, True, False, True, True]
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["one", "two"]}), tmp_path / "r.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    docs = list(ReplayParquetReader([str(tmp_path)], "replay").run())
    assert [(d.id, d.text) for d in docs] == [(f"{tmp_path / 'bad.parquet'}#0", ""), ("replay:p1", "one"),
                                            ("replay:p2", "two")]
