"""A guideline PDF → its text as paragraphs: PDFium's text layer, running headers/footers and page numbers removed,
lines reflowed into paragraphs, words split by a line-end hyphen joined again.

Why: WHO, CCO, ICRC and CMA publish their guidelines as PDFs (MEDITRON downloaded them and converted them with
GROBID, a Java service). PDFium (``pypdfium2``, the engine of Chrome's PDF viewer) reads the text layer in-process, fast
and without a server. A PDF's text comes as *lines*, with the page furniture repeated on every page; a language model
should see paragraphs, once. What this module does not do: OCR (a scanned PDF has no text layer and is reported as
such), and table structure (cells come out as lines).

The result is plain text with paragraphs separated by blank lines and list items kept as their own lines (``- `` for
bullet glyphs); the guideline cleaner (``clean_guideline_text``) runs on it afterwards, as on HTML pages.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meditron.corpus.guidelines.rules import SiteRules

#: Pages read at most: a guideline is rarely over a few hundred pages; a larger file is cut and says so.
MAX_PAGES = 1500
#: Share of pages on which a line must repeat, at the same height, to be a running header/footer.
RUNNING_SHARE = 0.5
#: Headers and footers live in the page's top and bottom margins: this share of the page height at each edge.
MARGIN_SHARE = 0.10  # 30 mm of an A4 page: a 1-inch margin holds the running lines

_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?$|^[-–—]\s*\d{1,4}\s*[-–—]$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_BULLET_GLYPH = re.compile(r"^[•◦▪▫●○■□➢►▸‣⁃∙·]\s*")
_LIST_START = re.compile(r"^(?:[-–*]\s+|\(?\d{1,3}[.)]\s+|\(?[a-z][.)]\s+|\d+(?:\.\d+)+\.?\s+)")
_WORD_SPLIT = re.compile(r"[^\W\d_]-$")
_SENTENCE_END = re.compile(r"[.!?:;)\]\"”]$")
_JUNK_TITLE = re.compile(r"^(?:untitled|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|indd|qxd|rtf|pptx?))$",
                         re.IGNORECASE)


class PdfError(ValueError):
    """A PDF that cannot be read (damaged, not a PDF, password-protected); the message names the document."""


@dataclass(frozen=True)
class PdfText:
    title: str
    num_pages: int  # pages in the file
    pages_read: int  # pages whose text was taken (``MAX_PAGES`` at most)
    raw_text: str  # PDFium's lines, pages separated by blank lines (nothing removed)
    text: str  # paragraphs: furniture removed, lines reflowed, hyphenation undone

    @property
    def truncated(self) -> bool:
        return self.pages_read < self.num_pages

    def guideline_text(self, rules: SiteRules | None = None) -> str:
        """The text through the guideline cleaning, opening with the title as a ``#`` heading (as HTML rows do);
        empty when the PDF has no text."""
        from meditron.corpus.cleaners.guideline import clean_guideline_text

        clean = clean_guideline_text(self.text, rules)
        if not clean or not self.title:
            return clean
        if clean.startswith(self.title):  # the title is the first line: make it the heading
            return clean_guideline_text(f"# {clean}", rules)
        if not clean.lstrip("# ").startswith(self.title[:40]):
            return clean_guideline_text(f"# {self.title}\n\n{clean}", rules)
        return clean


def looks_like_pdf(data: bytes) -> bool:
    """A PDF starts with ``%PDF-`` (after at most some whitespace): what a server's content type cannot promise."""
    return data.lstrip(b"\x00\t\n\r ")[:5].startswith(b"%PDF-")


def pdf_to_text(data: bytes, *, name: str, max_pages: int = MAX_PAGES) -> PdfText:
    """The text of a PDF given as bytes; ``name`` (URL or path) is what errors are about. In-process: for files of
    unknown origin use :func:`meditron.corpus.cleaners.pdf_worker.pdf_to_text_isolated`."""
    import pypdfium2 as pdfium  # imported here: only PDF sources need it

    if not looks_like_pdf(data):
        raise PdfError(f"{name}: not a PDF (no %PDF- header; first bytes {data[:16]!r})")
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise PdfError(f"{name}: the PDF is encrypted (a password is required to read it)") from None
        raise PdfError(f"{name}: damaged or unreadable PDF ({err})") from None
    try:
        num_pages = len(doc)
        pages = []
        for index in range(min(num_pages, max_pages)):
            page = doc[index]
            try:
                textpage = page.get_textpage()
                pages.append(Page(page_lines(textpage), page.get_height()))
                textpage.close()
            except pdfium.PdfiumError as err:
                raise PdfError(f"{name}: page {index + 1} cannot be read ({err})") from None
            finally:
                page.close()
        metadata_title = (doc.get_metadata_dict().get("Title") or "").strip()
    finally:
        doc.close()
    body = strip_running_lines(pages)
    text = reflow(body)
    raw = "\n\n".join("\n".join(line.text for line in page.lines) for page in pages).strip()
    return PdfText(_title(metadata_title, [[line.text for line in lines] for lines in body], name), num_pages,
                   len(pages), raw, text)


@dataclass
class Page:
    lines: list[Line]
    height: float  # PDF points

    def edge_lines(self) -> set[int]:
        """Lines (by id) where running headers, footers and page numbers sit: in the top or bottom margin band, or
        among the two highest or lowest lines of the page when they look like furniture (a smaller font than the
        page's body text, or well short of its width) rather than the first or last line of a paragraph."""
        if not self.lines:
            return set()
        band = MARGIN_SHARE * self.height
        edge = [line for line in self.lines if line.bottom >= self.height - band or line.top <= band]
        sizes = [line.size for line in self.lines]
        body_size = max(set(sizes), key=sizes.count)
        width = max(line.right - line.left for line in self.lines)
        by_height = sorted(self.lines, key=lambda line: -line.top)
        for line in by_height[:2] + by_height[-2:]:
            if (0 < line.size < body_size) or line.right - line.left < 0.6 * width:
                edge.append(line)
        return {id(line) for line in edge}


@dataclass
class Line:
    """One line of a page: its text and where it sits (PDF points, y upwards)."""

    text: str
    top: float
    bottom: float
    left: float
    right: float
    size: float = 0.0  # font size (largest of its runs' first and middle characters; 0 when PDFium cannot tell)
    gap_before: bool = False  # more space above it than the page's usual line pitch, or another font size
    new_column: bool = False  # it starts higher than the line before: the next column (or a block beside it)


def page_lines(textpage) -> list[Line]:
    """The lines of a PDFium text page, in its reading (content stream) order.

    PDFium gives text *runs* (``count_rects``/``get_rect``); consecutive runs that overlap vertically and follow
    each other left to right are one line ("Page 1 of " + "3"). A run that starts lower, or higher (the next
    column), starts a new line. PDFium marks a hyphen it saw at a line end as U+0002; it becomes ``-`` here and
    :func:`reflow` decides whether the word was split.
    """
    import pypdfium2.raw as pdfium_c

    lines: list[Line] = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).replace("\x02", "-").replace("\ufffe", "-")
        text = _SPACES.sub(" ", text).strip()
        if not text:
            continue
        prev = lines[-1] if lines else None
        same_line = (prev is not None and left >= prev.right - 1.0
                     and min(top, prev.top) - max(bottom, prev.bottom) > 0.5 * min(top - bottom, prev.top - prev.bottom))
        if same_line:
            assert prev is not None
            prev.size = max(prev.size, _font_size(textpage, pdfium_c, left, right, top, bottom))
            prev.text = prev.text + ("" if left - prev.right < 1.0 and not prev.text.endswith(" ") else " ") + text
            prev.right, prev.top, prev.bottom = right, max(top, prev.top), min(bottom, prev.bottom)
        else:
            lines.append(Line(text, top, bottom, left, right, _font_size(textpage, pdfium_c, left, right, top, bottom)))
    pitches = [a.top - b.top for a, b in zip(lines, lines[1:], strict=False) if a.top > b.top]
    # the usual line pitch: low in the distribution, since headings and paragraph gaps only ever add space
    usual = sorted(pitches)[len(pitches) // 5] if pitches else 0.0
    for a, b in zip(lines, lines[1:], strict=False):
        b.new_column = b.top >= a.top
        b.gap_before = (usual > 0 and a.top - b.top > 1.4 * usual) or not _same_size(a, b)  # a heading: another size
    return lines


def _key(line: str) -> str:
    """A line's identity across pages: case, spacing and numbers (page numbers, dates) ignored."""
    return _DIGITS.sub("#", _SPACES.sub(" ", line.lower())).strip()


def _font_size(textpage, pdfium_c, left: float, right: float, top: float, bottom: float) -> float:
    """The font size of a text run: the largest of its first and middle characters' (a line that opens with a
    smaller code font is still body text; a heading is large throughout); 0 when PDFium cannot tell."""
    sizes = [0.0]
    for x in (left + 0.5, (left + right) / 2):
        index = textpage.get_index(x, (top + bottom) / 2, 2.0, 2.0)
        if index is not None and index >= 0:
            sizes.append(pdfium_c.FPDFText_GetFontSize(textpage.raw, index))
    return max(sizes)


def strip_running_lines(pages: list[Page]) -> list[list[Line]]:
    """The pages' lines without page numbers and running headers/footers.

    Only edge lines (``Page.edge_lines``) are candidates. A candidate is a running line when its key (numbers
    ignored, so "Page 3 of 40" matches "Page 4 of 40") is an edge line at the same height (within 3 pt) on at least
    ``RUNNING_SHARE`` of the pages, and on two pages at least; a page number alone on an edge line always goes.
    Body text, even a phrase repeated on every page, is kept unless it sits at a page edge at the same height on
    most pages.
    """
    edges = [page.edge_lines() for page in pages]
    counts: dict[tuple[str, int], int] = {}
    for page, edge in zip(pages, edges, strict=True):
        for key in {(_key(line.text), round(line.top / 3)) for line in page.lines if id(line) in edge}:
            counts[key] = counts.get(key, 0) + 1
    threshold = max(2, RUNNING_SHARE * len(pages))

    def running(line: Line) -> bool:
        key, slot = _key(line.text), round(line.top / 3)
        here = counts.get((key, slot), 0)
        # a line at a slot boundary may round either way on different pages: count a neighbour slot too
        return max(here, here + counts.get((key, slot - 1), 0), here + counts.get((key, slot + 1), 0)) >= threshold

    return [
        [line for line in page.lines if not (id(line) in edge and (_PAGE_NUMBER.match(line.text) or running(line)))]
        for page, edge in zip(pages, edges, strict=True)
    ]


def _is_list_item(line: str) -> bool:
    return bool(_BULLET_GLYPH.match(line) or _LIST_START.match(line))


def _join(paragraph: str, line: str) -> str:
    """Append a wrapped line: a word split by a line-end hyphen ("anti-" / "hypertensive") is joined without space
    when the next line goes on in lowercase; other hyphens ("evidence-" / "Based") keep theirs."""
    if _WORD_SPLIT.search(paragraph) and line[:1].islower():
        return paragraph[:-1] + line
    return paragraph + " " + line


def reflow(pages: list[list[Line]]) -> str:
    """Lines → paragraphs. A new paragraph starts where the page leaves more space than its usual line pitch (or the
    font size changes: a heading), at a list item, and after a line that had room for the next line's first word
    before its column's right margin (so it ended the paragraph rather than being wrapped); otherwise a line
    continues the paragraph. Across a page or column break the paragraph goes on when the last line was wrapped, or
    ended mid-sentence with the next line going on in lowercase, and the font size is the same."""
    paragraphs: list[str] = []
    last: Line | None = None  # the previous page's last line
    last_margin = 0.0  # ... and its column's right margin
    for lines in pages:
        margins = _right_margins(lines)
        for i, line in enumerate(lines):
            text = line.text
            bullet = _BULLET_GLYPH.match(text)
            if bullet:
                text = "- " + text[bullet.end():]
            before, margin = (last, last_margin) if i == 0 else (lines[i - 1], margins[i - 1])
            if before is None or not paragraphs or _is_list_item(text) or not _same_size(before, line):
                continues = False
            elif i == 0 or line.new_column:  # a page or column break: no spacing to go by
                continues = _wrapped(before, text, margin) or (
                    not _SENTENCE_END.search(paragraphs[-1]) and text[:1].islower()
                )
            else:
                split_word = _WORD_SPLIT.search(paragraphs[-1]) is not None and text[:1].islower()
                continues = not line.gap_before and (split_word or _wrapped(before, text, margin))
            if continues:
                paragraphs[-1] = _join(paragraphs[-1], text)
            else:
                paragraphs.append(text)
        if lines:
            last, last_margin = lines[-1], margins[-1]
    return "\n\n".join(paragraphs).strip()


def _right_margins(lines: list[Line]) -> list[float]:
    """Each line's column right margin: the 90th percentile of the right edges of the lines beside or under it
    (horizontally overlapping: the same column), so indented list items and two-column pages get their own."""
    margins = []
    for line in lines:
        rights = [other.right for other in lines if other.left < line.right and other.right > line.left]
        margins.append(statistics.quantiles(rights, n=10, method="inclusive")[-1] if len(rights) >= 2 else line.right)
    return margins


def _wrapped(line: Line, next_text: str, margin: float) -> bool:
    """Whether ``line`` was cut by its column's width: the next line's first word would not have fitted after it
    before the right margin (5% slack: the per-character width is an estimate that counts spaces too)."""
    per_char = (line.right - line.left) / max(len(line.text), 1)
    first_word = next_text.split(" ", 1)[0]
    return line.right + per_char * (len(first_word) + 1) > margin - 0.05 * (margin - line.left)


def _same_size(a: Line, b: Line) -> bool:
    """The same font size (within 5%); by the run heights when PDFium gave no size."""
    if a.size > 0 and b.size > 0:
        return abs(a.size - b.size) <= 0.05 * max(a.size, b.size)
    height_a, height_b = a.top - a.bottom, b.top - b.bottom
    return abs(height_a - height_b) <= 0.2 * max(height_a, height_b)


def _title(metadata_title: str, pages: list[list[str]], name: str) -> str:
    """The document's title: its metadata title unless that is a file name or empty, else its first line of text."""
    if metadata_title and not _JUNK_TITLE.match(metadata_title) and sum(c.isalpha() for c in metadata_title) >= 3:
        return _SPACES.sub(" ", metadata_title)
    for lines in pages:
        for line in lines:
            if sum(c.isalpha() for c in line) >= 3:
                return line[:200]
    return name.rstrip("/").rsplit("/", 1)[-1]
