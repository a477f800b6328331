"""MediaWiki API mode (WikiDoc): list the pages with ``list=allpages|categorymembers``, fetch each with
``action=parse`` (rendered HTML of the current revision), then the same content rules and cleaning as crawled pages.

Why the API: WikiDoc's HTML pages carry skins, sidebars and edit links that change with the skin, while the parse API
returns only the article's ``mw-parser-output`` — the stable thing to extract from — and listing through the API
(with its ``continue`` tokens) replaces MEDITRON's walk of ``Special:AllPages`` navigation links.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote, urlencode

from meditron.corpus.download.guidelines.crawler import SourceCrawler
from meditron.corpus.download.guidelines.frontier import DONE, FAILED, Entry
from meditron.corpus.download.http import DownloadError


class MediaWikiCrawler(SourceCrawler):
    """The listing seeds the frontier with page URLs; each page is fetched through ``action=parse``."""

    @property
    def api(self) -> str:
        return self.definition.base_url + self.definition.mediawiki.api_path

    def page_url(self, title: str) -> str:
        path = self.definition.mediawiki.page_url.format(title=quote(title.replace(" ", "_"), safe="/:(),'"))
        return self.definition.base_url + path

    def parse_url(self, title: str) -> str:
        params = {"action": "parse", "page": title, "prop": "text|displaytitle|revid", "format": "json",
                  "formatversion": "2", "redirects": "1", "disableeditsection": "1"}
        return f"{self.api}?{urlencode(params)}"

    def seed(self) -> None:
        """Walk the listing with its continuation tokens; every title becomes a queued guideline URL."""
        mode = self.definition.mediawiki
        params = {"action": "query", "format": "json", "formatversion": "2", "list": mode.list}
        if mode.list == "allpages":
            params.update(apnamespace=str(mode.namespace), aplimit=str(mode.batch), apfilterredir="nonredirects")
        else:
            params.update(cmtitle=f"Category:{mode.category}", cmnamespace=str(mode.namespace),
                          cmlimit=str(mode.batch), cmtype="page")
        cont: dict[str, str] = {}
        while (why := self.budget.exhausted()) is None:
            url = f"{self.api}?{urlencode({**params, **cont})}"
            data = self._json(url)
            if data is None:
                return
            for page in data.get("query", {}).get(mode.list, []):
                self.frontier.add(self.page_url(page["title"]), 1, True)
            if "continue" not in data:
                return
            cont = {k: str(v) for k, v in data["continue"].items()}
        self.summary.stopped = why

    def _json(self, url: str) -> dict | None:
        if not self.robots.allowed(url):
            self.summary.num_robots_blocked += 1
            self.summary.errors.append(f"robots.txt disallows the API {url}")
            return None
        self.pacer.wait(url.split("/")[2], max(self.definition.min_interval_s, self.robots.crawl_delay(url)))
        try:
            response = self.client.get(url)
        except DownloadError as err:
            self.summary.errors.append(str(err))
            return None
        self.budget.spend(len(response.content))
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.summary.errors.append(f"{url}: HTTP {response.status_code}, not a JSON API answer")
            return None
        if "error" in data:
            self.summary.errors.append(f"{url}: API error {data['error'].get('code')}: {data['error'].get('info')}")
            return None
        return data

    def in_scope(self, url: str) -> bool:
        """Page URLs come from the API listing, not from links: the source's deny patterns alone apply."""
        rel = self.scope.relative(url)
        return rel is not None and not any(p.search(rel) for p in self.scope.deny)

    def fetch(self, entry: Entry, fetch_url: str | None = None):
        title = unquote(entry.url[len(self.page_url("")):]).replace("_", " ")
        return super().fetch(entry, fetch_url=self.parse_url(title))

    def handle(self, entry: Entry, response) -> None:
        try:
            data = response.json()
            parsed = data["parse"]
            html, title = parsed["text"], parsed.get("title", "")
        except (ValueError, KeyError, TypeError):
            error = data.get("error", {}).get("info") if isinstance(data, dict) else None
            self.frontier.mark(entry.url, FAILED, error=f"API parse answer without text: {error or 'bad JSON'}")
            self.summary.num_failed += 1
            return
        if isinstance(html, dict):  # formatversion=1 shape: {"*": "<div ...>"}
            html = html.get("*", "")
        row = self.make_row(entry.url, f"<html><body>{html}</body></html>", title)
        if row is not None:
            self.frontier.mark(entry.url, DONE, etag=response.headers.get("etag"),
                               last_modified=response.headers.get("last-modified"), row=row)
