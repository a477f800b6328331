"""Guideline PDFs through the crawler (``pdfs:`` of a source definition): PDFs linked from guideline pages become
rows, on the base host or another root (WHO's IRIS); every PDF that cannot become a row is named with its reason;
a site that stopped linking PDFs, or answers PDF links with something else, fails the source loudly."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import meditron.corpus.download.guidelines.run as run_module
from meditron.corpus.download.guidelines import cli_download
from meditron.corpus.download.guidelines.crawler import Pacer
from meditron.corpus.download.http import PoliteClient
from tests.corpus.download.guideline_sites import _GEN_JUNK, PDF_HEADER, cco_site, icrc_site, routes_of, who_site
from tests.corpus.download.server import LoopbackServer, Resource
from tests.corpus.download.test_guidelines import Recorder
from tests.corpus.pdf_fixtures import DAMAGED_PDF, locked_pdf, scanned_pdf

CHALLENGE = b"<html><body><h1>Access Denied</h1><p>You don't have permission to access this resource.</p></body></html>"


def crawl(name: str, routes: dict, out: Path, pdf_root: str | None = None) -> tuple[int, list[str], dict, list]:
    """(exit code, printed lines, rows by URL path, the server's request log)."""
    lines: list[str] = []
    sleep = Recorder()
    client = PoliteClient(backoff_s=0.01, sleep=sleep, retries=1)
    with LoopbackServer(routes) as server:
        base_urls = {name: server.url("/")}
        if pdf_root:
            base_urls[f"{name}+pdf"] = server.url(pdf_root)
        try:
            code = cli_download([name], base_urls, out, client=client, pacer=Pacer(sleep=sleep), echo=lines.append)
        finally:
            client.close()
        base, log = server.url("/"), list(server.log)
    rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
    return code, lines, {r["url"][len(base):]: r for r in rows}, log


def test_who_pdfs_on_iris_become_rows_without_page_furniture(tmp_path):
    site = who_site()
    code, lines, rows, log = crawl("who", routes_of(site), tmp_path, pdf_root="/iris/")
    assert code == 0, lines
    assert lines[0] == ("who: 4 rows, 4 fetched, 0 unchanged (304), 4 new/updated, 2 PDFs read, 0 failed, "
                        "0 blocked by robots.txt, 0 skipped")
    # the listing comes from the grid's OData API, paged until a page adds nothing
    api = [parse_qs(urlsplit(r.path).query) for r in log if r.route == "/api/hubs/publications"]
    assert [(q["$skip"], q["$top"]) for q in api] == [(["0"], ["20"]), (["20"], ["20"])]
    assert api[0]["$filter"] == ["publishingoffices/any(x:x eq c09761c0-ab8e-4cfa-9744-99509c4d306b)"]
    pdf_rows = {path: row for path, row in rows.items() if row.get("format") == "pdf"}
    assert sorted(pdf_rows) == sorted(p for p in site.body if p.startswith("iris/"))
    for path, row in pdf_rows.items():
        title, sentence = site.body[path]
        assert (row["title"], row["pages"], row["pages_read"], row["source"]) == (title, 3, 3, "who")
        assert row["clean_text"].startswith(f"# {title}\n\n1. Recommendations\n\n{sentence}")
        assert "3. Implementation" in row["clean_text"]
        for junk in _GEN_JUNK:
            assert junk not in row["clean_text"], junk
        # raw_text is what PDFium read, furniture included: the cleaning can be audited
        assert PDF_HEADER in row["raw_text"] and "Page 3 of 3" in row["raw_text"]


def test_a_listing_api_that_changed_fails_loudly(tmp_path):
    routes = routes_of(who_site())
    routes["/api/hubs/publications"] = Resource(b"<html><body>Publications</body></html>", content_type="text/html")
    code, lines, rows, _ = crawl("who", routes, tmp_path, pdf_root="/iris/")
    assert code == 1 and rows == {}
    assert lines[-2].startswith("error: who: the listing API api/hubs/publications listed no guideline page (listing "
                                "API http://127.0.0.1:")
    assert lines[-2].endswith("no 'value' list in the answer (JSONDecodeError: Expecting value: line 1 column 1 "
                              "(char 0)); the API changed?)")


def _with_links(resource: Resource, html: str) -> Resource:
    """The page with ``html`` added at the end of its content."""
    return Resource(resource.body.replace(b"</footer>", b"</footer>" + html.encode()), content_type="text/html")


def test_pdfs_linked_from_listings_are_not_downloaded(tmp_path):
    site = cco_site()
    routes = routes_of(site)
    # a leaflet PDF on the listing matches pdfs.follow too; only guideline pages' PDFs are taken
    leaflet = "/sites/ccocancercare/files/guidelines/full/leaflet.pdf"
    listing = routes["/en/guidelines-advice/types-of-cancer"]
    routes["/en/guidelines-advice/types-of-cancer"] = lambda request: _with_links(listing(request),
                                                                                 f'<a href="{leaflet}">Leaflet</a>')
    routes[leaflet] = Resource(b"%PDF-1.4 never fetched", content_type="application/pdf")
    code, lines, rows, log = crawl("cco", routes, tmp_path)
    assert code == 0, lines
    assert leaflet not in [r.route for r in log]
    # the listing's second page (the "Load more" pager) was read, the category page was not
    assert [r.path for r in log if r.route == "/en/guidelines-advice/types-of-cancer"] == [
        "/en/guidelines-advice/types-of-cancer", "/en/guidelines-advice/types-of-cancer?page=1"]
    assert "/en/guidelines-advice/types-of-cancer/breast" not in [r.route for r in log]
    assert len([r for r in rows.values() if r.get("format") == "pdf"]) == 2


FOLLOW = r"^en/file/\d+/download, ^sites/ccocancercare/files/guidelines/.+\.pdf$"


def test_every_pdf_that_cannot_become_a_row_is_named_with_its_reason(tmp_path, monkeypatch):
    site = cco_site()
    routes = routes_of(site)
    good, other = sorted((p for p in site.body if p.startswith("en/file/")),
                         key=lambda p: len(routes["/" + p.split("?")[0]].body))
    page = "/en/guidelines-advice/types-of-cancer/38101"
    faults = {
        "damaged.pdf": Resource(DAMAGED_PDF, content_type="application/pdf"),
        "locked.pdf": Resource(locked_pdf(), content_type="application/pdf"),
        "scan.pdf": Resource(scanned_pdf(), content_type="application/pdf"),
        "challenge.pdf": Resource(CHALLENGE, content_type="text/html"),
        "huge.pdf": Resource(routes["/" + other.split("?")[0]].body, content_type="application/pdf"),
    }
    routes[page] = _with_links(routes[page], "".join(
        f'<a href="/sites/ccocancercare/files/guidelines/full/{name}">{name}</a>' for name in faults))
    for name, resource in faults.items():
        routes[f"/sites/ccocancercare/files/guidelines/full/{name}"] = resource
    real_load = run_module.load_sources
    limit = len(routes["/" + good.split("?")[0]].body)

    def small_pdfs(names):  # pdfs.max_bytes: the good report fits, huge.pdf (and the other report) do not
        return [d.model_copy(update={"pdfs": d.pdfs.model_copy(update={"max_bytes": limit})}) for d in real_load(names)]

    assert len(routes["/" + other.split("?")[0]].body) > limit
    monkeypatch.setattr(run_module, "load_sources", small_pdfs)
    code, lines, rows, _ = crawl("cco", routes, tmp_path)
    assert code == 0, lines  # 2 pages and 1 PDF gave rows; the failures are listed, not fatal
    assert sorted(p for p, r in rows.items() if r.get("format") == "pdf") == [good]
    base = "http://127.0.0.1"
    failed = {line.split(": ", 1)[0].rsplit("/", 1)[1]: line.split(": ", 1)[1] for line in lines
              if line.startswith("  failed " + base)}
    assert set(failed) == {"damaged.pdf", "locked.pdf", "scan.pdf", "challenge.pdf"}, lines
    assert "damaged or unreadable PDF" in failed["damaged.pdf"]
    assert "the PDF is encrypted (a password is required to read it)" in failed["locked.pdf"]
    assert failed["scan.pdf"] == "the PDF's 1 page(s) hold no text (a scan? OCR is not done)"
    assert failed["challenge.pdf"] == f"expected a PDF (pdfs.follow: {FOLLOW}), got text/html"
    # too large: skipped (counted), not failed — the other report and huge.pdf
    assert "2 skipped" in lines[0], lines[0]


def test_a_site_whose_pdf_links_answer_with_a_bot_check_fails_loudly(tmp_path):
    site = cco_site()
    routes = routes_of(site)
    for path in site.body:
        if path.startswith("en/file/"):
            routes["/" + path.split("?")[0]] = Resource(CHALLENGE, content_type="text/html")
    code, lines, _, _ = crawl("cco", routes, tmp_path)
    assert code == 1
    assert lines[-2] == (f"error: cco: 2 link(s) matching pdfs.follow ({FOLLOW}) answered with something other than"
                         " a PDF (a landing page or a bot check?) and none gave a PDF")


def test_pages_that_stopped_linking_pdfs_fail_loudly(tmp_path):
    site = who_site()
    routes = routes_of(site)
    code, lines, rows, _ = crawl("who", routes, tmp_path)  # PDF root not served: the links now point elsewhere
    assert code == 1 and len(rows) == 2  # the item pages' own rows are still written
    assert lines[-2] == ("error: who: 2 guideline page(s) matched but none linked a PDF matching pdfs.follow "
                         r"(^server/api/core/bitstreams/[0-9a-f-]+/content$, ^media/docs/.+\.pdf$); the site's"
                         " download links changed?")


def test_a_rerun_gets_304s_and_keeps_the_pdf_rows_byte_identical(tmp_path):
    sleep = Recorder()
    with LoopbackServer(routes_of(cco_site())) as server:
        for run in (1, 2):
            lines: list[str] = []
            with PoliteClient(backoff_s=0.01, sleep=sleep) as client:
                code = cli_download(["cco"], {"cco": server.url("/")}, tmp_path, client=client,
                                    pacer=Pacer(sleep=sleep), echo=lines.append)
            assert code == 0, lines
            pdf_rows = [line for line in (tmp_path / "cco.jsonl").read_text().splitlines() if '"format": "pdf"' in line]
            if run == 1:
                before = pdf_rows
                server.log.clear()
        pdf_requests = [r for r in server.log if r.route.startswith("/en/file/")]
    assert len(pdf_requests) == 2 and all(r.headers.get("if-none-match") for r in pdf_requests)
    assert lines[0].startswith("cco: 4 rows, 6 fetched, 2 unchanged (304), 2 new/updated, 0 PDFs read"), lines[0]
    assert len(before) == 2 and pdf_rows == before  # the HTML pages (no ETag) were refetched; the PDF rows kept as is


@pytest.mark.slow  # the real command paces at WHO's 2 s interval
def test_the_real_command_with_a_pdf_root(tmp_path):
    from typer.testing import CliRunner

    from meditron.cli import app

    site = who_site()
    with LoopbackServer(routes_of(site)) as server:
        args = ["corpus", "download", "guidelines", "--sources", "who", "--base-url", f"who={server.url('/')}",
                "--base-url", f"who+pdf={server.url('/iris/')}", "--out", str(tmp_path)]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "who.jsonl").read_text().splitlines()]
    assert sorted(r.get("format", "html") for r in rows) == ["html", "html", "pdf", "pdf"]


def test_a_source_whose_pdfs_are_optional_passes_without_any(tmp_path):
    """ICRC: many publications link a shop product page instead of a PDF (``pdfs.required: false``)."""
    import re

    site = icrc_site()
    routes = {}
    for path, target in routes_of(site).items():
        if path.endswith(".pdf"):
            continue
        if isinstance(target, Resource) and b"download-url" in target.body:  # the PDF link becomes a shop link
            body = re.sub(rb'href="/sites/default/files/[^"]+"', b'href="https://shop.icrc.org/p.html"', target.body)
            target = Resource(body, content_type=target.content_type)
        routes[path] = target
    code, lines, rows, log = crawl("icrc", routes, tmp_path)
    assert code == 0, lines
    assert sorted(rows) == sorted(p for p in site.body if not p.endswith(".pdf"))
    assert not [r for r in log if r.route.endswith(".pdf")]
