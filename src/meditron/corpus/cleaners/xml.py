"""Safe lxml parsing shared by the XML readers: no network, no entity expansion, no DTD loading.

Publisher XML names remote DTDs and may carry undeclared entities; we never fetch anything, never expand entities
(billion-laughs safe), and accept very deep/large trees (``huge_tree``) because PMC efetch sets can be big.
"""

from __future__ import annotations

import html.entities

from lxml import etree

ENTITY = etree.Entity


def iterparse_kwargs() -> dict:
    """The same safety settings for ``etree.iterparse`` (streaming the big MEDLINE files)."""
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": True,
        "remove_comments": True,
        "remove_pis": True,
    }


class UndeclaredEntityError(ValueError):
    """An entity reference whose name is neither an XML/HTML5 character entity nor declared in the file."""


def entity_text(node: etree._Entity) -> str:
    """Text of an entity node left in the tree (a file with an external DTD we do not load).

    JATS/NLM DTDs declare the ISO character entities, whose names match HTML5's; anything else is unknown content
    and raises, so the record is quarantined rather than silently losing text.
    """
    name = node.name
    char = html.entities.html5.get(name + ";")
    if char is None:
        raise UndeclaredEntityError(f"undeclared entity &{name}; (line {node.sourceline})")
    return char


def squash(text: str) -> str:
    """Collapse all whitespace runs to one space (XML files wrap paragraphs at arbitrary points)."""
    return " ".join(text.split())


def element_text(el: etree._Element | None) -> str:
    """Plain text of a subtree with entity nodes mapped to characters, whitespace collapsed."""
    if el is None:
        return ""
    parts: list[str] = []
    collect_text(el, parts)
    return squash("".join(parts))


def collect_text(el: etree._Element, parts: list[str]) -> None:
    if el.tag is ENTITY:
        parts.append(entity_text(el))
    elif el.text:
        parts.append(el.text)
    for child in el:
        collect_text(child, parts)
        if child.tail:
            parts.append(child.tail)


def describe_xml_error(err: Exception) -> str:
    """A readable message for a parse error: lxml's iterparse often reports only its last symptom ("no element
    found"), while the first entry of its error log names the cause ("Entity 'x' not defined", line N)."""
    log = getattr(err, "error_log", None)
    first = next(iter(log), None) if log is not None else None
    if first is not None and first.message and first.message.strip() not in str(err):
        return f"{type(err).__name__}: {first.message.strip()} (line {first.line}); {err}"
    return f"{type(err).__name__}: {err}"


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}


def iso_date(year: str | None, month: str | None = None, day: str | None = None) -> str | None:
    """``YYYY-MM-DD`` from the year/month/day texts of a citation (month as ``03``, ``3`` or ``Mar``); a missing or
    unreadable month or day counts as the first, a missing year gives None. Used for recency (upsampling)."""
    y = (year or "").strip()[:4]
    if len(y) != 4 or not y.isdigit():
        return None
    m_text = (month or "").strip().lower()
    m = int(m_text) if m_text.isdigit() else _MONTHS.get(m_text[:3], 1)
    d_text = (day or "").strip()
    d = int(d_text) if d_text.isdigit() else 1
    if not 1 <= m <= 12:
        m = 1
    if not 1 <= d <= 28 + (3 if m != 2 else 0):
        d = 1
    return f"{y}-{m:02d}-{d:02d}"
