"""corpus.upsampling in the corpus stage: per-rule counts in corpus_report.json, a ledger that adds up, copies written
next to each other in the training shards only, the same copies whatever the task count, identical reruns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from meditron.config import load_config
from meditron.corpus.pipeline import run_corpus
from meditron.data.shards import TokenShards
from meditron.run import RunDir
from tests.testing import SHARED_DATA, requires_shared_data


def _run(tmp_path: Path, name: str, medline: list[str], jats: list[str], tasks: int = 1, seed: int = 3,
         **upsampling) -> tuple[dict, RunDir]:
    cfg = {"name": name, "out_dir": str(tmp_path), "seed": seed, "corpus": {
        "tokenizer": "sample:tokenizer",
        "sources": [{"name": "abstracts", "kind": "medline", "paths": medline},
                    {"name": "papers", "kind": "jats", "paths": jats}],
        "quality": {"min_chars": 100, "min_words": 15},
        "language": {"enabled": False},
        "decontamination": {"enabled": False},
        "executor": {"tasks": tasks},
        "upsampling": {"enabled": True, **upsampling},
    }}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(path)
    run = RunDir.from_config(loaded).create()
    return run_corpus(loaded, run), run


def _ledger(run: RunDir) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (run.corpus / "ledger.jsonl").read_text().splitlines())}


def _consecutive_repeats(shards: TokenShards, source: str, split: str) -> int:
    """Documents identical to the one before them in the shard files (dedup leaves none but upsampled copies)."""
    repeats = 0
    for f in shards.files(source, split):
        ends = f.doc_ends.astype(np.int64)
        docs = np.split(f.tokens, ends[:-1])
        repeats += sum(np.array_equal(a, b) for a, b in zip(docs, docs[1:], strict=False))
    return repeats


def _check_copies(report: dict, run: RunDir) -> dict[str, int]:
    """Ledger adds up; copies sit in the training split next to their document; returns id → copies."""
    ledger = _ledger(run)
    totals = report["totals"]
    assert report["ledger_consistent"] and totals["input"] == len(ledger) == sum(
        totals[s] for s in ("kept", "dropped", "quarantined"))
    assert not any("copies" in r for r in ledger.values() if r.get("split") == "validation")
    shards = TokenShards(run.shards)
    up = report["upsampling"]
    for source, splits in shards.manifest["sources"].items():
        added = up["added_per_source"].get(source, {})
        kept = sum(1 for r in ledger.values() if r["source"] == source and r["state"] == "kept")
        assert sum(e["num_docs"] for e in splits.values()) == kept + sum(e["copies"] for e in added.values())
        assert _consecutive_repeats(shards, source, "train") == added.get("train", {}).get("copies", 0)
        assert "validation" not in added
    copies = {i: r.get("copies", 1) for i, r in ledger.items() if r["state"] == "kept"}
    assert up["copies_added"] == up["documents"]["copies_added"] == sum(c - 1 for c in copies.values())
    assert up["tokens_added"] == sum((r.get("copies", 1) - 1) * r["tokens"] for r in ledger.values()
                                     if r["state"] == "kept")
    return copies


@pytest.mark.slow
def test_sample_copies_do_not_depend_on_the_task_count(tmp_path):
    """Two tasks split the files (a paper and its MEDLINE record may sit in different tasks): same decisions."""
    medline, jats = ["sample:pubmed/medline"], ["sample:pubmed/jats"]
    one, run_one = _run(tmp_path, "one", medline, jats, tasks=1)
    two, run_two = _run(tmp_path, "two", medline, jats, tasks=2)
    copies = _check_copies(one, run_one)
    assert _check_copies(two, run_two) == copies
    assert one["upsampling"]["documents"] == two["upsampling"]["documents"]
    assert one["upsampling"]["rules"] == two["upsampling"]["rules"]
    # the sample's three papers whose abstracts are in the sample MEDLINE borrow their publication types
    assert one["upsampling"]["publication_types_from"]["medline-join"] == 3
    assert one["upsampling"]["rules"]["publication_type"]["values"]["Randomized Controlled Trial"] >= 1
    assert any(c > 1 for i, c in copies.items() if i.startswith("pmc"))
    assert one["totals"]["kept"] == two["totals"]["kept"]


@pytest.mark.slow
@requires_shared_data
def test_sample_plus_real_pubmed_counts_per_rule_and_identical_reruns(tmp_path):
    pubmed = SHARED_DATA / "pubmed"
    (tmp_path / "journals.csv").write_text("journal\nBritish Journal of Cancer\nPLoS ONE\n")
    (tmp_path / "citations.csv").write_text(
        "pmid,citations,year\n21045829,120,2010\n17299597,30,2007\n18405359,5,2008\n1,0,2020\n2,10,2015\n")
    args = (["sample:pubmed/medline", str(pubmed / "medline")], ["sample:pubmed/jats", str(pubmed / "jats")])
    files = {"journals_file": str(tmp_path / "journals.csv"), "citations_file": str(tmp_path / "citations.csv")}
    report, run = _run(tmp_path, "a", *args, **files)
    copies = _check_copies(report, run)
    up = report["upsampling"]
    ledger = _ledger(run)
    # MEDLINE's 46 animal studies of medline16n0902 are dropped with the table's reason, in the ledger and report
    assert report["drop_reasons"]["animal-study"] == up["rules"]["mesh"]["dropped"] == 46
    assert sum(1 for r in ledger.values() if r.get("reason") == "animal-study" and r["step"] == "upsampling") == 46
    assert up["rules"]["publication_type"]["values"] == {
        "Case Reports": 1, "Clinical Trial, Phase II": 3, "Clinical Trial, Phase III": 1, "Comparative Study": 4,
        "Meta-Analysis": 1, "Observational Study": 17, "Randomized Controlled Trial": 27, "Review": 39,
        "Systematic Review": 1}
    assert up["rules"]["uptodate_journal"]["matched"] == 3  # PLoS ONE (1 paper) and British Journal of Cancer
    assert up["rules"]["citations_per_year"]["matched"] == 2
    assert up["documents"]["scored"] == up["documents"]["dropped"] + up["documents"]["kept_train"] + up[
        "documents"]["kept_validation"]
    assert up["copies_added"] > 0 and up["tokens_added"] > 0
    assert "## Upsampling" in (run.corpus / "corpus_report.md").read_text()
    # same seed: byte-identical shards and ledger
    again, run_again = _run(tmp_path, "b", *args, **files)
    for path in sorted(p for p in run.shards.rglob("*") if p.is_file() and p.name != ".corpus_work"):
        twin = run_again.shards / path.relative_to(run.shards)
        assert path.read_bytes() == twin.read_bytes(), path
    assert (run.corpus / "ledger.jsonl").read_bytes() == (run_again.corpus / "ledger.jsonl").read_bytes()
    assert again["upsampling"] == up
    assert _check_copies(again, run_again) == copies
