"""Per-source crawl definitions as data: one YAML file per guideline source under ``sources/``.

Why data and not code: MEDITRON's scrapers broke as the sites changed (epfLLM/meditron#36) and each fix meant
editing a Selenium script. Here a site change is a YAML edit — seeds, URL patterns and the XPath of the content node —
and the crawler says which of these no longer matched. URL patterns are matched against the URL *relative to the
source's base URL* (path + query), so ``--base-url cdc=http://127.0.0.1:8000/`` serves a mirror with the same rules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from meditron.errors import ConfigError

SOURCES_DIR = Path(__file__).with_name("sources")


def _check_regexes(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"bad regular expression {pattern!r}: {err}") from None
    return patterns


def _check_xpaths(xpaths: list[str]) -> list[str]:
    for xpath in xpaths:
        try:
            etree.XPath(xpath)
        except etree.XPathSyntaxError as err:
            raise ValueError(f"bad XPath {xpath!r}: {err}") from None
    return xpaths


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentRules(_Strict):
    """How to find the guideline in a page: the content node, what to drop in it, the title, the extractor."""

    xpaths: list[str] = Field(default_factory=list, description="content node: the first XPath that matches wins")
    markers: list[str] = Field(default_factory=list,
                               description="raw-HTML regexes of a content start marker (old pages without a node)")
    drop_xpaths: list[str] = Field(default_factory=list, description="boilerplate elements removed inside the node")
    title_xpath: str = "//h1"
    extractor: Literal["site_rules", "trafilatura"] = "trafilatura"
    site_rules: str | None = Field(None, description="registered SiteRules name (corpus.guidelines.SITES)")
    boilerplate_lines: list[str] = Field(default_factory=list, description="cleaned lines removed (regexes)")

    @field_validator("xpaths", "drop_xpaths")
    @classmethod
    def _xpaths(cls, value: list[str]) -> list[str]:
        return _check_xpaths(value)

    @field_validator("markers", "boilerplate_lines")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)

    @field_validator("title_xpath")
    @classmethod
    def _title(cls, value: str) -> str:
        return _check_xpaths([value])[0]

    def describe(self) -> str:
        """The selectors a page must match, as a user reads them in an error message."""
        parts = [f"XPath {x!r}" for x in self.xpaths] + [f"marker {m!r}" for m in self.markers]
        return " or ".join(parts)


class MediaWikiMode(_Strict):
    """Fetch pages through the MediaWiki API (``action=query&list=allpages|categorymembers``, ``action=parse``)."""

    api_path: str = "api.php"
    list: Literal["allpages", "categorymembers"] = "allpages"
    category: str | None = None
    namespace: int = 0
    batch: int = Field(50, ge=1, le=500)
    page_url: str = "index.php/{title}"


class ListingApi(_Strict):
    """A JSON listing API paged by offset, for sites whose listing is drawn by JavaScript.

    WHO's publications grid is filled from an OData endpoint (``api/hubs/publications?$skip=&$top=``, answering
    ``{"value": [{"Title", "ItemDefaultUrl", "DownloadUrl", ...}]}``); a static crawl of the grid page finds no item.
    Each item gives a guideline page (``page_field`` through ``page_url``) and, with ``pdf_field``, its PDF.
    """

    path: str = Field(description="the API's path, relative to base_url")
    params: dict[str, str] = Field(default_factory=dict, description="fixed query parameters (filters, fields)")
    skip_param: str = "$skip"
    top_param: str = "$top"
    page_size: int = Field(20, ge=1, le=1000)
    max_pages: int = Field(1000, ge=1, description="API pages read at most")
    items_key: str = Field("value", description="the key of the answer's item list")
    page_field: str = Field(description="the item field holding the guideline page's path or id")
    page_url: str = Field("{}", description="the guideline page, relative to base_url; {} = page_field's value")
    pdf_field: str | None = Field(None, description="the item field holding the URL of the guideline's PDF")


class PdfRules(_Strict):
    """Guideline documents published as PDF files, linked from the source's guideline pages.

    A link on a guideline page that matches ``follow`` (relative to the base URL or to one of ``roots``, the other
    hosts the files live on, e.g. WHO's IRIS repository) is fetched as a guideline document; its response must be a
    PDF (by content type or by its ``%PDF-`` header), whose text becomes a row. Links are taken from guideline pages
    only, so brochures and forms linked from listings are not downloaded.
    """

    follow: list[str] = Field(default_factory=list, description="regexes of guideline PDF URLs (relative)")
    roots: list[str] = Field(default_factory=list, description="other URL roots the PDFs are served from")
    max_bytes: int = Field(100_000_000, ge=1, description="larger files are skipped (and said so)")
    required: bool = Field(True, description="fail the source when its guideline pages link no such PDF at all "
                                             "(false where only some publications have a direct PDF)")

    @field_validator("follow")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)

    @field_validator("roots")
    @classmethod
    def _roots(cls, value: list[str]) -> list[str]:
        for root in value:
            if not re.match(r"^https?://.+/$", root):
                raise ValueError(f"a PDF root is an absolute URL ending in '/': {root!r}")
        return value


class SourceDefinition(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    licence: str
    licence_url: str | None = None
    base_url: str = Field(pattern=r"^https?://.+/$")
    seeds: list[str] = Field(default_factory=list, description="start pages, relative to base_url")
    sitemaps: list[str] = Field(default_factory=list, description="sitemap.xml files, relative to base_url")
    allow: list[str] = Field(default_factory=lambda: [".*"], description="URLs the crawl may fetch (relative)")
    deny: list[str] = Field(default_factory=list, description="URLs never fetched (relative), checked first")
    extract: list[str] = Field(default_factory=list, description="URLs that are guideline pages (relative)")
    max_depth: int = Field(2, ge=0)
    min_interval_s: float = Field(1.0, ge=0, description="seconds between requests to the host (robots may ask more)")
    min_content_match: float = Field(0.5, ge=0, le=1,
                                     description="fail when a smaller share of guideline pages has the content node")
    content: ContentRules = Field(default_factory=ContentRules)
    mediawiki: MediaWikiMode | None = None
    listing_api: ListingApi | None = None
    pdfs: PdfRules = Field(default_factory=PdfRules)
    notes: str = ""

    @field_validator("allow", "deny", "extract")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)

    def with_base_url(self, base_url: str) -> SourceDefinition:
        """The same source served from another root (a mirror, or a test server)."""
        return self.model_copy(update={"base_url": base_url if base_url.endswith("/") else base_url + "/"})

    def with_pdf_roots(self, roots: list[str]) -> SourceDefinition:
        """The same source with its PDFs served from other roots (``--base-url who+pdf=URL``)."""
        roots = [r if r.endswith("/") else r + "/" for r in roots]
        return self.model_copy(update={"pdfs": self.pdfs.model_copy(update={"roots": roots})})


def load_source(path: Path) -> SourceDefinition:
    """One YAML definition; a bad file is a ConfigError naming the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the source definition: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a source definition is a YAML mapping")
    try:
        definition = SourceDefinition.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']} ({err.error_count()} error(s))") from None
    if definition.name != path.stem:
        raise ConfigError(f"{path}: name {definition.name!r} must equal the file name {path.stem!r}")
    if not definition.mediawiki and not (definition.seeds or definition.sitemaps or definition.listing_api):
        raise ConfigError(f"{path}: a crawled source needs seeds, sitemaps or a listing_api")
    return definition


def available_sources(directory: Path = SOURCES_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def load_sources(names: list[str], directory: Path = SOURCES_DIR) -> list[SourceDefinition]:
    """The named definitions (``all`` → every one); an unknown name lists the valid ones."""
    known = available_sources(directory)
    if names == ["all"]:
        names = list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown guideline source(s) {', '.join(unknown)}; valid: {', '.join(known)}, all")
    return [load_source(known[n]) for n in names]
