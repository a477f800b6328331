"""The polite crawl of one guideline source: frontier → robots → pacing → conditional GET → links → rows.

One loop read top to bottom (``crawl``): take the next queued URL, check scope and robots.txt, wait the host's turn
(the larger of the source's interval and robots' Crawl-delay), GET it with the validators of the last run, follow
its in-scope links up to ``max_depth``, turn guideline pages into rows. The frontier commits every outcome, so a
killed crawl resumes where it stopped; the JSONL is rewritten from the frontier at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlencode

from meditron.corpus.cleaners.encoding import decode_bytes
from meditron.corpus.cleaners.pdf import PdfError, looks_like_pdf
from meditron.corpus.cleaners.pdf_worker import pdf_to_text_isolated
from meditron.corpus.download.guidelines.budget import Budget
from meditron.corpus.download.guidelines.definition import SourceDefinition
from meditron.corpus.download.guidelines.extract import extract_page, row_id, site_rules_for
from meditron.corpus.download.guidelines.frontier import DONE, FAILED, SKIPPED, Entry, Frontier
from meditron.corpus.download.guidelines.links import UrlScope, page_links, sitemap_locs
from meditron.corpus.download.guidelines.robots import RobotsRules
from meditron.corpus.download.http import DownloadError, PoliteClient


@dataclass
class CrawlSummary:
    source: str
    num_fetched: int = 0
    num_unchanged: int = 0
    num_rows_new: int = 0
    num_matched: int = 0
    num_missed: int = 0
    num_failed: int = 0
    num_robots_blocked: int = 0
    num_skipped: int = 0
    num_pdf_links: int = 0  # links matching pdfs.follow found on guideline pages
    num_pdf_rows: int = 0
    num_pdf_not_pdf: int = 0  # pdfs.follow URLs that answered with something else (a bot check, a landing page)
    stopped: str | None = None
    resumed: bool = False
    errors: list[str] = field(default_factory=list)


class Pacer:
    """At most one request per ``interval`` seconds per host (robots' Crawl-delay can only make it longer)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.sleep, self.clock = sleep, clock
        self._last: dict[str, float] = {}

    def wait(self, host: str, interval: float) -> None:
        last = self._last.get(host)
        if last is not None and interval > 0:
            pause = last + interval - self.clock()
            if pause > 0:
                self.sleep(pause)
        self._last[host] = self.clock()


def _conditional_headers(entry: Entry) -> dict[str, str]:
    headers = {}
    if entry.etag:
        headers["If-None-Match"] = entry.etag
    if entry.last_modified:
        headers["If-Modified-Since"] = entry.last_modified
    return headers


class SourceCrawler:
    """Crawls one source into its frontier; ``MediaWikiCrawler`` reuses the fetch/row parts."""

    def __init__(self, definition: SourceDefinition, frontier: Frontier, client: PoliteClient, robots: RobotsRules,
                 budget: Budget, pacer: Pacer):
        self.definition, self.frontier, self.client = definition, frontier, client
        self.robots, self.budget, self.pacer = robots, budget, pacer
        self.scope = UrlScope(definition)
        self.rules = site_rules_for(definition)
        self.summary = CrawlSummary(definition.name)

    # -- the loop ----------------------------------------------------------------------------------------------
    def crawl(self) -> CrawlSummary:
        self.summary.resumed = self.frontier.start_run()
        if not self.summary.resumed:
            self.seed()
        while (entry := self.frontier.next_queued()) is not None:
            if (why := self.budget.exhausted()) is not None:
                self.summary.stopped = why
                return self.summary
            if not self.in_scope(entry.url):
                self.frontier.mark(entry.url, SKIPPED, error="out of scope (allow/deny patterns)")
                self.summary.num_skipped += 1
                continue
            response = self.fetch(entry)
            if response is not None:
                self.handle(entry, response)
        self.frontier.finish_run()
        return self.summary

    def in_scope(self, url: str) -> bool:
        return self.scope.in_scope(url)

    def seed(self) -> None:
        base = self.definition.base_url
        for seed in self.definition.seeds:
            url = base + seed
            self.frontier.add(url, 0, self.scope.is_guideline(url))
        for sitemap in self.definition.sitemaps:
            self._read_sitemap(base + sitemap, depth=0)
        if self.definition.listing_api is not None:
            self._read_listing_api()

    def _read_listing_api(self) -> None:
        """Queue the guideline pages (and PDFs) a JSON listing API names, page by page, until a page adds nothing.

        An answer that is not JSON, or has no ``items_key`` list, stops the listing with an error naming the key:
        the API changed, and the source then fails loudly for want of guideline pages.
        """
        api, base = self.definition.listing_api, self.definition.base_url
        assert api is not None
        seen: set[str] = set()
        for number in range(api.max_pages):
            if self.budget.exhausted():
                return
            params = {**api.params, api.skip_param: str(number * api.page_size), api.top_param: str(api.page_size)}
            url = f"{base}{api.path}?{urlencode(params)}"
            content = self._fetch_listing(url, "listing API", {"Accept": "application/json"}, pace=True)
            if content is None:
                return
            try:
                items = json.loads(content)[api.items_key]
                if not isinstance(items, list):
                    raise TypeError(type(items).__name__)
            except (ValueError, KeyError, TypeError) as err:
                self.summary.errors.append(f"listing API {url}: no {api.items_key!r} list in the answer "
                                           f"({type(err).__name__}: {err}); the API changed?")
                return
            new = 0
            for item in items:
                value = item.get(api.page_field) if isinstance(item, dict) else None
                if not isinstance(value, str) or not value.strip():
                    self.summary.errors.append(f"listing API item without {api.page_field!r}: {str(item)[:120]}")
                    continue
                if value in seen:
                    continue
                seen.add(value)
                new += 1
                self.frontier.add(base + api.page_url.format(value.strip().lstrip("/")), 1, True)
                pdf = item.get(api.pdf_field) if api.pdf_field else None
                if isinstance(pdf, str) and self.scope.is_pdf(pdf.strip()) and self.scope.in_scope(pdf.strip()):
                    self.summary.num_pdf_links += 1
                    self.frontier.add(pdf.strip(), 2, True)
            if not new:  # an empty page, or the same items again: the end of the listing
                return

    def _fetch_listing(self, url: str, what: str, headers: dict[str, str] | None = None,
                       pace: bool = False) -> bytes | None:
        """The body of a listing (a sitemap, a listing API page), or None with the reason in the summary's errors."""
        if not self.robots.allowed(url):
            self.summary.errors.append(f"{what} {url}: robots.txt disallows it")
            return None
        if pace:
            self.pacer.wait(url.split("/")[2], max(self.definition.min_interval_s, self.robots.crawl_delay(url)))
        try:
            response = self.client.get(url, headers=headers)
        except DownloadError as err:
            self.summary.errors.append(f"{what} {url}: {err}")
            return None
        self.budget.spend(len(response.content))
        if response.status_code != 200:
            self.summary.errors.append(f"{what} {url}: HTTP {response.status_code}")
            return None
        return response.content

    def _read_sitemap(self, url: str, depth: int) -> None:
        if depth > 3 or self.budget.exhausted():
            return
        content = self._fetch_listing(url, "sitemap")
        if content is None:
            return
        pages, nested = sitemap_locs(content)
        for page in pages:
            if self.scope.in_scope(page):
                self.frontier.add(page, 1, self.scope.is_guideline(page))
        for child in nested:
            self._read_sitemap(child, depth + 1)

    # -- one URL -----------------------------------------------------------------------------------------------
    def fetch(self, entry: Entry, fetch_url: str | None = None):
        """GET with robots, pacing and validators; None when the URL was settled without a usable response."""
        url = fetch_url or entry.url
        if not self.robots.allowed(url):
            self.frontier.mark(entry.url, SKIPPED, error="robots.txt disallows it")
            self.summary.num_robots_blocked += 1
            return None
        host = url.split("/")[2]
        self.pacer.wait(host, max(self.definition.min_interval_s, self.robots.crawl_delay(url)))
        try:
            response = self.client.get(url, headers=_conditional_headers(entry))
        except DownloadError as err:
            self.frontier.mark(entry.url, FAILED, error=str(err))
            self.summary.num_failed += 1
            return None
        self.budget.spend(len(response.content))
        self.summary.num_fetched += 1
        if response.status_code == 304 and (entry.etag or entry.last_modified):
            self.frontier.mark(entry.url, DONE, keep_row=True)
            self.summary.num_unchanged += 1
            if entry.is_guideline and entry.row:
                self.summary.num_matched += 1
            return None
        if response.status_code != 200:
            self.frontier.mark(entry.url, FAILED, error=f"HTTP {response.status_code}")
            self.summary.num_failed += 1
            return None
        return response

    def handle(self, entry: Entry, response) -> None:
        ctype = response.headers.get("content-type", "text/html").split(";")[0].strip().lower()
        if ctype == "application/pdf" or self.scope.is_pdf(entry.url):
            self.handle_pdf(entry, response, ctype)
            return
        if ctype not in ("text/html", "application/xhtml+xml"):
            self.frontier.mark(entry.url, SKIPPED, error=f"neither HTML nor a guideline PDF ({ctype})")
            self.summary.num_skipped += 1
            return
        page, _ = decode_bytes(response.content)
        for link in page_links(page, str(response.url)):
            if self.scope.is_pdf(link):  # guideline PDFs: taken from guideline pages only, whatever the depth
                if entry.is_guideline and self.scope.in_scope(link):
                    self.summary.num_pdf_links += 1
                    self.frontier.add(link, entry.depth + 1, True)
            elif entry.depth < self.definition.max_depth and self.scope.in_scope(link):
                self.frontier.add(link, entry.depth + 1, self.scope.is_guideline(link))
        row = self.make_row(entry.url, page) if entry.is_guideline else None
        if entry.is_guideline and row is None:
            return
        self.frontier.mark(entry.url, DONE, etag=response.headers.get("etag"),
                           last_modified=response.headers.get("last-modified"), row=row)

    def handle_pdf(self, entry: Entry, response, ctype: str) -> None:
        """A guideline PDF → a row; anything else under a PDF URL is said, never dropped quietly."""
        data = response.content
        if not entry.is_guideline:
            self.frontier.mark(entry.url, SKIPPED, error="a PDF that no pdfs.follow pattern names")
            self.summary.num_skipped += 1
            return
        if not looks_like_pdf(data):
            patterns = ", ".join(self.definition.pdfs.follow) or "(none)"
            self.frontier.mark(entry.url, FAILED, error=f"expected a PDF (pdfs.follow: {patterns}), got {ctype}")
            self.summary.num_missed += 1  # counts against the layout check: the site changed what it links
            self.summary.num_pdf_not_pdf += 1
            return
        if len(data) > self.definition.pdfs.max_bytes:
            self.frontier.mark(entry.url, SKIPPED,
                               error=f"PDF of {len(data):,} bytes is over pdfs.max_bytes={self.definition.pdfs.max_bytes:,}")
            self.summary.num_skipped += 1
            return
        try:
            pdf = pdf_to_text_isolated(data, name=entry.url)
        except PdfError as err:
            self.frontier.mark(entry.url, FAILED, error=str(err))
            self.summary.num_failed += 1
            return
        self.summary.num_matched += 1
        clean = pdf.guideline_text(self.rules)
        if not clean:
            self.frontier.mark(entry.url, FAILED, error=f"the PDF's {pdf.num_pages} page(s) hold no text (a scan? "
                                                        "OCR is not done)")
            self.summary.num_failed += 1
            return
        row = self.row(entry.url, pdf.title, pdf.raw_text, clean, format="pdf", pages=pdf.num_pages,
                       pages_read=pdf.pages_read)
        self.summary.num_pdf_rows += 1
        self.frontier.mark(entry.url, DONE, etag=response.headers.get("etag"),
                           last_modified=response.headers.get("last-modified"), row=row)

    def make_row(self, url: str, page: str, title: str | None = None) -> dict | None:
        extracted = extract_page(page, self.definition, self.rules, title=title)
        if not extracted.matched:
            self.frontier.mark(url, FAILED, error=f"content not found: {self.definition.content.describe()}")
            self.summary.num_missed += 1
            return None
        self.summary.num_matched += 1
        if not extracted.clean_text:
            self.frontier.mark(url, FAILED, error="content node found but empty after cleaning")
            self.summary.num_failed += 1
            return None
        return self.row(url, extracted.title, extracted.raw_text, extracted.clean_text)

    def row(self, url: str, title: str, raw_text: str, clean_text: str, **extra) -> dict:
        """A MEDITRON guideline row (+ when and under which licence it was retrieved)."""
        self.summary.num_rows_new += 1
        rel = self.scope.relative(url) or url
        return {
            "id": row_id(self.definition.name, rel),
            "source": self.definition.name,
            "title": title,
            "url": url,
            "raw_text": raw_text,
            "clean_text": clean_text,
            "retrieved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "licence": self.definition.licence,
            **extra,
        }
