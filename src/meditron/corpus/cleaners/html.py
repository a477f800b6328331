"""Raw guideline HTML → Markdown (headings, lists, paragraphs kept; navigation, scripts, images and link URLs gone).

The site's rules first cut the page to its content area and drop boilerplate elements (lxml, tolerant of broken
old HTML); tables are then flattened: layout tables (holding headings, paragraphs or other tables) are unwrapped,
data tables become one ``cell | cell`` line per row; ``markdownify`` writes the Markdown.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree
from markdownify import markdownify

from meditron.corpus.guidelines.rules import SiteRules

_REMOVE_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "form", "iframe", "button", "svg", "select",
    "input", "img", "map", "object", "embed", "template", "link", "meta", "head",
)  # fmt: skip
_BLOCK_IN_CELL = ("table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "div", "blockquote")
_STRIP = ["a", "b", "strong", "i", "em", "u", "font", "span", "sup", "sub", "small", "big", "abbr", "cite", "center"]
_XML_INCOMPATIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def page_title(page: str) -> str:
    """The ``<title>`` text (tags inside it removed, whitespace collapsed)."""
    m = _TITLE.search(_XML_INCOMPATIBLE.sub("", page))
    if not m:
        return ""
    text = re.sub(r"<[^>]+>", " ", m.group(1))
    return " ".join(lxml.html.fromstring(f"<p>{text}</p>").text_content().split()) if text.strip() else ""


def _flatten_tables(root: etree._Element) -> None:
    for table in reversed(list(root.iter("table"))):
        parent = table.getparent()
        if parent is None:
            continue
        is_layout = any(next(table.iter(*_BLOCK_IN_CELL), None) is not None for _ in (0,)) and any(
            el is not table for el in table.iter(*_BLOCK_IN_CELL)
        )
        if is_layout:
            for tag in ("tbody", "thead", "tfoot", "tr", "td", "th", "caption", "colgroup", "col"):
                etree.strip_tags(table, tag)
            table.drop_tag()
            continue
        rows = []
        caption = table.find("caption")
        if caption is not None and caption.text_content().strip():
            rows.append(" ".join(caption.text_content().split()))
        for tr in table.iter("tr"):
            cells = [" ".join(td.text_content().split()) for td in tr if td.tag in ("td", "th")]
            cells = [c for c in cells if c]
            if cells:
                rows.append(" | ".join(cells))
        replacement = etree.Element("div")
        for row in rows:
            p = etree.SubElement(replacement, "p")
            p.text = row
        replacement.tail = table.tail
        parent.replace(table, replacement)


_WS = re.compile(r"\s+")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKISH = ("p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol")


def _normalise_whitespace(root: etree._Element) -> None:
    """Source line breaks inside paragraphs are not structure: collapse them (``<pre>`` aside); keep words apart
    where a block element nested in a heading would otherwise glue them ("United StatesRecommendations")."""
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag == "pre":
            continue
        if el.text:
            el.text = _WS.sub(" ", el.text)
        if el.tail:
            el.tail = _WS.sub(" ", el.tail)
    for heading in list(root.iter(*_HEADINGS)):
        inner_blocks = [inner for inner in heading.iter(*_BLOCKISH) if inner is not heading]
        for inner in inner_blocks:
            inner.tail = " " + (inner.tail or "")
            inner.text = " " + (inner.text or "")
        if inner_blocks:
            etree.strip_tags(heading, *_BLOCKISH)


def html_to_markdown(page: str, rules: SiteRules | None = None) -> str:
    """Cut to the content area, drop boilerplate elements, flatten tables, convert with markdownify."""
    if rules is not None:
        page = rules.cut_html(page)
    page = _XML_INCOMPATIBLE.sub("", page)  # libxml2 refuses control characters; they are never content
    if not page.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(page)
    except etree.ParserError:  # "Document is empty": only markup-like debris, no content
        return ""
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, *_REMOVE_TAGS, with_tail=False)
    if rules is not None:
        for xpath in rules.html_drop_xpaths:
            for el in root.xpath(xpath):
                if el.getparent() is not None:
                    el.drop_tree()
    _flatten_tables(root)
    _normalise_whitespace(root)
    body = root.find("body")
    html = etree.tostring(body if body is not None else root, encoding="unicode", method="html")
    return markdownify(
        html,
        heading_style="ATX",
        bullets="-",
        strip=_STRIP,
        escape_asterisks=False,
        escape_underscores=False,
        escape_misc=False,
    )
