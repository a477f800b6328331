"""Link discovery and URL scoping: which URLs of a page the crawl may follow, and which are guideline pages."""

from __future__ import annotations

import re
from urllib.parse import urldefrag

import lxml.html
from lxml import etree

from meditron.corpus.download.guidelines.definition import SourceDefinition

_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class UrlScope:
    """The source's allow/deny/extract patterns, matched against URLs relative to its base URL."""

    def __init__(self, definition: SourceDefinition):
        self.base = definition.base_url
        self.pdf_roots = list(definition.pdfs.roots)
        self.allow = [re.compile(p) for p in definition.allow]
        self.deny = [re.compile(p) for p in definition.deny]
        self.extract = [re.compile(p) for p in definition.extract]
        self.pdf_follow = [re.compile(p) for p in definition.pdfs.follow]

    def relative(self, url: str) -> str | None:
        return url[len(self.base):] if url.startswith(self.base) else None


    def in_scope(self, url: str) -> bool:
        rel = self.relative(url)
        if rel is None:
            return self.is_pdf(url)
        if any(p.search(rel) for p in self.deny):
            return False
        return any(p.search(rel) for p in self.allow) or self.is_guideline(url) or self.is_pdf(url)

    def is_guideline(self, url: str) -> bool:
        rel = self.relative(url)
        return (rel is not None and any(p.search(rel) for p in self.extract)) or self.is_pdf(url)

    def is_pdf(self, url: str) -> bool:
        """A guideline PDF per ``pdfs.follow`` (relative to the base URL or a PDF root)."""
        for root in [self.base, *self.pdf_roots]:  # roots may nest (a test serves the PDF root under the base)
            if url.startswith(root) and any(p.search(url[len(root):]) for p in self.pdf_follow):
                return True
        return False


def page_links(page: str, url: str) -> list[str]:
    """Absolute ``<a href>`` targets of a page, fragments removed, in page order, without repeats."""
    try:
        root = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    root.make_links_absolute(url, resolve_base_href=True, handle_failures="discard")
    seen: dict[str, None] = {}
    for el in root.iter("a"):
        href = el.get("href")
        if href and href.startswith(("http://", "https://")):
            seen.setdefault(urldefrag(href)[0], None)
    return list(seen)


def sitemap_locs(xml: bytes) -> tuple[list[str], list[str]]:
    """``(page URLs, nested sitemap URLs)`` of a sitemap or sitemap index."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    pages = [loc.text.strip() for loc in root.iter(f"{_SITEMAP_NS}url") for loc in loc.iter(f"{_SITEMAP_NS}loc")]
    nested = [loc.text.strip() for sm in root.iter(f"{_SITEMAP_NS}sitemap") for loc in sm.iter(f"{_SITEMAP_NS}loc")]
    return pages, nested
