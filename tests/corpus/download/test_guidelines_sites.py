"""The six crawled guideline sources besides CDC, each against a fixture site in its page structure
(tests/corpus/download/guideline_sites.py): rows hold the guideline body and none of the site chrome, and the
corpus stage keeps them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meditron.corpus.download.guidelines import cli_download
from meditron.corpus.download.guidelines.crawler import Pacer
from meditron.corpus.download.http import PoliteClient
from tests.corpus.download.guideline_sites import SITES, routes_of
from tests.corpus.download.server import LoopbackServer
from tests.corpus.download.test_guidelines import Recorder, _corpus_ledger


def crawl(name: str, out: Path) -> tuple[int, list[str], list[dict], str]:
    lines: list[str] = []
    sleep = Recorder()  # the sources' 1–2 s politeness intervals are recorded, not slept
    client = PoliteClient(backoff_s=0.01, sleep=sleep)
    site = SITES[name]()
    with LoopbackServer(routes_of(site)) as server:
        base_urls = {name: server.url("/")}
        if site.pdf_root:
            base_urls[f"{name}+pdf"] = server.url(site.pdf_root)
        try:
            code = cli_download([name], base_urls, out, client=client, pacer=Pacer(sleep=sleep), echo=lines.append)
        finally:
            client.close()
        base = server.url("/")
    rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
    return code, lines, rows, base


@pytest.mark.parametrize("name", sorted(SITES))
def test_source_rows_hold_the_guideline_and_no_site_chrome(tmp_path, name):
    site = SITES[name]()
    code, lines, rows, base = crawl(name, tmp_path)
    assert code == 0, lines
    by_path = {r["url"][len(base):]: r for r in rows}
    assert sorted(by_path) == sorted(site.body), lines
    for path, needed in site.body.items():
        row = by_path[path]
        assert row["source"] == name and row["title"] and row["clean_text"].lstrip("# ").startswith(row["title"])
        for text in needed:
            assert text in row["clean_text"], (path, row["clean_text"])
        for junk in site.junk:
            assert junk not in row["clean_text"], (path, junk, row["clean_text"])


def test_every_source_row_passes_the_corpus_filters(tmp_path):
    out = tmp_path / "dl"
    ids = []
    for name in sorted(SITES):
        code, lines, rows, _ = crawl(name, out)
        assert code == 0, lines
        ids += [f"guidelines-{r['id']}" for r in rows]
    ledger = _corpus_ledger(tmp_path, out)
    assert sorted(r["id"] for r in ledger) == sorted(ids) and len(ids) == 12 + 6  # 6 pages are WHO/CCO/ICRC PDFs
    # every page shares the fixtures' RATIONALE paragraph, so dedup may fold pages together: no other step drops
    dropped = [r for r in ledger if r["state"] != "kept"]
    assert {r["step"] for r in dropped} <= {"dedup"}, dropped
    assert len(dropped) < len(ledger) and {r["id"].split("-")[1] for r in ledger} == set(SITES)
