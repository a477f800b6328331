"""Ledger lines: the state of a record follows from its metadata; summaries count each record once."""

from __future__ import annotations

from datatrove.data import Document

from meditron.corpus.ledger import LedgerWriter, iter_ledger, ledger_record, reason_group, summarize_ledger


def test_record_states():
    q = Document(text="", id="f.xml#3", metadata={"source": "papers", "quarantined": {
        "file": "f.xml", "position": 3, "error": "XMLSyntaxError: bad"}})
    assert ledger_record(q, "gate") == {"id": "f.xml#3", "source": "papers", "step": "gate", "state": "quarantined",
                                        "error": "XMLSyntaxError: bad", "file": "f.xml", "position": 3}
    d = Document(text="x", id="pmid1", metadata={"source": "abstracts", "drop_reason": "deleted-citation"})
    assert ledger_record(d, "gate")["state"] == "dropped" and ledger_record(d, "gate")["reason"] == "deleted-citation"
    f = Document(text="x", id="g1", metadata={"source": "g", "filter_reason": "length: 5 chars < 200"})
    assert ledger_record(f, "quality")["reason"] == "length: 5 chars < 200"
    k = Document(text="x", id="g2", metadata={"source": "g", "split": "train", "num_tokens": 12,
                                              "contamination": ["medqa4-0001"]})
    assert ledger_record(k, "shards") == {"id": "g2", "source": "g", "step": "shards", "state": "kept",
                                          "split": "train", "tokens": 12, "contamination": ["medqa4-0001"]}


def test_writer_and_summary(tmp_path):
    docs = [
        Document(text="", id="a", metadata={"source": "s1", "quarantined": {"error": "ValueError: x"}}),
        Document(text="t", id="b", metadata={"source": "s1", "filter_reason": "near-dup of c"}),
        Document(text="t", id="c", metadata={"source": "s2", "split": "train"}),
        Document(text="t", id="d", metadata={"source": "s2", "filter_reason": "contaminated: medqa4-0001"}),
    ]
    for rank, step in ((0, "gate"), (1, "dedup")):
        with LedgerWriter(tmp_path, step) as w:
            for doc in docs[rank * 2 : rank * 2 + 2]:
                w.write(doc, rank)
    assert [r["id"] for r in iter_ledger(tmp_path)] == ["c", "d", "a", "b"]  # step order, then task
    summary = summarize_ledger(tmp_path)
    assert summary["states"] == {"kept": 1, "dropped": 2, "quarantined": 1}
    assert summary["per_source"] == {"s1": {"kept": 0, "dropped": 1, "quarantined": 1},
                                     "s2": {"kept": 1, "dropped": 1, "quarantined": 0}}
    assert summary["drop_reasons"] == {"contaminated": 1, "near-dup": 1}
    assert summary["quarantine_errors"] == {"ValueError": 1}


def test_reason_group():
    assert reason_group("near-dup of pmid1") == "near-dup"
    assert reason_group("language: fr (0.99)") == "language"
    assert reason_group("superseded-by-later-version") == "superseded-by-later-version"
