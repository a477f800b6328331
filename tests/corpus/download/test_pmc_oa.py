"""`meditron corpus download pmc-oa` against a loopback oa_bulk tree: licence filter, retracted and superseded
articles listed in excluded.json, and the jats source dropping them with their reason in the ledger."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from meditron.cli import app
from meditron.corpus.readers.jats import JatsReader
from tests.corpus.download.server import LoopbackServer, Resource, apache_listing

SAMPLE_JATS = Path(__file__).resolve().parents[3] / "src" / "meditron" / "sample" / "pubmed" / "jats"
HEADER = "Article File,Article Citation,AccessionID,LastUpdated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted\n"
BASELINE = "oa_comm_xml.PMC009xxxxxx.baseline.2024-12-18"
INCR = "oa_comm_xml.incr.2024-12-19"
NONCOMM = "oa_noncomm_xml.PMC003xxxxxx.baseline.2024-12-18"
runner = CliRunner()


def _package(accessions: list[str]) -> bytes:
    """A PMC bulk package: ``PMC009xxxxxx/PMCnnn.xml`` members holding the real JATS articles."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for acc in accessions:
            data = (SAMPLE_JATS / f"{acc}.nxml").read_bytes()
            info = tarfile.TarInfo(f"PMC009xxxxxx/{acc}.xml")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _filelist(rows: list[tuple[str, str]]) -> bytes:
    lines = [f'PMC009xxxxxx/{acc}.xml,"BMJ. 2022; 1:e1",{acc},2024-12-18 10:00:00,{1000 + i},CC BY,{retracted}\n'
             for i, (acc, retracted) in enumerate(rows)]
    return (HEADER + "".join(lines)).encode()


def oa_bulk_routes() -> dict[str, Resource]:
    comm = {BASELINE: [("PMC3596024", "no"), ("PMC9227431", "yes"), ("PMC6533919", "no")],
            INCR: [("PMC6533919", "no")]}
    noncomm = {NONCOMM: [("PMC3420656", "no")]}
    routes: dict[str, Resource] = {}
    for group, packages in (("comm", comm), ("noncomm", noncomm)):
        names = []
        for stem, rows in packages.items():
            routes[f"/oa_bulk/oa_{group}/xml/{stem}.tar.gz"] = Resource(_package([a for a, _ in rows]))
            routes[f"/oa_bulk/oa_{group}/xml/{stem}.filelist.csv"] = Resource(_filelist(rows), content_type="text/csv")
            names += [f"{stem}.filelist.csv", f"{stem}.filelist.txt", f"{stem}.tar.gz"]
        routes[f"/oa_bulk/oa_{group}/xml/"] = Resource(apache_listing(f"/pub/pmc/oa_bulk/oa_{group}/xml", names),
                                                      content_type="text/html")
    return routes


@pytest.fixture()
def downloaded(tmp_path):
    out = tmp_path / "pmc"
    with LoopbackServer(oa_bulk_routes()) as server:
        result = runner.invoke(app, ["corpus", "download", "pmc-oa", "--base-url", server.url("/oa_bulk/"),
                                     "--out", str(out), "--license", "comm"], env={"COLUMNS": "250"})
        gets = server.gets()
    assert result.exit_code == 0, result.output
    return out, gets


def test_licence_filter_and_excluded_json(downloaded):
    out, gets = downloaded
    assert not [g for g in gets if "noncomm" in g]  # the non-commercial group was never even listed
    assert sorted(p.name for p in out.rglob("*.tar.gz")) == sorted([f"{INCR}.tar.gz", f"{BASELINE}.tar.gz"])
    excluded = json.loads((out / "excluded.json").read_text())
    assert excluded["ids"] == {"PMC9227431": "retracted"}
    assert excluded["by_file"] == {f"{BASELINE}.tar.gz": {"PMC6533919": "superseded-by-later-version"}}
    manifest = json.loads((out / "manifest.json").read_text())
    assert {e["path"] for e in manifest["files"]} == {
        f"oa_comm/xml/{s}{ext}" for s in (BASELINE, INCR) for ext in (".tar.gz", ".filelist.csv")}
    assert all(e["licence"].startswith("PMC OA commercial-use group") for e in manifest["files"])


def test_jats_reader_drops_excluded_articles_with_their_reason(downloaded):
    out, _ = downloaded
    reader = JatsReader([str(out)], source="papers", exclude_ids_file=str(out / "excluded.json"))
    docs = [(d.id, d.metadata.get("drop_reason", ""), Path(d.metadata["file_path"].split(":")[0]).name)
            for d in reader.run()]
    assert sorted(docs) == sorted([
        ("pmc3596024", "", f"{BASELINE}.tar.gz"),
        ("pmc9227431", "retracted", f"{BASELINE}.tar.gz"),
        ("pmc6533919", "superseded-by-later-version", f"{BASELINE}.tar.gz"),
        ("pmc6533919", "", f"{INCR}.tar.gz"),
    ])


@pytest.mark.slow
def test_a_retracted_article_never_reaches_the_shards(downloaded, tmp_path):
    out, _ = downloaded
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "pmc", "out_dir": str(tmp_path / "runs"), "corpus": {
        "tokenizer": "sample:tokenizer",
        "sources": [{"name": "papers", "kind": "jats", "paths": [str(out)], "validation_share": 0.0,
                     "exclude_ids_file": str(out / "excluded.json")}],
        "dedup": {"minhash": {"enabled": False}}, "decontamination": {"enabled": False}}}))
    result = runner.invoke(app, ["corpus", "run", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    runs = tmp_path / "runs"
    report = json.loads(next(runs.rglob("corpus_report.json")).read_text())
    ledger = [json.loads(line) for line in next(runs.rglob("ledger.jsonl")).read_text().splitlines()]
    assert report["drop_reasons"]["retracted"] == 1
    assert report["drop_reasons"]["superseded-by-later-version"] == 1
    assert [(r["state"], r["reason"]) for r in ledger if r["id"] == "pmc9227431"] == [("dropped", "retracted")]
    assert sorted(r["state"] for r in ledger if r["id"] == "pmc6533919") == ["dropped", "kept"]
    from meditron.data.shards import TokenShards
    from meditron.tokenizer import load_tokenizer

    shards = TokenShards(next(p.parent for p in runs.rglob("manifest.json") if (p.parent / "tokenizer").exists()))
    tok = load_tokenizer(shards.tokenizer_dir)
    text = "".join(tok.decode(f.tokens) for s in shards.sources("train") for f in shards.files(s, "train"))
    assert "midwife-led continuity model" in text  # PMC6533919, kept once
    assert "reduces postoperative complications within 30 days" not in text  # PMC9227431, retracted
