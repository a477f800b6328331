"""PHI scrubbing: each identifier type replaced by its placeholder; numbers of scientific text left alone."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meditron.corpus.phi import PHI_PATTERNS, scrub
from tests.testing import SHARED_DATA, requires_shared_data


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("Write to jane.doe@example.org today.", "Write to <EMAIL> today.", {"email": 1}),
        ("Call (617) 555-1234 or 617.555.1234.", "Call <PHONE> or <PHONE>.", {"phone": 2}),
        ("Call 1-800-232-4636 now", "Call <PHONE> now", {"phone": 1}),
        ("Fax: +41 21 693 11 11.", "Fax: <PHONE>.", {"phone": 1}),
        ("Telephone: 404-639-8000; Fax: 404-639-8629", "Telephone: <PHONE>; Fax: <PHONE>", {"phone": 2}),
        ("SSN 123-45-6789 on file", "SSN <SSN> on file", {"ssn": 1}),
        ("MRN: 00123456, medical record number A1234567", "MRN: <MRN>, medical record number <MRN>", {"mrn": 2}),
        ("patient ID is 778899.", "patient ID is <MRN>.", {"mrn": 1}),
        ("from 192.168.1.10 and 10.0.0.1", "from <IP> and <IP>", {"ip": 2}),
        ("see https://portal.example.com/view?token=abc123&x=1 now", "see <URL> now", {"url": 1}),
        ("https://x.org/a?user=jdoe", "<URL>", {"url": 1}),
    ],
)
def test_identifiers_are_replaced(text, expected, counts):
    out, found = scrub(text)
    assert out == expected
    assert dict(found) == counts


@pytest.mark.parametrize(
    "text",
    [
        "p = 0.001; 95% CI 1.2-3.4; OR 2.35 (1.10-5.02)",
        "between 1999-2003 and 2004 2005 2006",
        "doi:10.1056/NEJMoa2034577 and PMID 29768149",
        "see section 1.2.3.4, version 3.10.2.1 and 2.5.10.12",
        "dose 500 mg twice daily; n = 1,234; ISBN 978-0-12-345678-9",
        "Vol. 54 / No. RR-16, pages 1-31; ICD-9 070.30; grant R01-AI-123456",
        "https://www.cdc.gov/mmwr/preview/mmwrhtml/rr5416a1.htm?s_cid=rr5416a1_e",
        "user@ with no domain and @handle",
        "Table 3: 12.5 (10.2-14.8) 130/80 mmHg 2024-01-15",
    ],
)
def test_scientific_text_is_left_alone(text):
    assert scrub(text) == (text, {})


def test_selected_types_only():
    out, found = scrub("a@b.org 617-555-1234", types=["email"])
    assert out == "<EMAIL> 617-555-1234" and dict(found) == {"email": 1}


@requires_shared_data
def test_real_medline_abstracts_have_few_hits():
    """604 real abstracts (titles + text inside the XML): only contact e-mails are expected, no numbers."""
    with gzip.open(SHARED_DATA / "pubmed" / "medline" / "medline16n0902.xml.gz", "rt", encoding="utf-8") as f:
        xml = f.read()
    import re

    texts = re.findall(r"<AbstractText[^>]*>(.*?)</AbstractText>", xml, flags=re.S)
    assert len(texts) > 400
    found: dict[str, int] = {}
    for t in texts:
        for k, v in scrub(t)[1].items():
            found[k] = found.get(k, 0) + v
    assert set(found) <= {"email"}
    assert found.get("email", 0) <= 5


def _unguarded(text: str) -> tuple[str, dict[str, int]]:
    """The definition the guards must not change: every pattern, in order, on every text."""
    counts: dict[str, int] = {}
    for kind, (pattern, placeholder) in PHI_PATTERNS.items():
        text, n = pattern.subn(lambda m, p=placeholder: (m.groupdict().get("label") or "") + p, text)
        if n:
            counts[kind] = counts.get(kind, 0) + n
    return text, counts


_PIECES = [
    "Tel", "TEL.", "telephone", "Phone", "fax", "Mobile", "cell", "CELL no.", "MRN", "mRNA", "medical record number",
    "Medical Record No.", "patient ID", "PATİENT id", "patıent number", "ſ", "\u212a", "İ", "ı", "is", ":", "#", " ",
    "  ", "\n", "\xa0", "\u2009", "-", ".", "(", ")", "+", "1", "2", "5", "9", "0", "00", "123", "555", "4567",
    "\u0663", "@", "jane.doe", "example.org", "https://", "www.", "WWW.", "?token=", "&user=", "x", "A1", "B-77",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_guards_never_change_the_result(text):
    """The cheap guards only skip patterns that cannot match: same text and counts as the patterns alone."""
    out, found = scrub(text)
    assert (out, dict(found)) == _unguarded(text)


@pytest.mark.parametrize(
    "text",
    [
        "Tel: 617 555 1234", "PATİENT ID: 778899", "patıent number 1234567", "Mob\u0131le: 5551234567",
        "Call 617\xa0555\xa01234", "+41 21 693 11 11", "mRNA 12345 and MRN 0012345", "Telephone:\n404-639-8000",
    ],
)
def test_guards_keep_tricky_hits(text):
    assert scrub(text) == _unguarded(text) and scrub(text)[0] != text


@requires_shared_data
def test_guards_never_change_the_result_on_real_files():
    """Every real abstract, article and guideline page (raw XML/HTML text): identical to the unguarded patterns."""
    raw = [gzip.open(p, "rt", encoding="utf-8").read() for p in (SHARED_DATA / "pubmed" / "medline").glob("*.gz")]
    raw += [p.read_text(encoding="utf-8") for p in (SHARED_DATA / "pubmed" / "medline").glob("*.xml")]
    raw += [p.read_text(encoding="utf-8") for p in (SHARED_DATA / "pubmed" / "jats").glob("*.nxml")]
    raw += [p.read_bytes().decode("cp1252", errors="replace")
            for p in (SHARED_DATA / "guidelines" / "cdc_mmwr_html").glob("*.htm")]
    chunks = [doc[i : i + 3000] for doc in raw for i in range(0, len(doc), 3000)]
    assert len(chunks) > 500
    hits = 0
    for chunk in chunks:
        out, found = scrub(chunk)
        assert (out, dict(found)) == _unguarded(chunk)
        hits += sum(found.values())
    assert hits > 0  # the pages carry real contact numbers and e-mails: the guarded path is exercised too
