"""`meditron corpus download pubmed` against a loopback copy of NLM's listing: md5 verification, manifest, reruns,
resume after a cut; then `meditron corpus run` reads what was downloaded."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from meditron.cli import app
from meditron.corpus.download.batch import parse_md5
from meditron.corpus.download.http import DownloadError, PoliteClient
from meditron.corpus.download.pubmed import download_pubmed
from tests.corpus.download.server import Fault, LoopbackServer, Resource, apache_listing
from tests.testing import SHARED_DATA, requires_shared_data

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "medline"
runner = CliRunner()


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def nlm_routes(files: dict[str, bytes], *, bad_md5: set[str] = frozenset(), updates: dict[str, bytes] | None = None):
    """Routes of an NLM-shaped tree: /pubmed/baseline/ and /pubmed/updatefiles/ listings, files, `.md5` sidecars."""
    routes: dict[str, Resource | bytes] = {}
    for folder, content in (("baseline", files), ("updatefiles", updates or {})):
        names = []
        for name, body in content.items():
            digest = "0" * 32 if name in bad_md5 else hashlib.md5(body).hexdigest()
            routes[f"/pubmed/{folder}/{name}"] = Resource(body, content_type="application/x-gzip")
            routes[f"/pubmed/{folder}/{name}.md5"] = Resource(f"MD5({name})= {digest}\n".encode(), content_type="text/plain")
            names += [name, name + ".md5"]
        routes[f"/pubmed/{folder}/"] = Resource(apache_listing(f"/pubmed/{folder}", ["README.txt", *names]),
                                                content_type="text/html")
    return routes


@pytest.fixture()
def three_files() -> dict[str, bytes]:
    a = _gz((FIXTURES / "pubmed25n0001.xml").read_bytes())
    b = _gz((FIXTURES / "pubmed25n0002.xml").read_bytes())
    c = _gz((FIXTURES / "medline_citationset.xml").read_bytes())
    return {"pubmed25n0001.xml.gz": a, "pubmed25n0002.xml.gz": b, "pubmed25n0003.xml.gz": c}


def _cli(*args: str):
    return runner.invoke(app, ["corpus", "download", *args], env={"COLUMNS": "250"})


def test_parse_md5_reads_nlm_and_md5sum_formats():
    assert parse_md5("MD5(pubmed25n0001.xml.gz)= 0123456789ABCDEF0123456789abcdef\n") == "0123456789abcdef" * 2
    assert parse_md5("0123456789abcdef0123456789abcdef  pubmed25n0001.xml.gz\n") == "0123456789abcdef" * 2
    assert parse_md5("<html>not found</html>") is None


def test_wrong_md5_fails_by_name_the_others_verify_and_a_rerun_fetches_nothing(tmp_path, three_files):
    out = tmp_path / "pubmed"
    with LoopbackServer(nlm_routes(three_files, bad_md5={"pubmed25n0002.xml.gz"})) as server:
        result = _cli("pubmed", "--base-url", server.url("/pubmed/"), "--out", str(out), "--include", "baseline")
        assert result.exit_code == 1, result.output
        assert "failed: baseline/pubmed25n0002.xml.gz: md5 mismatch: expected " + "0" * 32 in result.output
        assert sorted(p.name for p in (out / "baseline").glob("*.xml.gz")) == ["pubmed25n0001.xml.gz",
                                                                              "pubmed25n0003.xml.gz"]
        assert not list(out.rglob("*.part"))
        manifest = json.loads((out / "manifest.json").read_text())
        entries = {e["path"]: e for e in manifest["files"]}
        assert set(entries) == {"baseline/pubmed25n0001.xml.gz", "baseline/pubmed25n0003.xml.gz"}
        for rel, entry in entries.items():
            body = three_files[Path(rel).name]
            assert entry["size"] == len(body) and entry["sha256"] == hashlib.sha256(body).hexdigest()
            assert entry["md5"] == hashlib.md5(body).hexdigest() and entry["source"] == "pubmed"
            assert entry["url"] == server.url(f"/pubmed/{rel}") and entry["retrieved_at"].endswith("Z")
            assert entry["licence"].startswith("NLM Terms and Conditions")
        assert (out / "baseline" / "pubmed25n0001.xml.gz.md5").read_text().startswith("MD5(pubmed25n0001.xml.gz)= ")

        first_gets = server.gets()
        rerun = _cli("pubmed", "--base-url", server.url("/pubmed/"), "--out", str(out), "--include", "baseline")
        assert rerun.exit_code == 1 and "pubmed25n0002.xml.gz" in rerun.output
        again = server.gets()[len(first_gets):]
    data_gets = [g for g in again if g.endswith(".xml.gz")]
    assert data_gets == ["/pubmed/baseline/pubmed25n0002.xml.gz"]  # only the one that never verified
    assert "1 already verified" not in rerun.output and "2 already verified" in rerun.output


def test_updatefiles_and_max_files(tmp_path, three_files):
    updates = {"pubmed25n1275.xml.gz": three_files.pop("pubmed25n0003.xml.gz")}
    with LoopbackServer(nlm_routes(three_files, updates=updates)) as server:
        result = _cli("pubmed", "--base-url", server.url("/pubmed"), "--out", str(tmp_path), "--workers", "3")
        assert result.exit_code == 0, result.output
        assert (tmp_path / "updatefiles" / "pubmed25n1275.xml.gz").read_bytes() == updates["pubmed25n1275.xml.gz"]
        limited = _cli("pubmed", "--base-url", server.url("/pubmed/"), "--out", str(tmp_path / "two"),
                       "--max-files", "1")
        assert limited.exit_code == 0
    assert [p.name for p in (tmp_path / "two").rglob("*.xml.gz")] == ["pubmed25n0001.xml.gz"]


def test_a_file_changed_on_the_server_is_fetched_again(tmp_path, three_files):
    routes = nlm_routes(three_files)
    with LoopbackServer(routes) as server:
        assert _cli("pubmed", "--base-url", server.url("/pubmed/"), "--out", str(tmp_path)).exit_code == 0
        newer = _gz(b"<PubmedArticleSet></PubmedArticleSet>")
        server.routes.update(nlm_routes({**three_files, "pubmed25n0001.xml.gz": newer}))
        before = len(server.gets())
        assert _cli("pubmed", "--base-url", server.url("/pubmed/"), "--out", str(tmp_path)).exit_code == 0
        refetched = [g for g in server.gets()[before:] if g.endswith(".xml.gz")]
    assert refetched == ["/pubmed/baseline/pubmed25n0001.xml.gz"]
    assert (tmp_path / "baseline" / "pubmed25n0001.xml.gz").read_bytes() == newer


def test_cut_mid_file_resumes_at_the_received_byte(tmp_path, three_files):
    with LoopbackServer(nlm_routes(three_files)) as server:
        server.add_faults("/pubmed/baseline/pubmed25n0001.xml.gz", Fault.cut(700))
        report = download_pubmed(tmp_path, base_url=server.url("/pubmed/"), include=["baseline"],
                                 client=PoliteClient(sleep=lambda s: None))
        requests = server.requests_for("/pubmed/baseline/pubmed25n0001.xml.gz")
    assert report.failed == {} and report.results["baseline/pubmed25n0001.xml.gz"].status == "resumed"
    assert [r.headers.get("range") for r in requests] == [None, "bytes=700-"]
    assert (tmp_path / "baseline" / "pubmed25n0001.xml.gz").read_bytes() == three_files["pubmed25n0001.xml.gz"]


def test_a_changed_listing_fails_loudly(tmp_path):
    routes = {"/pubmed/baseline/": Resource(apache_listing("/pubmed/baseline", ["README.txt", "data.zip"]),
                                            content_type="text/html")}
    with LoopbackServer(routes) as server, pytest.raises(DownloadError, match="has no pubmedYYnNNNN.xml.gz file"):
        download_pubmed(tmp_path, base_url=server.url("/pubmed/"), include=["baseline"],
                        client=PoliteClient(sleep=lambda s: None))


@pytest.mark.slow
@requires_shared_data
def test_downloaded_real_medline_is_read_by_corpus_run(tmp_path):
    """Real NLM MEDLINE files, served and downloaded, then curated: every citation reaches the ledger."""
    medline = SHARED_DATA / "pubmed" / "medline"
    files = {"pubmed25n0001.xml.gz": (medline / "medline16n0902.xml.gz").read_bytes(),
             "pubmed25n0002.xml.gz": (medline / "test_current_medline.xml.gz").read_bytes(),
             "pubmed25n0003.xml.gz": _gz((medline / "pubmed-29768149.xml").read_bytes())}
    out = tmp_path / "pubmed"
    with LoopbackServer(nlm_routes(files)) as server:
        result = _cli("pubmed", "--base-url", server.url("/pubmed/"), "--out", str(out))
    assert result.exit_code == 0, result.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "dl", "out_dir": str(tmp_path / "runs"), "corpus": {
        "tokenizer": "sample:tokenizer",
        "sources": [{"name": "abstracts", "kind": "medline", "paths": [str(out)]}],
        "quality": {"min_chars": 100, "min_words": 15}, "dedup": {"minhash": {"enabled": False}},
        "decontamination": {"enabled": False}}}))
    run = runner.invoke(app, ["corpus", "run", "--config", str(cfg)])
    assert run.exit_code == 0, run.output
    report = json.loads(next((tmp_path / "runs").rglob("corpus_report.json")).read_text())
    ledger = next((tmp_path / "runs").rglob("ledger.jsonl")).read_text().splitlines()
    assert report["totals"]["input"] == len(ledger) >= 604  # medline16n0902 alone holds 604 citations
    assert report["totals"]["kept"] > 300
    assert {json.loads(line)["id"] for line in ledger} >= {"pmid29768149"}
