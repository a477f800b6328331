"""Regex PHI/PII scrubbing with typed placeholders and per-type counts.

Patterns are deliberately strict (formatted phone numbers, dashed SSNs, labelled MRNs, URLs only when their query
carries a personal token) so that numbers of scientific text — p-values, confidence intervals, years, doses, DOIs,
section numbers — stay intact; the tests pin both the hits and the non-hits, and the report counts every type on
real files.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.counts import write_task_counts

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_PERSONAL_QUERY = (
    r"(?:token|access_token|auth|key|apikey|api_key|session|sessionid|sid|email|e-mail|mail|user|username|userid|"
    r"uid|patient|patientid|mrn|password|pwd|passwd|signature|sig)"
)

#: type → (pattern, placeholder), applied in this order (URLs and e-mails first: they contain digits and dots).
PHI_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "url": (
        re.compile(
            rf"\b(?:https?://|www\.)[^\s<>\"']*?[?&;]{_PERSONAL_QUERY}=[^\s<>\"']*",
            re.IGNORECASE,
        ),
        "<URL>",
    ),
    "email": (
        re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b"),
        "<EMAIL>",
    ),
    "ssn": (re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"), "<SSN>"),
    "mrn": (
        re.compile(
            r"(?P<label>\b(?:MRN|medical\s+record\s+(?:number|no\.?|#)|patient\s+(?:ID|number))\s*(?:is|:|#|no\.?)?\s*)"
            r"(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{4,}\b",
            re.IGNORECASE,
        ),
        "<MRN>",
    ),
    "phone": (
        re.compile(
            # labelled numbers (Tel/Phone/Fax/Mobile) in any format, then unlabelled North-American and +international
            r"(?P<label>\b(?:tel(?:ephone)?|phone|fax|mobile|cell)\.?\s*(?:no\.?|number)?\s*:?\s*)\+?\(?\d[\d\s().-]{6,}\d"
            r"|(?<![\w.+-])(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w-])"
            r"|(?<![\w.+-])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}[\s.-]?\d{2,4}(?![\w-])",
            re.IGNORECASE,
        ),
        "<PHONE>",
    ),
    "ip": (
        # the first octet has 2-3 digits, so section and version numbers (2.5.10.12, 3.10.2.1) are not IPs
        re.compile(rf"(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d)(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"),
        "<IP>",
    ),
}


#: A type is only searched when its guard substring occurs (cheap ``in`` test; most documents have neither).
_GUARDS: dict[str, str] = {"email": "@", "url": "="}


def _replacer(placeholder: str):
    """Keep a matched label (``Fax: ``) and replace only the identifier after it."""

    def replace(m: re.Match[str]) -> str:
        label = m.groupdict().get("label")
        return (label or "") + placeholder

    return replace


def scrub(text: str, types: list[str] | tuple[str, ...] | None = None) -> tuple[str, Counter[str]]:
    """Replace identifiers by placeholders; returns the new text and the count per type."""
    counts: Counter[str] = Counter()
    for kind, (pattern, placeholder) in PHI_PATTERNS.items():
        if (types is not None and kind not in types) or (kind in _GUARDS and _GUARDS[kind] not in text):
            continue
        text, n = pattern.subn(_replacer(placeholder), text)
        if n:
            counts[kind] += n
    return text, counts


class PhiScrubber(PipelineStep):
    """Scrub every document in place; counts per type and per source go to ``<counts_dir>/<rank>.json``."""

    name = "🩺 PHI scrubber"
    type = "✂️ - FORMAT"

    def __init__(self, counts_dir: str | Path, types: list[str] | None = None):
        super().__init__()
        self.counts_dir = Path(counts_dir)
        self.types = tuple(types) if types is not None else tuple(PHI_PATTERNS)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        totals: Counter[str] = Counter()
        docs_with: Counter[str] = Counter()
        for doc in data:
            with self.track_time():
                doc.text, counts = scrub(doc.text, self.types)
            if counts:
                doc.metadata["phi"] = dict(counts)
                totals.update(counts)
                docs_with[doc.metadata.get("source") or "?"] += 1
                for kind, n in counts.items():
                    self.stat_update(kind, value=n)
            yield doc
        write_task_counts(self.counts_dir, rank, {"replacements": dict(totals), "docs_with_phi": dict(docs_with)})
