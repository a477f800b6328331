"""Hostile and broken corpus inputs: decompression bombs (every reader), XXE and entity expansion, binary and
truncated files — each quarantined with its reason, the records before it kept, memory bounded.

Truncated, mis-encoded and broken-gzip inputs are covered per reader in tests/corpus (see docs/RELIABILITY.md);
the ledger's balance with a quarantined file is asserted in tests/corpus/test_pipeline.py.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from meditron.corpus.config import ReadLimitsConfig
from meditron.corpus.mixing.readers import ReplayJsonlReader
from meditron.corpus.readers.guideline import GuidelineFileReader, GuidelineJsonlReader
from meditron.corpus.readers.jats import JatsReader
from meditron.corpus.readers.medline import MedlineReader
from tests.corpus.pdf_fixtures import pdf_bomb
from tests.reliability.helpers import peak_rss_mb

pytestmark = pytest.mark.reliability

FIXTURES = Path(__file__).resolve().parents[1] / "corpus" / "fixtures"
SMALL = ReadLimitsConfig(max_record_bytes=1 << 20, max_file_bytes=8 << 20)  # 1 MiB records, 8 MiB files
MIB_OF_A = gzip.compress(b"A" * (1 << 20), 9)  # ~1 KB; gzip members concatenate, so N of them inflate to N MiB
ARTICLE_HEAD = (b"<article><front><article-meta><title-group><article-title>T</article-title></title-group>"
                b"</article-meta></front><body><p>")


def gzip_bomb(path: Path, head: bytes, mib: int, tail: bytes) -> Path:
    """A gzip of ``head + mib MiB of 'A' + tail`` written in ~1 KB per MiB (multi-member gzip)."""
    with open(path, "wb") as f:
        f.write(gzip.compress(head))
        for _ in range(mib):
            f.write(MIB_OF_A)
        f.write(gzip.compress(tail))
    return path


def quarantined(docs) -> list[dict]:
    return [d.metadata["quarantined"] for d in docs if "quarantined" in d.metadata]


def test_one_mb_gzip_inflating_to_one_gib_is_quarantined_in_bounded_memory(tmp_path):
    """issue 15: a 1 MB .nxml.gz that inflates to 1 GiB, read with the default limits by `meditron corpus inspect`
    in its own process: quarantined with the limit named, peak RSS under 300 MB (it was 2.1 GB)."""
    bomb = gzip_bomb(tmp_path / "bomb.nxml.gz", ARTICLE_HEAD, 1024, b"</p></body></article>")
    assert bomb.stat().st_size < 1_200_000
    code, peak_mb, stderr = peak_rss_mb(["corpus", "inspect", "--kind", "jats", str(bomb)])
    (record,) = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert code == 1 and record["file"] == str(bomb) and record["position"] == 0
    assert "corpus.limits.max_record_bytes=67108864" in record["error"]
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"


def test_jats_tar_member_bomb_and_archive_cap(tmp_path):
    """A PMC bundle whose second member is a bomb: the first paper is kept, the member quarantined; a bundle of
    many small members over max_file_bytes stops at the cap."""
    bomb_member = gzip_bomb(tmp_path / "m.nxml.gz", ARTICLE_HEAD, 4, b"</p></body></article>").read_bytes()
    paper = (FIXTURES / "jats" / "thyroid_jats11.nxml").read_bytes()
    bundle = tmp_path / "bundle.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in (("a/paper.nxml", paper), ("b/bomb.nxml.gz", bomb_member)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    docs = list(JatsReader([str(bundle)], source="papers", limits=SMALL)())
    assert docs[0].text and "quarantined" not in docs[0].metadata
    (q,) = quarantined(docs)
    assert q["file"] == f"{bundle}:b/bomb.nxml.gz" and "max_record_bytes=1048576" in q["error"]

    many = tmp_path / "many.tar"
    with tarfile.open(many, "w") as tar:
        for i in range(12):  # figures: skipped, yet decompressed and counted against the archive's cap
            info = tarfile.TarInfo(f"p{i}.jpg")
            info.size = 1 << 20
            tar.addfile(info, io.BytesIO(b" " * (1 << 20)))
    (q,) = quarantined(JatsReader([str(many)], source="papers", limits=SMALL)())
    assert q["position"] == "tar" and "max_file_bytes=8388608" in q["error"]


def test_medline_bomb_keeps_the_records_before_it(tmp_path):
    """A MEDLINE file whose third citation holds a 16 MiB abstract: citations 1-2 kept, then quarantine at #2
    naming the cap — in the pre-scan and in the main pass, neither holds the file."""
    data = (FIXTURES / "medline" / "pubmed25n0001.xml").read_bytes()
    first_two = data[: data.index(b"</PubmedArticle>", data.index(b"</PubmedArticle>") + 1) + len(b"</PubmedArticle>")]
    head = first_two + b"<PubmedArticle><MedlineCitation><PMID>99</PMID><Article><Abstract><AbstractText>"
    bomb = gzip_bomb(tmp_path / "pubmed_bomb.xml.gz", head, 16, b"</AbstractText></Abstract></Article>"
                     b"</MedlineCitation></PubmedArticle></PubmedArticleSet>")
    docs = list(MedlineReader([str(bomb)], source="abstracts", limits=SMALL)())
    assert [d.id for d in docs[:2]] == ["pmid1001", "pmid1002"] and all(d.text for d in docs[:2])
    (q,) = quarantined(docs)
    assert q["position"] == 2 and "max_record_bytes=1048576" in q["error"] and "records after #2 lost" in q["error"]


def test_jsonl_line_bomb_quarantines_the_line_and_keeps_the_next(tmp_path):
    """Guideline and replay JSON lines: one line of 4 MiB (over a 1 MiB cap) is one quarantine record; the line
    after it is read; a file over max_file_bytes stops with the file cap."""
    row = json.dumps({"id": "g1", "source": "cdc", "title": "Hand hygiene", "clean_text": "Wash hands. " * 40})
    with gzip.open(tmp_path / "g.jsonl.gz", "wb") as f:
        f.write(b'{"id": "big", "clean_text": "' + b"A" * (4 << 20) + b'"}\n')
        f.write(row.encode() + b"\n")
    docs = list(GuidelineJsonlReader([str(tmp_path / "g.jsonl.gz")], source="guidelines", limits=SMALL)())
    assert [d.metadata.get("quarantined", {}).get("position") for d in docs] == ["line 1", None]
    assert "line 1 is larger than corpus.limits.max_record_bytes=1048576" in docs[0].metadata["quarantined"]["error"]
    assert docs[1].text.startswith("# Hand hygiene")

    replay = tmp_path / "r.jsonl.gz"
    with gzip.open(replay, "wb") as f:
        f.write(b'{"text": "' + b"B" * (2 << 20) + b'"}\n{"id": "ok", "text": "general text"}\n')
    docs = list(ReplayJsonlReader([str(replay)], "replay", limits=SMALL)())
    assert [d.id for d in docs] == [f"{replay}#1", "replay:ok"] and docs[1].text == "general text"
    assert "max_record_bytes=1048576" in docs[0].metadata["quarantined"]["error"]

    big = tmp_path / "big.jsonl.gz"
    with gzip.open(big, "wb") as f:
        for i in range(12 * 1024):
            f.write(json.dumps({"id": str(i), "text": "x" * 1000}).encode() + b"\n")
    docs = list(ReplayJsonlReader([str(big)], "replay", limits=SMALL)())
    assert "max_file_bytes=8388608" in docs[-1].metadata["quarantined"]["error"]
    assert len(docs) - 1 == sum(1 for d in docs if "quarantined" not in d.metadata) > 7000  # kept before the cap


def test_html_page_bomb_is_quarantined(tmp_path):
    gzip_bomb(tmp_path / "page.html.gz", b"<html><body><main><p>", 4, b"</p></main></body></html>")
    (doc,) = GuidelineFileReader([str(tmp_path)], source="guidelines", fmt="html", limits=SMALL)()
    assert "page is larger than corpus.limits.max_record_bytes=1048576" in doc.metadata["quarantined"]["error"]


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<article><front><article-meta><title-group><article-title>T</article-title></title-group></article-meta></front>
<body><p>secret: &xxe;</p></body></article>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE article [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<article><body><p>&lol9;</p></body></article>"""


@pytest.mark.parametrize("kind", ["jats", "medline"])
def test_xxe_and_entity_expansion_are_never_expanded(tmp_path, kind):
    """External entities are not fetched and nested entities not expanded: the record is quarantined, no file
    content reaches the text."""
    if kind == "jats":
        (tmp_path / "xxe.nxml").write_bytes(XXE)
        (tmp_path / "laughs.nxml").write_bytes(LAUGHS)
        docs = list(JatsReader([str(tmp_path)], source="papers")())
    else:
        for name, doc in (("xxe.xml", XXE), ("laughs.xml", LAUGHS)):
            body = doc.replace(b"<!DOCTYPE article", b"<!DOCTYPE PubmedArticleSet").split(b"]>")
            (tmp_path / name).write_bytes(body[0] + b"]><PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>7"
                                          b"</PMID><Article><Abstract><AbstractText>"
                                          + (b"&xxe;" if name == "xxe.xml" else b"&lol9;")
                                          + b"</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
                                          b"</PubmedArticleSet>")
        docs = list(MedlineReader([str(tmp_path)], source="abstracts")())
    assert not any("root:" in d.text or "lollol" in d.text for d in docs)
    errors = {Path(q["file"]).stem: q["error"] for q in quarantined(docs)}
    assert set(errors) == {"xxe", "laughs"}, [(d.id, d.text[:80]) for d in docs]
    assert "xxe" in errors["xxe"] and "lol9" in errors["laughs"]


def test_binary_and_empty_files_are_quarantined(tmp_path):
    noise = bytes(range(256)) * 64
    (tmp_path / "noise.nxml").write_bytes(noise)
    (tmp_path / "empty.nxml").write_bytes(b"")
    (tmp_path / "noise.xml.gz").write_bytes(gzip.compress(noise))
    jats = quarantined(JatsReader([str(tmp_path / "noise.nxml"), str(tmp_path / "empty.nxml")], source="p")())
    assert sorted(Path(q["file"]).name for q in jats) == ["empty.nxml", "noise.nxml"]
    (medline,) = quarantined(MedlineReader([str(tmp_path / "noise.xml.gz")], source="a")())
    assert "XMLSyntaxError" in medline["error"]
    (tmp_path / "noise.jsonl").write_bytes(bytes(b for b in noise[:2000] if b != 0x0A) + b"\n")  # one line
    (replay,) = ReplayJsonlReader([str(tmp_path / "noise.jsonl")], "replay")()
    assert "UnicodeDecodeError" in replay.metadata["quarantined"]["error"]


def test_pdf_inflating_to_one_gib_is_quarantined_by_the_capped_reader_process(tmp_path):
    """A 1 MB guideline PDF whose stream inflates to 1 GiB (read in-process: 2.1 GB RSS, 4.5 s). PDFium runs in a
    child process capped at 1 GiB of address space: the file is quarantined naming the cap, the run goes on, and
    no process of the run goes past the cap."""
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(pdf_bomb())
    assert bomb.stat().st_size < 1_200_000
    code, peak_mb, stderr = peak_rss_mb(["corpus", "inspect", "--kind", "guideline_pdf", str(bomb)])
    (record,) = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert code == 1 and record["file"] == str(bomb)
    assert "needs more than the 1024 MB allowed, or PDFium crashed on it" in record["error"], record
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"


def test_pdf_extraction_that_runs_too_long_is_stopped(tmp_path):
    from meditron.corpus.cleaners.pdf import PdfError
    from meditron.corpus.cleaners.pdf_worker import pdf_to_text_isolated
    from tests.corpus.pdf_fixtures import Section, guideline_pdf

    data = guideline_pdf("Title of a guideline", [Section("1. Scope", ["Text of the scope section."])])
    with pytest.raises(PdfError, match=r"^slow\.pdf: reading the PDF took over 0\.001 s; stopped$"):
        pdf_to_text_isolated(data, name="slow.pdf", timeout_s=0.001)
    assert pdf_to_text_isolated(data, name="ok.pdf").title == "Title of a guideline"
