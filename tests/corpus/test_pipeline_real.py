"""The corpus stage on the embedded sample plus the real PubMed and CDC files: shards the trainer reads, a report,
a ledger whose totals match the input."""

from __future__ import annotations

import json

import pytest
import yaml

from meditron.config import load_config
from meditron.corpus.pipeline import run_corpus
from meditron.data.blend import build_pretrain_datasets
from meditron.data.shards import TokenShards
from meditron.run import RunDir
from meditron.tokenizer import load_tokenizer
from tests.testing import SHARED_DATA, requires_shared_data


@pytest.mark.slow
@requires_shared_data
def test_sample_plus_real_files(tmp_path):
    cfg_path = tmp_path / "real.yaml"
    cfg_path.write_text(yaml.safe_dump({
        "name": "real",
        "out_dir": str(tmp_path),
        "corpus": {
            "tokenizer": "sample:tokenizer",
            "sources": [
                {"name": "guidelines", "kind": "guideline_jsonl", "paths": ["sample:guidelines/guidelines.jsonl"],
                 "validation_share": 0.05},
                {"name": "guidelines", "kind": "guideline_html", "site": "generic", "validation_share": 0.05,
                 "paths": ["sample:guidelines/html"]},
                {"name": "guidelines", "kind": "guideline_html", "site": "cdc", "validation_share": 0.05,
                 "paths": [str(SHARED_DATA / "guidelines" / "cdc_mmwr_html")]},
                {"name": "abstracts", "kind": "medline", "validation_share": 0.03,
                 "paths": ["sample:pubmed/medline", str(SHARED_DATA / "pubmed" / "medline")]},
                {"name": "papers", "kind": "jats", "validation_share": 0.03,
                 "paths": ["sample:pubmed/jats", str(SHARED_DATA / "pubmed" / "jats")]},
                {"name": "replay", "kind": "jsonl", "paths": ["sample:replay/replay.jsonl"], "replay": True,
                 "validation_share": 0.0},
            ],
            "quality": {"min_chars": 100, "min_words": 15},
            "decontamination": {"benchmarks_dir": "sample:benchmarks"},  # the sample plants items of these
        },
    }))
    cfg = load_config(cfg_path)
    run = RunDir.from_config(cfg).create()
    report = run_corpus(cfg, run)

    totals = report["totals"]
    lines = (run.corpus / "ledger.jsonl").read_text().splitlines()
    assert totals["input"] == len(lines) == totals["kept"] + totals["dropped"] + totals["quarantined"]
    records = [json.loads(line) for line in lines]
    kept_ids = {r["id"] for r in records if r["state"] == "kept"}
    assert len(kept_ids) == totals["kept"]
    by_id = {r["id"]: r for r in records}
    # the planted facts of the embedded sample (docs/SAMPLE.md)
    assert by_id["replay:replay-0042"]["reason"] == "exact-dup of guidelines-fa3f1aa08338b8c40501e5aa4d3616fc88482a05"
    assert by_id["guidelines-8c299724d70e8d88596a08005e2e3425f56a06c2"]["reason"].startswith("contaminated: ")
    assert "medqa4-0013" in by_id["guidelines-8c299724d70e8d88596a08005e2e3425f56a06c2"]["reason"]
    assert by_id["pmid32426592"]["reason"] == "contaminated: pubmedqa-32426592"
    index = json.loads((run.corpus / "contamination_index.json").read_text())
    assert index["items"]["medqa4-0013"] == ["guidelines-8c299724d70e8d88596a08005e2e3425f56a06c2"]
    assert index["items"]["pubmedqa-32426592"] == ["pmid32426592"]
    for pmid in (21658036, 25077762, 23785173):
        assert by_id[f"pmid{pmid}"]["reason"] == f"abstract-has-full-text: PMID {pmid}"
    assert report["drop_reasons"]["near-dup"] >= 1
    # every real MEDLINE citation of medline16n0902.xml.gz (604, one deleted) reaches the ledger once
    assert report["per_source"]["abstracts"]["input"] >= 604
    assert report["drop_reasons"].get("deleted-citation", 0) >= 1
    # the CDC ACIP hepatitis B guideline is kept, its phone numbers and e-mail scrubbed
    assert any("rr5416a1" in i for i in kept_ids)
    assert report["phi"]["replacements"]["email"] >= 2 and report["phi"]["replacements"]["phone"] >= 3
    # shards: per source and split, readable by the trainer's data path
    shards = TokenShards(run.shards)
    assert set(shards.sources("train")) >= {"abstracts", "guidelines", "papers"}
    for source, splits in shards.manifest["sources"].items():
        assert sum(e["num_docs"] for e in splits.values()) == report["per_source"][source]["kept"]
    train, _, _ = build_pretrain_datasets(run.shards, seq_len=64, seed=1)
    sample = train[0]
    assert sample["input_ids"].shape == (64,)
    tok = load_tokenizer(shards.tokenizer_dir)
    text = "".join(tok.decode(f.tokens) for s in shards.sources("train") for f in shards.files(s, "train"))
    assert "dr.amelia.kerrigan@northfield-health.example.org" not in text and "7946 0321" not in text
    assert "[bib_ref]" in text  # papers keep MEDITRON's markers, one token each
    assert (run.corpus / "corpus_report.md").read_text().startswith("# Corpus report")
