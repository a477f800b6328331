"""The guideline crawler against a loopback CDC mirror: rows the corpus stage keeps, a changed layout failing loudly,
robots.txt, Retry-After, conditional GET, resume after an interruption, budgets, and WikiDoc's MediaWiki API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meditron.corpus.download.guidelines import cli_download
from meditron.corpus.download.guidelines.crawler import Pacer
from meditron.corpus.download.guidelines.definition import available_sources, load_source
from meditron.corpus.download.http import PoliteClient
from tests.corpus.download.guideline_site import OWN_PAGES, cdc_routes, real_pages
from tests.corpus.download.server import Fault, LoopbackServer
from tests.testing import requires_shared_data


class Recorder:
    """Sleeps recorded, not slept: the tests check which waits were asked for, never how long a run took."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def download(server: LoopbackServer, out: Path, sleep: Recorder | None = None, **kwargs) -> tuple[int, list[str]]:
    lines: list[str] = []
    sleep = sleep or Recorder()
    client = PoliteClient(backoff_s=0.01, sleep=sleep)
    try:
        code = cli_download(["cdc"], {"cdc": server.url("/")}, out, client=client, pacer=Pacer(sleep=sleep),
                            echo=lines.append, **kwargs)
    finally:
        client.close()
    return code, lines


def run_cli(server: LoopbackServer, out: Path):
    """``meditron corpus download guidelines --sources cdc --base-url cdc=URL --out DIR`` (the real command)."""
    from typer.testing import CliRunner

    from meditron.cli import app

    args = ["corpus", "download", "guidelines", "--sources", "cdc", "--base-url", f"cdc={server.url('/')}",
            "--out", str(out)]
    return CliRunner().invoke(app, args)


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "cdc.jsonl").read_text().splitlines()]


def test_every_source_definition_loads_and_validates():
    names = sorted(available_sources())
    assert names == ["cco", "cdc", "cma", "icrc", "nice", "spor", "who", "wikidoc"]
    for name, path in available_sources().items():
        definition = load_source(path)
        assert definition.name == name and definition.licence and definition.base_url.startswith("https://")
        assert definition.content.xpaths or definition.content.markers
        assert bool(definition.mediawiki) == (name == "wikidoc")


def test_a_bad_definition_names_the_file_and_key(tmp_path):
    from meditron.errors import ConfigError

    bad = tmp_path / "cdc.yaml"
    bad.write_text("name: cdc\ntitle: x\nlicence: y\nbase_url: https://x.org/\nseeds: [a]\ncontent: {xpaths: ['//[']}\n")
    with pytest.raises(ConfigError, match=r"cdc\.yaml: content\.xpaths: .*bad XPath '//\['"):
        load_source(bad)


def test_own_cdc_pages_become_rows_with_guideline_text(tmp_path):
    with LoopbackServer(cdc_routes(OWN_PAGES)) as server:
        code, lines = download(server, tmp_path)
    assert code == 0, lines
    by_url = {r["url"].split("/", 3)[3]: r for r in rows(tmp_path)}
    assert sorted(by_url) == ["mmwr/preview/mmwrhtml/rr5507a1.htm", "mmwr/volumes/71/rr/rr7102a1.htm"]
    new = by_url["mmwr/volumes/71/rr/rr7102a1.htm"]
    assert set(new) >= {"id", "source", "title", "url", "raw_text", "clean_text"} and new["source"] == "cdc"
    assert new["clean_text"].startswith("# Use of Meningococcal Vaccines Among Travelers")
    assert "- Adults should receive a single dose at least 7 days before departure." in new["clean_text"]
    for junk in ("Skip directly", "CDC Home", "Cohn AC", "Page last reviewed", "(1,2)"):
        assert junk not in new["clean_text"]
    old = by_url["mmwr/preview/mmwrhtml/rr5507a1.htm"]
    assert "Vaccinate all children aged 12–23 months" in old["clean_text"]  # windows-1252 decoded
    assert "Skip Navigation" not in old["clean_text"] and "Fiore AE" not in old["clean_text"]
    (manifest,) = json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert manifest["path"] == "cdc.jsonl" and manifest["url"] == server.url("/")
    assert manifest["size"] == (tmp_path / "cdc.jsonl").stat().st_size and manifest["licence"].startswith("US Gov")


def _corpus_ledger(tmp_path: Path, out: Path) -> list[dict]:
    """``meditron corpus run`` on the downloaded JSONL (kind guideline_jsonl); the ledger's records."""
    import yaml
    from typer.testing import CliRunner

    from meditron.cli import app

    config = tmp_path / "corpus.yaml"
    config.write_text(yaml.safe_dump({
        "name": "dl", "out_dir": str(tmp_path / "runs"),
        "corpus": {"tokenizer": "sample:tokenizer", "decontamination": {"benchmarks_dir": "sample:benchmarks"},
                   "sources": [{"name": "guidelines", "kind": "guideline_jsonl", "paths": [f"{out}/*.jsonl"],
                                "validation_share": 0.0}]},
    }))
    result = CliRunner().invoke(app, ["corpus", "run", "-c", str(config)])
    assert result.exit_code == 0, result.output
    (ledger,) = (tmp_path / "runs").rglob("ledger.jsonl")
    return [json.loads(line) for line in ledger.read_text().splitlines()]


@pytest.mark.slow  # the real command paces at CDC's 1 s interval: ~20 requests
@requires_shared_data
def test_served_real_cdc_pages_give_rows_the_corpus_stage_keeps(tmp_path):
    out = tmp_path / "dl"
    with LoopbackServer(cdc_routes(real_pages())) as server:
        result = run_cli(server, out)
    assert result.exit_code == 0, result.output
    got = {r["url"].rsplit("/", 1)[1]: r for r in rows(out)}
    assert sorted(got) == ["mm5650a4.htm", "mm7153a1.htm", "rr5416a1.htm"]
    hep_b = got["rr5416a1.htm"]["clean_text"]
    assert hep_b.startswith("# A Comprehensive Immunization Strategy to Eliminate Transmission of Hepatitis B")
    assert "universal infant vaccination beginning at birth" in hep_b and len(hep_b) > 50_000
    assert "Skip Navigation" not in hep_b and "Persons using assistive technology" not in hep_b
    ledger = _corpus_ledger(tmp_path, out)
    assert len(ledger) == 3
    assert {r["state"] for r in ledger} == {"kept"}, ledger
    assert sorted(r["id"] for r in ledger) == sorted(f"guidelines-{r['id']}" for r in rows(out))


def test_a_changed_layout_fails_loudly_naming_the_selector(tmp_path):
    renamed = {path: body.replace(b"<main", b"<div data-main").replace(b"</main>", b"</div>")
               .replace(b"<!-- content area -->", b"<!-- body -->") for path, body in OWN_PAGES.items()}
    with LoopbackServer(cdc_routes(renamed)) as server:
        result = run_cli(server, tmp_path)
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert error == ["error: cdc: 0 of 2 pages had the content selector XPath '//main' or marker "
                     "'<!--\\\\s*content area\\\\s*-->'; the layout changed? — last matched on never"]
    assert rows(tmp_path) == []


def test_robots_disallow_is_respected_and_crawl_delay_paces(tmp_path):
    robots = "User-agent: meditron-corpus\nDisallow: /mmwr/preview/\nCrawl-delay: 7\n\nUser-agent: *\nAllow: /\n"
    sleep = Recorder()
    with LoopbackServer(cdc_routes(OWN_PAGES, robots=robots)) as server:
        code, lines = download(server, tmp_path, sleep=sleep)
        gets = server.gets()
    assert code == 0, lines
    assert not [g for g in gets if g.startswith("/mmwr/preview/")]
    assert [r["url"].split("/", 3)[3] for r in rows(tmp_path)] == ["mmwr/volumes/71/rr/rr7102a1.htm"]
    assert "1 blocked by robots.txt" in lines[0]
    assert sleep.waits and min(sleep.waits) > 6.0  # every pause made up to robots' 7 s Crawl-delay


def test_429_with_retry_after_is_honoured(tmp_path):
    sleep = Recorder()
    with LoopbackServer(cdc_routes(OWN_PAGES)) as server:
        server.add_faults("/mmwr/volumes/71/rr/rr7102a1.htm", Fault.retry_after("3"))
        code, lines = download(server, tmp_path, sleep=sleep)
        hits = server.requests_for("/mmwr/volumes/71/rr/rr7102a1.htm")
    assert code == 0, lines
    assert len(hits) == 2 and 3.0 in sleep.waits
    assert len(rows(tmp_path)) == 2


def test_rerun_sends_validators_and_keeps_rows_on_304(tmp_path):
    with LoopbackServer(cdc_routes(OWN_PAGES, etag=True)) as server:
        assert download(server, tmp_path)[0] == 0
        first = (tmp_path / "cdc.jsonl").read_bytes()
        page = "/mmwr/volumes/71/rr/rr7102a1.htm"
        code, lines = download(server, tmp_path)
        second = server.requests_for(page)[-1]
    assert code == 0, lines
    assert second.headers["if-none-match"] == server.routes[page].etag
    assert "2 unchanged (304)" in lines[0] and "0 new/updated" in lines[0]
    assert (tmp_path / "cdc.jsonl").read_bytes() == first


def test_an_interrupted_crawl_resumes_without_refetching_done_pages(tmp_path):
    with LoopbackServer(cdc_routes(OWN_PAGES)) as server:
        sleep = Recorder()
        client = PoliteClient(backoff_s=0.01, sleep=sleep)
        original_get = client.get
        calls = []

        def get(url, headers=None):
            calls.append(url)
            if url.endswith("rr7102a1.htm") and len([c for c in calls if c.endswith("rr7102a1.htm")]) == 1:
                raise KeyboardInterrupt  # the user's Ctrl-C while this page is in flight
            return original_get(url, headers=headers)

        client.get = get
        with pytest.raises(KeyboardInterrupt):
            cli_download(["cdc"], {"cdc": server.url("/")}, tmp_path, client=client, pacer=Pacer(sleep=sleep),
                         echo=lambda line: None)
        before = server.gets()
        code, lines = download(server, tmp_path)
        after = server.gets()[len(before):]
    assert code == 0, lines
    assert "(resumed)" in lines[0]
    assert [g for g in before if g.endswith(".htm")] == ["/mmwr/preview/mmwrhtml/rr5507a1.htm"]  # done, then Ctrl-C
    assert after == ["/robots.txt", "/mmwr/volumes/71/rr/rr7102a1.htm"]  # the rest only: no done page again
    assert len(rows(tmp_path)) == 2


@pytest.mark.parametrize(("limits", "reason"), [({"max_pages": 3}, "page budget reached (3 of --max-pages 3)"),
                                                ({"max_bytes": 500}, "byte budget reached")])
def test_budgets_stop_the_crawl_with_a_summary(tmp_path, limits, reason):
    with LoopbackServer(cdc_routes(OWN_PAGES)) as server:
        code, lines = download(server, tmp_path, **limits)
        num_gets = len(server.gets())
    assert code == 0, lines
    assert reason in lines[0] and "rerun the same command to continue" in lines[0]
    assert num_gets <= 4  # robots.txt + the budgeted requests
