"""PHI scrubbing: each identifier type replaced by its placeholder; numbers of scientific text left alone."""

from __future__ import annotations

import gzip

import pytest

from meditron.corpus.phi import scrub
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
