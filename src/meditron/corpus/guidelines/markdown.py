"""Navigation junk in pages that common tools (markdownify, html2text, pandoc) converted whole to Markdown.

Such a conversion keeps what a browser shows around the guideline: layout tables of navigation links and spacer
images (``| [CDC Home](…) | spacer |``), accessibility and government banners ("Skip directly to site content",
"An official website of the United States government"), logo images, and link-only footers. This pass runs before
the common cleaning (which would otherwise keep the link texts as words):

- a Markdown table whose cells are all navigation (links, images, spacer words, separators) is dropped;
- a table with a long prose cell is a *layout* table wrapping the page: its prose cells become paragraphs
  (split where the converter joined paragraphs with two spaces) and the rest goes;
- other tables are data tables (doses, schedules) and stay as they are;
- outside tables: link-only lines with short link texts (menus, footers), image-only lines and the usual
  accessibility/banner notices are removed.
"""

from __future__ import annotations

import re

_LINK = re.compile(r"!?\[([^\[\]\n]*)\]\([^()\n]*\)")
_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\n]*\)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR = re.compile(r"^:?-{3,}:?$")
_PARAGRAPH_JOIN = re.compile(r"\s{2,}")
_WORD = re.compile(r"[^\W\d_]{2,}")
_NAV_WORDS = re.compile(r"\b(spacer|blue white|bottom curve|blue curve|skip navigation links?|logo)\b", re.IGNORECASE)
_NOTICES = re.compile(
    r"^\W*(skip (directly )?to (site |main )?(content|search|navigation)|skip navigation|"
    r"an official website of the united states government|official websites use \.gov|"
    r"a \.gov website belongs to|secure \.gov websites use https|a lock \(|"
    r"you are using an outdated browser|javascript (is )?(disabled|required)|this site uses cookies)",
    re.IGNORECASE,
)
PROSE_WORDS = 40  # a cell with this many words of non-link text is page content, not navigation


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _is_navigation(text: str) -> bool:
    """Links, images, spacer alt texts and punctuation only (or nothing at all)."""
    rest = _NAV_WORDS.sub(" ", _LINK.sub(" ", text))
    return _words(rest) == 0 or (_words(rest) <= 3 and _words(text) > _words(rest))


def _is_link_line(line: str) -> bool:
    links = _LINK.findall(line)
    if not links:
        return False
    rest = _LINK.sub(" ", line).strip(" -*|·•>#\t")
    return _words(rest) == 0 and all(_words(text) <= 6 for text in links)


def _table_cells(rows: list[str]) -> list[str]:
    cells = []
    for row in rows:
        for cell in _CELL_SPLIT.split(row.strip().strip("|")):
            cell = cell.strip()
            if cell and not _SEPARATOR.match(cell):
                cells.append(cell)
    return cells


def _rewrite_table(rows: list[str]) -> list[str]:
    cells = _table_cells(rows)
    if all(_is_navigation(c) for c in cells):
        return []
    prose = [c for c in cells if _words(_LINK.sub(" ", c)) >= PROSE_WORDS]
    if not prose:
        return rows  # a data table
    out: list[str] = []
    for cell in cells:
        if _is_navigation(cell) or (cell not in prose and _words(cell) < 8):
            continue
        for paragraph in _PARAGRAPH_JOIN.split(cell):
            if paragraph.strip() and not _is_navigation(paragraph):
                out += [paragraph.strip(), ""]
    return out


def strip_markdown_junk(markdown: str) -> str:
    """Remove navigation tables, link-only lines, image-only lines and banners; unwrap layout tables."""
    out: list[str] = []
    table: list[str] = []
    for line in markdown.splitlines() + [""]:
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            out.extend(_rewrite_table(table))
            table = []
        bare = _IMAGE.sub("", line).strip()
        if line.strip() and (not bare or _is_link_line(line) or _NOTICES.search(bare)):
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"
