"""Filters: reasons in the ledger, offline language ID, quality rules, the abstract/full-text rule."""

from __future__ import annotations

import json

from datatrove.data import Document

from meditron.corpus.filters import AbstractFullTextFilter, LanguageIdFilter, LedgerGate, QualityFilter
from meditron.corpus.filters.fulltext import PaperPmidCollector

EN = ("The patients were randomized to receive either the vaccine or a placebo, and the primary outcome was the "
      "incidence of laboratory-confirmed influenza during the following season.")
FR = ("Les patients ont été répartis au hasard pour recevoir soit le vaccin soit un placebo, et le critère principal "
      "était l'incidence de la grippe confirmée en laboratoire.")


def _ledger(tmp_path, step):
    path = tmp_path / step / "00000.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_language_filter_offline(tmp_path):
    docs = [Document(text=EN, id="en", metadata={"source": "s"}), Document(text=FR, id="fr", metadata={"source": "s"})]
    kept = list(LanguageIdFilter(str(tmp_path), ["en"]).run(iter(docs)))
    assert [d.id for d in kept] == ["en"] and kept[0].metadata["language"] == "en"
    (rec,) = _ledger(tmp_path, "language")
    assert rec["id"] == "fr" and rec["reason"].startswith("language: fr")


def test_quality_rules(tmp_path):
    flt = QualityFilter(str(tmp_path), min_chars=50, max_chars=2000, min_words=10)
    cases = {
        "ok": EN,
        "short": "Too short.",
        "long": EN * 20,
        "few_words": "Pneumonoultramicroscopicsilicovolcanoconiosis " * 2,
        "numbers": "12 34 56 78 90 11 22 33 44 55 66 77 88 99 1.5 2.5 and 3",
        "ellipsis": "word... " * 12,
        "# Heading\n- bullet item one\n- bullet item two": None,
    }
    docs = [Document(text=t if t else k + (" more words here" * 5), id=k, metadata={"source": "s"})
            for k, t in cases.items()]
    kept = [d.id for d in flt.run(iter(docs))]
    assert kept == ["ok", "# Heading\n- bullet item one\n- bullet item two"]
    reasons = {r["id"]: r["reason"] for r in _ledger(tmp_path, "quality")}
    assert reasons["short"] == "length: 10 chars < 50"
    assert reasons["long"].startswith("length: ") and reasons["long"].endswith("> 2000")
    assert reasons["few_words"] == "quality: 2 words < 10"
    assert reasons["numbers"].startswith("quality: non-alphabetic word ratio")
    assert reasons["ellipsis"].startswith("quality: symbol word ratio")


def test_gate_counts_and_routes(tmp_path):
    docs = [
        Document(text="", id="f#1", metadata={"source": "p", "quarantined": {"file": "f", "position": 1,
                                                                              "error": "E: x"}}),
        Document(text="t", id="pmid2", metadata={"source": "a", "drop_reason": "superseded-by-later-version"}),
        Document(text="  ", id="e", metadata={"source": "a"}),
        Document(text="text", id="ok", metadata={"source": "a"}),
    ]
    kept = list(LedgerGate(str(tmp_path / "ledger"), tmp_path / "counts").run(iter(docs)))
    assert [d.id for d in kept] == ["ok"]
    states = {r["id"]: (r["state"], r.get("reason")) for r in _ledger(tmp_path / "ledger", "gate")}
    assert states == {"f#1": ("quarantined", None), "pmid2": ("dropped", "superseded-by-later-version"),
                      "e": ("dropped", "empty")}
    assert json.loads((tmp_path / "counts" / "00000.json").read_text())["input"] == {"a": 3, "p": 1}


def test_abstract_with_full_text_is_dropped(tmp_path):
    papers = [Document(text="p", id="pmc1", metadata={"kind": "jats", "pmid": "123"}),
              Document(text="p", id="pmc2", metadata={"kind": "jats"})]
    assert len(list(PaperPmidCollector(tmp_path / "pmids").run(iter(papers)))) == 2
    abstracts = [Document(text="a", id="pmid123", metadata={"kind": "medline", "pmid": "123", "source": "ab"}),
                 Document(text="a", id="pmid124", metadata={"kind": "medline", "pmid": 124, "source": "ab"}),
                 Document(text="g", id="g", metadata={"kind": "guideline_jsonl", "pmid": "123", "source": "g"})]
    kept = list(AbstractFullTextFilter(str(tmp_path / "ledger"), tmp_path / "pmids").run(iter(abstracts)))
    assert [d.id for d in kept] == ["pmid124", "g"]
    (rec,) = _ledger(tmp_path / "ledger", "fulltext")
    assert rec["id"] == "pmid123" and rec["reason"] == "abstract-has-full-text: PMID 123"
