"""``SiteRules``: what one guideline site needs beyond the common cleaning.

A site rule set says where the guideline starts and stops in the raw HTML (content-area markers) and in the cleaned
text (first line of the guideline; headings such as "References" or "Disclaimer" where it stops), which elements
and lines are site boilerplate, and which inline patterns (e.g. CDC's parenthesised citation numbers) to remove.
Rules are plain data so a new site is one small module (see ``docs/CORPUS_SOURCES.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_STOP_HEADINGS = (
    r"references?",
    r"references? and notes",
    r"bibliography",
    r"literature cited",
    r"acknowledge?ments?",
    r"disclaimer",
    r"disclosures?",
    r"conflicts? of interest",
    r"competing interests",
    r"funding",
    r"suggested citation",
)
_DECORATION = re.compile(r"^[#*_\s]+|[\s*_:.]+$")  # not "-": a TOC bullet "- References" is no stop


def _compile(patterns: tuple[str, ...] | list[str], flags: int = re.IGNORECASE) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p, flags) for p in patterns)


@dataclass(frozen=True)
class SiteRules:
    """Per-site cleaning rules. All patterns are regular expressions (case-insensitive)."""

    name: str
    description: str = ""
    # raw HTML: keep what lies after the first start marker and before the first end marker after it
    html_start: tuple[str, ...] = ()
    html_end: tuple[str, ...] = ()
    # raw HTML: XPath expressions of elements removed before conversion (navigation, share boxes…)
    html_drop_xpaths: tuple[str, ...] = ()
    # cleaned text: the guideline starts at the first line matching one of these (none: at the top)
    start_lines: tuple[str, ...] = ()
    # cleaned text: a line whose text (without #, *, trailing :) fully matches one of these ends the guideline…
    stop_headings: tuple[str, ...] = DEFAULT_STOP_HEADINGS
    # …but only once this many characters of guideline text were kept (a table of contents may name "References")
    stop_after_chars: int = 100
    # cleaned text: lines matching one of these (search) are site boilerplate and removed
    boilerplate_lines: tuple[str, ...] = ()
    # cleaned text: inline patterns removed everywhere (e.g. citation numbers a site writes as "(12)")
    inline_patterns: tuple[str, ...] = ()
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    def _get(self, key: str) -> tuple[re.Pattern, ...]:
        if key not in self._compiled:
            if key == "stop_headings":
                self._compiled[key] = _compile([rf"(?:{p})" for p in self.stop_headings])
            else:
                self._compiled[key] = _compile(getattr(self, key))
        return self._compiled[key]

    @property
    def inline_removals(self) -> tuple[re.Pattern, ...]:
        return self._get("inline_patterns")

    def cut_html(self, page: str) -> str:
        """The content area of a raw page; the whole page when no marker matches."""
        start = 0
        for pattern in self._get("html_start"):
            m = pattern.search(page)
            if m:
                start = m.start()
                break
        end = len(page)
        for pattern in self._get("html_end"):
            m = pattern.search(page, start + 1)
            if m:
                end = m.start()
                break
        return page[start:end]

    def apply_lines(self, lines: list[str]) -> list[str]:
        """Start line, boilerplate lines and stop headings on the cleaned lines."""
        starts = self._get("start_lines")
        if starts:
            for i, line in enumerate(lines):
                if any(p.search(line) for p in starts):
                    lines = lines[i:]
                    break
        boiler = self._get("boilerplate_lines")
        stops = self._get("stop_headings")
        out: list[str] = []
        kept = 0
        for line in lines:
            if boiler and any(p.search(line) for p in boiler):
                continue
            if kept >= self.stop_after_chars and len(line) < 80:
                bare = _DECORATION.sub("", line)
                if any(p.fullmatch(bare) for p in stops):
                    break
            out.append(line)
            kept += len(line)
        return out
