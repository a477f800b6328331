"""Bytes → text for web pages and text files: declared/detected encoding, then double-encoding (mojibake) repair.

Old guideline pages are windows-1252 (declared in a ``<meta>`` tag or not at all); newer pages are UTF-8 yet carry
text that was UTF-8-encoded twice somewhere upstream (``COVID-19â\\x80\\x93Associated``). ``ftfy`` repairs the
latter; we keep curly quotes (``uncurl_quotes=False``) because they are real typography, not damage.
"""

from __future__ import annotations

import codecs
import re

import ftfy

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
_FTFY_CONFIG = ftfy.TextFixerConfig(uncurl_quotes=False, explain=False)


class UnknownEncodingError(ValueError):
    """The bytes are in none of the declared, UTF-8 or windows-1252 encodings, and detection failed."""


def declared_encoding(data: bytes) -> str | None:
    """The charset a page declares (BOM, XML declaration or ``<meta charset>``), normalised by ``codecs``."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = data[:4096]
    match = _XML_DECL.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode with the declared charset, else UTF-8, else windows-1252, else charset-normalizer's best guess.

    Returns ``(text, encoding used)``. A page declaring latin-1 is read as windows-1252 (what browsers do).
    """
    candidates = []
    declared = declared_encoding(data)
    if declared:
        candidates.append("cp1252" if declared in ("latin-1", "iso8859-1", "ascii") else declared)
    candidates += ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return text.lstrip("\ufeff"), encoding
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnknownEncodingError("cannot detect the text encoding")
    return str(best), best.encoding


def fix_mojibake(text: str) -> str:
    """Repair double-encoded UTF-8 and similar damage (ftfy), normalise to NFC."""
    return ftfy.fix_text(text, _FTFY_CONFIG)
