"""A fetched page → a MEDITRON guideline row ``{id, source, title, url, raw_text, clean_text}``.

Two steps, both driven by the source's YAML: find the content node (the first ``content.xpaths`` that matches, else
the text after a ``content.markers`` regex — old CDC pages have only ``<!-- content area -->`` comments), then turn it
into Markdown with either the registered site rules (``extractor: site_rules``, e.g. CDC's tuned rules) or
trafilatura's main-content extraction (``extractor: trafilatura``) after the YAML's ``drop_xpaths``; the common
guideline cleaning with the site's line rules gives ``clean_text``. A page whose content node is missing is reported
(``matched=False``) rather than guessed at: the crawler turns "no page matched" into a loud failure.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

import lxml.html
from lxml import etree

from meditron.corpus.cleaners.encoding import fix_mojibake
from meditron.corpus.cleaners.guideline import clean_guideline_text
from meditron.corpus.cleaners.html import html_to_markdown, page_title
from meditron.corpus.download.guidelines.definition import ContentRules, SourceDefinition
from meditron.corpus.guidelines import get_site_rules
from meditron.corpus.guidelines.rules import SiteRules

_XML_INCOMPATIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Extracted:
    matched: bool  # the content node (or marker) was found
    title: str
    raw_text: str
    clean_text: str


def site_rules_for(definition: SourceDefinition) -> SiteRules:
    """The registered site rules named in the YAML (else generic), plus the YAML's boilerplate lines."""
    rules = get_site_rules(definition.content.site_rules)
    extra = tuple(definition.content.boilerplate_lines)
    if extra:
        rules = replace(rules, boilerplate_lines=rules.boilerplate_lines + extra, _compiled={})
    return rules


def _content_html(page: str, root: etree._Element, content: ContentRules) -> str | None:
    for xpath in content.xpaths:
        nodes = root.xpath(xpath)
        if nodes and isinstance(nodes[0], etree._Element):
            node = nodes[0]
            for drop in content.drop_xpaths:
                for el in node.xpath("." + drop if drop.startswith("//") else drop):
                    if el.getparent() is not None:
                        el.drop_tree()
            return etree.tostring(node, encoding="unicode", method="html")
    for marker in content.markers:
        m = re.search(marker, page, re.IGNORECASE)
        if m:
            return page[m.start():]
    return None


def _title(root: etree._Element, page: str, xpath: str) -> str:
    found = root.xpath(xpath)
    if found:
        text = found[0] if isinstance(found[0], str) else found[0].text_content()
        if text.strip():
            return " ".join(text.split())
    return page_title(page)


def _trafilatura_markdown(fragment: str) -> str:
    import trafilatura  # heavy import, only for the sources that use it

    out = trafilatura.extract(
        f"<html><body>{fragment}</body></html>", output_format="markdown", include_tables=True,
        include_links=False, include_images=False, include_comments=False, include_formatting=True,
        favor_recall=True, deduplicate=False,
    )
    return out or ""


def extract_page(page: str, definition: SourceDefinition, rules: SiteRules | None = None,
                 title: str | None = None) -> Extracted:
    """Content node → Markdown → cleaned text, per the source's definition (``title``: known, e.g. from an API)."""
    page = fix_mojibake(_XML_INCOMPATIBLE.sub("", page))
    rules = rules or site_rules_for(definition)
    try:
        root = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return Extracted(False, "", "", "")
    title = title or _title(root, page, definition.content.title_xpath)
    fragment = _content_html(page, root, definition.content)
    if fragment is None:
        return Extracted(False, title, "", "")
    if definition.content.extractor == "site_rules":
        raw = html_to_markdown(fragment, rules)
    else:
        raw = _trafilatura_markdown(fragment)
    clean = clean_guideline_text(raw, rules)
    if title and clean and not clean.lstrip("# ").startswith(title[:40]):
        clean = clean_guideline_text(f"# {title}\n\n{clean}", rules)
    return Extracted(True, title, raw.strip(), clean)


def row_id(source: str, url: str) -> str:
    """Stable across runs and base URLs: the hash of the URL path relative to the source root."""
    return f"{source}-{hashlib.sha1(url.encode()).hexdigest()[:16]}"
