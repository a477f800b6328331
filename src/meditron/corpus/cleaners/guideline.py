"""MEDITRON's common cleaning of guideline text (Markdown-ish), plus the per-site line rules.

The steps follow MEDITRON's guideline cleaner: remove URLs and HTML remnants, keep the text of Markdown links,
drop bracketed reference numbers, normalise list bullets, remove junk characters, rescale headers to ``#``–``###``,
drop lines with no letters, collapse blank lines. One deliberate difference: MEDITRON turned every line starting
with a lowercase ``o`` into a bullet ("often" → "-ften"); here only a lone ``o`` followed by a space is a bullet.

``clean_guideline_text`` applies the steps until nothing changes (at most a few rounds), which makes it idempotent:
``clean(clean(x)) == clean(x)`` — a property test pins this on arbitrary text.
"""

from __future__ import annotations

import html
import re
import unicodedata

from meditron.corpus.guidelines.rules import SiteRules

MAX_ROUNDS = 6
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\ufffd\u00ad]")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>\n]*)?/?>")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_MD_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\([^()\n]*\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]*)\]\([^()\n]*\)")
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"')\]]*", re.IGNORECASE)
_BRACKET_REFS = re.compile(r"\s*\[\s*\d+(?:\s*[-–—,;]\s*\d+)*\s*\]")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_BULLET = re.compile(r"^\s*(?:[•◦▪▫●○■□➢►▸‣⁃∙·*+]|-{1,3}|o)\s+(?=\S)")
_NUMBERED = re.compile(r"^\s+(\d{1,3}[.)]\s)")
_HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$")
_LETTER = re.compile(r"[^\W\d_]")
_BLANKS = re.compile(r"\n{3,}")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\w) +([.,;:])(?= |$)")


def _is_junk(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return (cat[0] == "C" and ch != "\n") or cat == "Co"


def _strip_junk(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return "".join(ch for ch in text if ch == "\n" or not _is_junk(ch))


def _rescale_headers(lines: list[str]) -> list[str]:
    levels = sorted({len(m.group(1)) for line in lines if (m := _HEADING.match(line))})
    if not levels:
        return lines
    new_level = {level: min(i + 1, 3) for i, level in enumerate(levels)}
    out = []
    for line in lines:
        m = _HEADING.match(line)
        if m:
            line = "#" * new_level[len(m.group(1))] + " " + m.group(2)
        out.append(line)
    return out


def _clean_once(text: str, rules: SiteRules | None) -> str:
    text = _NEWLINES.sub("\n", text)
    text = _HTML_COMMENT.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    if "&" in text:
        text = _HTML_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = _ZERO_WIDTH.sub("", text)
    text = _strip_junk(text)
    text = _SPACES.sub(" ", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _BRACKET_REFS.sub("", text)
    if rules is not None:
        for pattern in rules.inline_removals:
            text = pattern.sub("", text)
    text = _EMPTY_BRACKETS.sub("", text)
    lines = []
    for line in text.split("\n"):
        line = _BULLET.sub("- ", line)
        line = _NUMBERED.sub(r"\1", line)
        line = _BOLD.sub(r"\2", line)
        line = _ITALIC.sub(r"\1", line)
        line = _SPACES.sub(" ", line).strip()
        line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
        if line and not _LETTER.search(line):
            continue
        lines.append(line)
    lines = _rescale_headers(lines)
    if rules is not None:
        lines = rules.apply_lines(lines)
    text = "\n".join(lines)
    return _BLANKS.sub("\n\n", text).strip()


def clean_guideline_text(text: str, rules: SiteRules | None = None) -> str:
    """Common cleaning (+ the site's line rules) repeated to a fixed point, so the result is idempotent."""
    for _ in range(MAX_ROUNDS):
        cleaned = _clean_once(text, rules)
        if cleaned == text:
            break
        text = cleaned
    return text
