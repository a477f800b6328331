"""JATS / NLM (2.x, 3.x, JATS 1.x) article → MEDITRON-shaped training text and metadata.

Layout (as MEDITRON shaped PMC papers): the title, then ``# Abstract``, then the body; section titles as ``# `` and
subsection titles (any depth below) as ``## ``. In-text citations become ``[bib_ref] <cited title, ≤12 words>,
<first author's surname> [/bib_ref]`` resolved through ``<ref-list>``; figure/table references, as in the paper's
App. B.2, ``[fig_ref]Figure 3: <caption, ≤12 words>[/fig_ref]`` resolved through the figure's or table's own label and
caption; figures and tables survive only as their captions in ``[fig] … [/fig]`` / ``[table] … [/table]``; formulas
as ``[formula] … [/formula]`` with MathML/TeX reduced to text. The markers' spelling (``[fig_ref]`` or the paper's
``[FIG_REF]``) and the caption length come from ``Markup`` (``corpus.markup``). Authors, affiliations, the reference list, footnotes,
acknowledgements and other non-prose front/back matter are left out.

One recursive walk per article over the parsed tree (the tree is parsed once per file), with tag dispatch through
dicts: this is why it is several times faster than tools that re-parse the file for text, metadata and references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from lxml import etree

from meditron.corpus.cleaners.xml import ENTITY, collect_text, element_text, entity_text, iso_date, squash
from meditron.special_tokens import marker_name

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
MML = "{http://www.w3.org/1998/Math/MathML}"
MAX_TITLE_WORDS = 12

# Elements never rendered (with their whole subtree); their tail text is kept.
_SKIP = frozenset(
    {
        "ref-list", "fn-group", "fn", "ack", "notes", "glossary", "supplementary-material", "graphic", "inline-graphic",
        "media", "object-id", "sec-meta", "table", "table-wrap-foot", "attrib", "permissions", "alt-text", "long-desc",
        "contrib-group", "aff", "author-notes", "counts", "custom-meta-group", "kwd-group", "funding-group",
        "processing-meta", "sub-article", "response", "floats-wrap",
    }
)  # fmt: skip
# Elements that are their own block (flush the running paragraph around them).
_BLOCKS = frozenset(
    {
        "p", "sec", "fig", "fig-group", "table-wrap", "table-wrap-group", "disp-formula", "disp-formula-group", "list",
        "def-list", "disp-quote", "boxed-text", "statement", "preformat", "code", "speech", "verse-group", "array",
        "chem-struct-wrap", "app", "app-group", "title", "label", "caption", "list-item",
    }
)  # fmt: skip
_CONTAINERS = frozenset(
    {"fig-group", "table-wrap-group", "disp-quote", "boxed-text", "statement", "speech", "app-group"}
)
_DROP_XREF = frozenset({"fn", "aff", "corresp", "author-notes", "contrib", "table-fn", "other"})
_FLOAT_TAGS = ("fig", "table-wrap", "fig-group", "table-wrap-group", "chem-struct-wrap")


@dataclass(frozen=True)
class Markup:
    """How the structure markers are spelled (``case``: ``lower`` → ``[fig_ref]``, ``upper`` → the paper's
    ``[FIG_REF]``) and how many caption words a figure/table reference keeps (``corpus.markup``)."""

    case: str = "lower"
    caption_words: int = MAX_TITLE_WORDS

    def open(self, name: str) -> str:
        return f"[{marker_name(name, self.case)}]"

    def close(self, name: str) -> str:
        return f"[/{marker_name(name, self.case)}]"

    @cached_property
    def bracketed_refs(self) -> re.Pattern[str]:
        """``[ <bib_ref spans> ]`` or ``( … )``: the brackets around citation spans, which the spans replace."""
        o, c = re.escape(self.open("bib_ref")), re.escape(self.close("bib_ref"))
        return re.compile(rf"[\[(]((?:\s*{o}[^\[]*{c}\s*[,;–—-]?\s*)+)[\])]")


DEFAULT_MARKUP = Markup()


# Sections that are publishing administration, not prose (typed by sec-type or only by their title in older files).
_ADMIN_SEC_TYPES = frozenset(
    {"coi-statement", "author-contributions", "contributions", "supplementary-material", "data-availability",
     "funding", "ethics-statement", "abbreviations", "pre-publication-history", "display-objects"}
)  # fmt: skip
_ADMIN_TITLES = re.compile(
    r"(?:pre-?publication history|authors?['’]? contributions?|contributions? of authors|competing interests?"
    r"|conflicts? of interests?|declaration of (?:competing )?interests?|funding(?: sources?| information)?"
    r"|supplementary (?:material|information|data)|additional files?|abbreviations?|data availability(?: statement)?)"
    r"[.:]?",
    re.IGNORECASE,
)


def _is_admin_section(sec: etree._Element) -> bool:
    if (sec.get("sec-type") or "").lower() in _ADMIN_SEC_TYPES:
        return True
    title = next((c for c in sec if c.tag == "title"), None)
    return title is not None and _ADMIN_TITLES.fullmatch(_text(title)) is not None


class EmptyArticleError(ValueError):
    """The article has no abstract and no body text: nothing to train on."""


def _words(text: str, n: int = MAX_TITLE_WORDS) -> str:
    words = text.split()
    out = " ".join(words[:n])
    return out.rstrip(".:;, ")


_text = element_text
_collect = collect_text


# ---------------------------------------------------------------------------------------------------------- references
_URLISH = re.compile(r"\S*(?:https?://|www\.)\S*")


def _citation_text(cite: etree._Element | None) -> str:
    """Citation text with its parts kept apart (element-citation children carry no spaces) and URLs left out."""
    if cite is None:
        return ""
    return squash(_URLISH.sub(" ", " ".join(cite.itertext())))


_REF_TAGS = ("article-title", "chapter-title", "source", "label", "surname", "collab")


def parse_references(article: etree._Element) -> dict[str, str]:
    """``ref id → "<title ≤12 words>, <first author's surname>"``; no title → the citation text, then the label.

    One C-level pass per reference collects the first node of each tag of interest.
    """
    refs: dict[str, str] = {}
    for ref in article.iter("ref"):
        rid = ref.get("id")
        if not rid:
            continue
        first: dict[str, etree._Element] = {}
        for node in ref.iter(*_REF_TAGS):
            if node.tag not in first:
                first[node.tag] = node
        title = _text(first.get("article-title")) or _text(first.get("chapter-title"))
        if not title:
            cite = next((c for c in ref if c.tag in ("element-citation", "mixed-citation", "citation")), None)
            ptype = (cite.get("publication-type") or cite.get("citation-type") or "") if cite is not None else ""
            if ptype != "journal":  # a book, web page, dataset…: <source> is the work's title
                title = _text(first.get("source"))
            if not title:
                title = _citation_text(cite) or _text(first.get("label"))
        surname = _text(first.get("surname")) or _text(first.get("collab"))
        title = _words(title)
        refs[rid] = f"{title}, {surname}" if surname and title else (title or surname)
    return refs


def _plain_caption(caption: etree._Element | None) -> str:
    """A caption's title and paragraphs as plain text (no markers: a reference never nests another one)."""
    if caption is None:
        return ""
    return squash(" ".join(_text(c) for c in caption if c.tag in ("title", "p")))


def parse_floats(article: etree._Element, caption_words: int = MAX_TITLE_WORDS) -> dict[str, str]:
    """``figure/table id → "Figure 3: <caption, ≤ caption_words words>"`` (App. B.2), from each float's own
    ``<label>`` and ``<caption>``; a float without a caption gives its label alone, one without a label its caption."""
    floats: dict[str, str] = {}
    for el in article.iter(*_FLOAT_TAGS):
        fid = el.get("id")
        if not fid:
            continue
        label = _text(next((c for c in el if c.tag == "label"), None)).rstrip(".: ")
        caption = _words(_plain_caption(next((c for c in el if c.tag == "caption"), None)), caption_words)
        text = f"{label}: {caption}" if label and caption else (label or caption)
        if text:
            floats[fid] = text
    return floats


# -------------------------------------------------------------------------------------------------------------- formulas
def _tex(text: str) -> str:
    if "\\begin{document}" in text:
        text = text.split("\\begin{document}", 1)[1].split("\\end{document}", 1)[0]
    text = text.replace("$", " ")
    return squash(text)


def _mathml(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    local = tag[len(MML) :] if tag.startswith(MML) else tag.split(":")[-1]
    kids = [c for c in el if isinstance(c.tag, str)]
    if local in ("mi", "mn", "mo", "mtext", "ms", "mglyph"):
        return squash(el.text or "")
    if local == "mfrac" and len(kids) == 2:
        return f"({_mathml(kids[0])})/({_mathml(kids[1])})"
    if local in ("msup", "msub") and len(kids) == 2:
        return f"{_mathml(kids[0])}{'^' if local == 'msup' else '_'}{_mathml(kids[1])}"
    if local == "msubsup" and len(kids) == 3:
        return f"{_mathml(kids[0])}_{_mathml(kids[1])}^{_mathml(kids[2])}"
    if local == "msqrt":
        return f"sqrt({''.join(_mathml(k) for k in kids)})"
    if local == "mroot" and len(kids) == 2:
        return f"root({_mathml(kids[0])}, {_mathml(kids[1])})"
    if local in ("annotation", "annotation-xml"):
        return ""
    return "".join(_mathml(k) for k in kids) if kids else squash(el.text or "")


def formula_text(el: etree._Element) -> str:
    """TeX (``<tex-math>``) is preferred when present, else MathML reduced to linear text, else the plain text."""
    tex = next(el.iter("tex-math"), None)
    if tex is not None and tex.text:
        return _tex(tex.text)
    math = next(el.iter(MML + "math", "math"), None)
    if math is not None:
        return squash(_mathml(math))
    parts: list[str] = []
    if el.text:
        parts.append(el.text)
    for child in el:
        if child.tag not in ("label", "graphic", "alternatives"):
            _collect(child, parts)
        if child.tail:
            parts.append(child.tail)
    return squash("".join(parts))


# -------------------------------------------------------------------------------------------------------------- renderer
class _Renderer:
    """Walks body/abstract trees into blocks (paragraphs, headings, captions), one pass, no re-parsing."""

    __slots__ = ("refs", "floats", "markup", "blocks", "buf", "num_bib_refs", "num_unresolved_refs")

    def __init__(self, refs: dict[str, str], floats: dict[str, str] | None = None, markup: Markup = DEFAULT_MARKUP):
        self.refs = refs
        self.floats = floats or {}
        self.markup = markup
        self.blocks: list[str] = []
        self.buf: list[str] = []
        self.num_bib_refs = 0
        self.num_unresolved_refs = 0

    # blocks
    def flush(self) -> None:
        if self.buf:
            text = squash("".join(self.buf))
            self.buf = []
            if text:
                if self.markup.open("bib_ref") in text:
                    text = self.markup.bracketed_refs.sub(lambda m: m.group(1).strip(), text)
                self.blocks.append(text)

    def heading(self, sec: etree._Element, depth: int) -> None:
        title = next((c for c in sec if c.tag == "title"), None)
        label = next((c for c in sec if c.tag == "label"), None)
        parts = [p for p in (self.inline_text(label), self.inline_text(title)) if p]
        if parts:
            self.blocks.append(("# " if depth <= 1 else "## ") + " ".join(parts))

    def inline_text(self, el: etree._Element | None) -> str:
        if el is None:
            return ""
        saved, self.buf = self.buf, []
        self.inline(el)
        text = squash("".join(self.buf))
        self.buf = saved
        return text

    def container(self, el: etree._Element, depth: int) -> None:
        """Children of a section-like element: headings for ``sec``, paragraphs and floats for the rest."""
        if el.text and el.text.strip():
            self.buf.append(el.text)
        for child in el:
            tag = child.tag
            if tag in ("title", "label") or tag in _SKIP:
                pass
            elif tag == "sec" or tag == "app":
                self.flush()
                if not _is_admin_section(child):
                    self.heading(child, depth + 1)
                    self.container(child, depth + 1)
            elif tag in _BLOCKS or tag in _CONTAINERS:
                self.flush()
                self.block(child, depth)
            elif isinstance(tag, str) or tag is ENTITY:
                self.inline(child)
                self.flush()
            if child.tail and child.tail.strip():
                self.buf.append(child.tail)
        self.flush()

    def block(self, el: etree._Element, depth: int) -> None:
        tag = el.tag
        if tag == "p" or tag == "preformat" or tag == "code" or tag == "verse-group":
            self.inline(el, with_tail=False)
            self.flush()
        elif tag == "fig" or tag == "table-wrap" or tag == "chem-struct-wrap":
            self.float(el, "table" if tag == "table-wrap" else "fig")
        elif tag == "disp-formula" or tag == "disp-formula-group" or tag == "array":
            self.formula(el)
        elif tag == "list":
            self.list(el, depth)
        elif tag == "def-list":
            for item in el.iter("def-item"):
                term = self.inline_text(next(item.iter("term"), None))
                definition = self.inline_text(next(item.iter("def"), None))
                if term or definition:
                    self.blocks.append(f"- {term}: {definition}" if term else f"- {definition}")
        elif tag == "sec" or tag == "app":
            if not _is_admin_section(el):
                self.heading(el, depth + 1)
                self.container(el, depth + 1)
        elif tag in ("title", "label", "caption"):
            pass
        else:  # boxed-text, disp-quote, statement…: their own title/label become a paragraph
            heads = [
                self.caption_text(c) if c.tag == "caption" else self.inline_text(c)
                for c in el
                if c.tag in ("label", "title", "caption")
            ]
            title = " ".join(h for h in heads if h)
            if title:
                self.blocks.append(title)
            self.container(el, depth)

    def float(self, el: etree._Element, kind: str) -> None:
        label = self.inline_text(next((c for c in el if c.tag == "label"), None))
        caption = self.caption_text(next((c for c in el if c.tag == "caption"), None))
        parts = [p for p in (label, caption) if p]
        if parts:
            self.blocks.append(f"{self.markup.open(kind)} {' '.join(parts)} {self.markup.close(kind)}")

    def caption_text(self, caption: etree._Element | None) -> str:
        """A ``<caption>``'s title and paragraphs on one line."""
        if caption is None:
            return ""
        texts = (self.inline_text(c) for c in caption if c.tag in ("title", "p"))
        return " ".join(t for t in texts if t)

    def formula(self, el: etree._Element) -> None:
        text = formula_text(el)
        if text:
            self.blocks.append(f"{self.markup.open('formula')} {text} {self.markup.close('formula')}")

    def list(self, el: etree._Element, depth: int) -> None:
        """One block per list, one ``- `` line per item (an item's paragraphs stay on its line)."""
        list_start = len(self.blocks)
        for item in el:
            if item.tag != "list-item":
                continue
            start = len(self.blocks)
            self.container(item, depth)
            if len(self.blocks) > start:
                text = " ".join(self.blocks[start:])
                del self.blocks[start:]
                self.blocks.append(text if text.startswith("- ") else "- " + text)
        if len(self.blocks) > list_start + 1:
            merged = "\n".join(self.blocks[list_start:])
            del self.blocks[list_start:]
            self.blocks.append(merged)

    # inline
    def inline(self, el: etree._Element, with_tail: bool = False) -> None:
        buf = self.buf
        if el.text:
            buf.append(el.text)
        for child in el:
            tag = child.tag
            if tag == "xref":
                self.xref(child)
            elif tag is ENTITY:
                buf.append(entity_text(child))
            elif tag in _SKIP:
                pass
            elif tag == "inline-formula":
                text = formula_text(child)
                if text:
                    buf.append(f" {self.markup.open('formula')} {text} {self.markup.close('formula')} ")
            elif tag in _BLOCKS:
                self.flush()
                self.block(child, 1)
                buf = self.buf
            elif tag == "break":
                buf.append(" ")
            elif isinstance(tag, str):
                self.inline(child)
                buf = self.buf
            if child.tail:
                buf.append(child.tail)
        if with_tail and el.tail:
            buf.append(el.tail)

    def xref(self, el: etree._Element) -> None:
        ref_type = el.get("ref-type", "")
        if ref_type == "bibr":
            rids = (el.get("rid") or "").split()
            spans = []
            for rid in rids:
                ref = self.refs.get(rid)
                if ref:
                    self.num_bib_refs += 1
                    spans.append(f"{self.markup.open('bib_ref')} {ref} {self.markup.close('bib_ref')}")
            if spans:
                self.buf.append(" ".join(spans))
            else:
                self.num_unresolved_refs += 1
                self.buf.append(_text(el))
        elif ref_type in ("fig", "table"):
            self.float_ref(el)
        elif ref_type in _DROP_XREF:
            return
        else:
            self.buf.append(_text(el))


    def float_ref(self, el: etree._Element) -> None:
        """``[fig_ref]Figure 3: <caption>[/fig_ref]`` per referenced figure/table (tables too, as in the paper); an id
        that resolves to no float keeps the reference's own text (``[fig_ref]Figure 1A[/fig_ref]``)."""
        found = [self.floats[rid] for rid in (el.get("rid") or "").split() if rid in self.floats]
        texts = found or [t for t in [_text(el)] if t]
        open_, close = self.markup.open("fig_ref"), self.markup.close("fig_ref")
        if texts:
            self.buf.append(" ".join(f"{open_}{t}{close}" for t in texts))


# -------------------------------------------------------------------------------------------------------------- metadata
_CC_NC = re.compile(r"by-nc|noncommercial|non-commercial")
_CC_OTHER = re.compile(r"by-sa|by-nd|sharealike|share-alike|noderiv|no-deriv")
_CC_BY = re.compile(
    r"licenses/by/|creative commons attribution|creativecommons attribution|cc[- ]by\b|license-type=\"?cc-by"
)
_PUBLIC = re.compile(r"publicdomain|public domain|public-domain|/zero/|\bcc0\b")


def normalise_license(text: str) -> str | None:
    """Map licence URLs/types/statements to ``CC BY``, ``CC BY-NC``, ``CC0/public domain`` or ``other``."""
    s = text.lower()
    if not s.strip():
        return None
    if _PUBLIC.search(s):
        return "CC0/public domain"
    if _CC_NC.search(s):
        return "CC BY-NC"
    if _CC_OTHER.search(s):
        return "other"
    if _CC_BY.search(s):
        return "CC BY"
    return "other"


def _license(meta: etree._Element | None) -> tuple[str | None, str | None]:
    if meta is None:
        return None, None
    perms = meta.find("permissions")  # direct children only: never walk the abstract
    if perms is None:  # NLM 2.x: the copyright statement sits directly in <article-meta>
        statement = _text(meta.find("copyright-statement"))
        return normalise_license(statement), None
    evidence: list[str] = []
    url = None
    for lic in perms.iter("license"):
        href = lic.get(XLINK_HREF) or lic.get("href")
        url = url or href
        evidence.extend(x for x in (href, lic.get("license-type")) if x)
        for child in lic.iter():
            if isinstance(child.tag, str):
                if child.tag.endswith("license_ref") and child.text:
                    url = url or child.text.strip()
                    evidence.append(child.text)
                res = child.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource")
                if res:
                    evidence.append(res)
        evidence.append(_text(lic))
    if not any(evidence):
        evidence.append(_text(next(perms.iter("copyright-statement"), None)))
    return normalise_license(" ".join(evidence)), url


_PUB_DATE_ORDER = ("epub", "pub", "ppub", "collection", "epub-ppub", "epreprint")


def _pub_dates(meta: etree._Element) -> dict[str, str]:
    """``pub-type``/``date-type`` → ``YYYY-MM-DD`` of the article's ``<pub-date>`` elements (first of each type)."""
    dates: dict[str, str] = {}
    for d in meta.iterchildren("pub-date"):
        date = iso_date(d.findtext("year"), d.findtext("month") or d.findtext("season"), d.findtext("day"))
        if date:
            dates.setdefault(d.get("pub-type") or d.get("date-type") or "", date)
    return dates


def _pub_date(meta: etree._Element) -> str | None:
    dates = _pub_dates(meta)
    for key in _PUB_DATE_ORDER:
        if key in dates:
            return dates[key]
    return min(dates.values()) if dates else None


def _year(meta: etree._Element) -> int | None:
    date = _pub_date(meta)
    return int(date[:4]) if date else None


def _article_meta(article: etree._Element) -> etree._Element | None:
    front = article.find("front")
    return front.find("article-meta") if front is not None else None


def article_metadata(article: etree._Element) -> dict:
    meta = _article_meta(article)
    ids: dict[str, str] = {}
    if meta is not None:
        for aid in meta.iterchildren("article-id"):
            kind = aid.get("pub-id-type")
            if kind and aid.text and kind not in ids:
                ids[kind] = aid.text.strip()
    pmc = ids.get("pmc") or ids.get("pmcid") or ""
    pmc = pmc.upper().removeprefix("PMC")
    front = article.find("front")
    journal_meta = front.find("journal-meta") if front is not None else None
    journal = None
    if journal_meta is not None:
        jt = next(journal_meta.iter("journal-title"), None)
        journal = _text(jt) or None
        if not journal:
            for jid in journal_meta.iter("journal-id"):
                if jid.get("journal-id-type") == "nlm-ta":
                    journal = _text(jid)
    licence, licence_url = _license(meta)
    return {
        "pmid": ids.get("pmid") if (ids.get("pmid") or "").isdigit() else None,
        "pmcid": f"PMC{pmc}" if pmc.isdigit() else None,
        "doi": ids.get("doi"),
        "journal": journal,
        "year": _year(meta) if meta is not None else None,
        "pub_date": _pub_date(meta) if meta is not None else None,
        "article_type": article.get("article-type"),
        "license": licence,
        "license_url": licence_url,
    }


# ------------------------------------------------------------------------------------------------------------ top level
def article_to_text(article: etree._Element, markup: Markup = DEFAULT_MARKUP) -> tuple[str, dict]:
    """Render one ``<article>`` element; returns ``(text, metadata)``. Raises ``EmptyArticleError`` on no content."""
    r = _Renderer(parse_references(article), parse_floats(article, markup.caption_words), markup)
    meta_el = _article_meta(article)
    title = ""
    if meta_el is not None:
        title_group = meta_el.find("title-group")
        if title_group is not None:
            title = r.inline_text(next(title_group.iter("article-title"), None))
    if title:
        r.blocks.append(title)
    num_header_blocks = len(r.blocks)
    if meta_el is not None:
        for abstract in (a for a in meta_el if a.tag == "abstract"):
            kind = abstract.get("abstract-type") or ""
            if kind in ("toc", "teaser", "graphical", "web-summary", "precis"):
                continue
            own_title = r.inline_text(next((c for c in abstract if c.tag == "title"), None))
            r.blocks.append("# " + (own_title or "Abstract"))
            before = len(r.blocks)
            r.container(abstract, 1)
            if len(r.blocks) == before:
                r.blocks.pop()
    num_abstract_blocks = len(r.blocks) - num_header_blocks
    body = next((c for c in article if c.tag == "body"), None)
    if body is not None:
        r.container(body, 0)
    back = next((c for c in article if c.tag == "back"), None)
    if back is not None:
        for app_group in (c for c in back if c.tag in ("app-group", "app")):
            r.block(app_group, 0)
    floats = next((c for c in article if c.tag == "floats-group"), None)
    if floats is not None:
        r.container(floats, 0)
    num_body_blocks = len(r.blocks) - num_header_blocks - num_abstract_blocks
    if num_abstract_blocks + num_body_blocks == 0:
        raise EmptyArticleError("article has no abstract and no body text")
    metadata = article_metadata(article)
    metadata["title"] = title
    metadata["num_bib_refs"] = r.num_bib_refs
    metadata["num_unresolved_bib_refs"] = r.num_unresolved_refs
    metadata["has_body"] = num_body_blocks > 0
    return "\n\n".join(r.blocks), metadata
