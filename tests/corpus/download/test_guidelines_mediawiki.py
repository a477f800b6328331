"""WikiDoc through a served fake MediaWiki API answering in the real ``formatversion=2`` shapes: ``list=allpages``
with ``continue`` tokens, ``action=parse`` with the rendered ``mw-parser-output`` HTML, and an API error."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from meditron.corpus.download.guidelines import cli_download
from meditron.corpus.download.guidelines.crawler import Pacer
from meditron.corpus.download.http import PoliteClient
from tests.corpus.download.server import LoopbackServer, Request, Resource

PAGES = {
    "Asthma": ("<h2>Overview</h2><p>Asthma is a chronic inflammatory disease of the airways characterised by variable "
               "airflow obstruction and bronchial hyperresponsiveness.</p><h2>Treatment</h2><ul><li>Inhaled "
               "corticosteroids are the first-line controller therapy for persistent asthma.</li></ul>"),
    "Hypertension": ("<h2>Overview</h2><p>Hypertension is a persistently raised arterial blood pressure of 140/90 "
                     "mmHg or more, measured on repeated occasions.</p>"),
    "Sepsis": None,  # the API answers missingtitle (deleted between listing and fetch)
}
WIKI_CHROME = ('<div id="toc" class="toc"><ul><li>1 Overview</li><li>2 Treatment</li></ul></div>'
               '<p><b>Editor-In-Chief:</b> C. Michael Gibson, M.S., M.D.</p>')


def parsed(title: str, body: str) -> dict:
    html = (f'<div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">{WIKI_CHROME}{body}'
            '<h2>References</h2><div class="reflist"><ol class="references"><li>Ref one</li></ol></div></div>')
    return {"parse": {"title": title, "pageid": len(title), "revid": 1000 + len(title), "text": html,
                      "displaytitle": f'<span class="mw-page-title-main">{title}</span>'}}


def api(request: Request) -> Resource:
    q = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
    if q.get("action") == "query" and q.get("list") == "allpages":
        if "apcontinue" not in q:
            data = {"batchcomplete": True, "continue": {"apcontinue": "Hypertension", "continue": "-||"},
                    "query": {"allpages": [{"pageid": 6, "ns": 0, "title": "Asthma"}]}}
        else:
            data = {"batchcomplete": True, "query": {"allpages": [{"pageid": 12, "ns": 0, "title": "Hypertension"},
                                                                  {"pageid": 6, "ns": 0, "title": "Sepsis"}]}}
    elif q.get("action") == "parse" and PAGES.get(q["page"]):
        data = parsed(q["page"], PAGES[q["page"]])
    else:
        data = {"error": {"code": "missingtitle", "info": "The page you specified doesn't exist."},
                "servedby": "mw-api-int"}
    return Resource(json.dumps(data).encode(), content_type="application/json; charset=utf-8")


def test_wikidoc_through_the_mediawiki_api(tmp_path):
    lines: list[str] = []
    routes = {"/robots.txt": Resource(b"User-agent: *\nDisallow: /index.php/Special:\n", content_type="text/plain"),
              "/api.php": api}
    with LoopbackServer(routes) as server:
        client = PoliteClient(backoff_s=0.01, sleep=lambda s: None)
        code = cli_download(["wikidoc"], {"wikidoc": server.url("/")}, tmp_path, client=client,
                            pacer=Pacer(sleep=lambda s: None), echo=lines.append)
        client.close()
        queries = [parse_qs(urlsplit(r.path).query) for r in server.requests_for("/api.php")]
    assert code == 0, lines
    assert [q.get("apcontinue", [None])[0] for q in queries if q["action"] == ["query"]] == [None, "Hypertension"]
    assert [q["page"][0] for q in queries if q["action"] == ["parse"]] == ["Asthma", "Hypertension", "Sepsis"]
    rows = [json.loads(line) for line in (tmp_path / "wikidoc.jsonl").read_text().splitlines()]
    assert [(r["title"], r["url"].split("/", 3)[3]) for r in rows] == [
        ("Asthma", "index.php/Asthma"), ("Hypertension", "index.php/Hypertension")]
    asthma = rows[0]["clean_text"]
    assert asthma.startswith("# Asthma\n")
    assert "Asthma is a chronic inflammatory disease of the airways" in asthma
    assert "Inhaled corticosteroids are the first-line controller therapy" in asthma
    for junk in ("Editor-In-Chief", "1 Overview", "Ref one"):
        assert junk not in asthma
    assert "1 failed" in lines[0] and any("Sepsis: API parse answer without text: The page you specified" in line
                                          for line in lines)
