"""MedlineReader: abstracts, latest-version-wins, DeleteCitation, quarantine; on fixtures and NLM's real files."""

from __future__ import annotations

import gzip
import shutil
from collections import Counter
from pathlib import Path

import pytest

from meditron.corpus.config import SourceConfig
from meditron.corpus.readers import build_reader
from meditron.corpus.readers.medline import DELETED, NO_ABSTRACT, SUPERSEDED, MedlineIndex, MedlineReader
from tests.testing import SHARED_DATA, requires_shared_data

FIXTURES = Path(__file__).parent / "fixtures" / "medline"
REAL = SHARED_DATA / "pubmed" / "medline"


def read(paths, **kw) -> list:
    return list(MedlineReader([str(p) for p in paths], source="abstracts", **kw)())


def _update_files(tmp_path: Path) -> list[Path]:
    """The two fixture update files, the second gzipped as NLM ships them."""
    first = tmp_path / "pubmed25n0001.xml"
    shutil.copy(FIXTURES / "pubmed25n0001.xml", first)
    second = tmp_path / "pubmed25n0002.xml.gz"
    second.write_bytes(gzip.compress((FIXTURES / "pubmed25n0002.xml").read_bytes()))
    return [second, first]  # deliberately unsorted: the reader sorts by name


def test_latest_version_wins_and_delete_citation(tmp_path):
    docs = read(_update_files(tmp_path))
    summary = [(d.id, d.metadata.get("drop_reason")) for d in docs]
    assert summary == [
        ("pmid1001@pubmed25n0001.xml#0", DELETED),
        ("pmid1002@pubmed25n0001.xml#1", SUPERSEDED),
        ("pmid1003", NO_ABSTRACT),
        ("pmid1002", None),
        ("pmid1004", None),
    ]
    kept = {d.id: d for d in docs if "drop_reason" not in d.metadata}
    assert kept["pmid1002"].text == "Revised abstract on sleep.\n\nVersion two text about sleep and shift work."
    assert kept["pmid1004"].metadata["language"] == "spa"


def test_structured_abstract_and_metadata():
    docs = read([FIXTURES / "pubmed25n0001.xml"])
    first = docs[0]
    assert first.id == "pmid1001" and "drop_reason" not in first.metadata  # alone, nothing deletes it
    assert first.text == (
        "Salt intake and blood pressure.\n\n"
        "BACKGROUND: Salt raises blood pressure.\nRESULTS: Pressure fell by 5 mm Hg with less salt."
    )
    m = first.metadata
    assert (m["pmid"], m["pmcid"], m["doi"], m["year"]) == ("1001", "PMC7000001", "10.0000/jim.1001", 2020)
    assert (m["journal"], m["language"], m["structured_abstract"]) == ("Journal of Invented Medicine", "eng", True)
    assert (m["publication_types"], m["mesh_terms"]) == (["Journal Article"], ["Hypertension"])
    assert (m["source"], m["kind"]) == ("abstracts", "medline")
    assert docs[1].metadata["year"] == 2019  # <MedlineDate>2019 Jan-Feb</MedlineDate>


def test_old_medline_citation_set_format():
    (doc,) = read([FIXTURES / "medline_citationset.xml"])
    assert doc.id == "pmid2001"
    assert (
        doc.text == "Hand washing in clinics.\n\nOBJECTIVE: To measure hand hygiene.\nCONCLUSIONS: Hygiene improved."
    )


def test_same_pmid_twice_in_one_file(tmp_path):
    xml = (FIXTURES / "pubmed25n0002.xml").read_text()
    record = xml[xml.index("<PubmedArticle>") : xml.index("</PubmedArticle>") + len("</PubmedArticle>")]
    (tmp_path / "dup.xml").write_text(xml.replace(record, record + record.replace("Revised", "Re-revised")))
    docs = read([tmp_path / "dup.xml"])
    assert [(d.id, d.metadata.get("drop_reason")) for d in docs[:2]] == [
        ("pmid1002@dup.xml#0", SUPERSEDED),
        ("pmid1002", None),
    ]
    assert docs[1].text.startswith("Re-revised abstract on sleep.")


def test_truncated_and_broken_files_quarantine_without_losing_earlier_records(tmp_path):
    data = (FIXTURES / "pubmed25n0001.xml").read_bytes()
    cut = data.index(b"<PubmedArticle>", data.index(b"</PubmedArticle>")) + 40  # inside the second record
    (tmp_path / "a_truncated.xml.gz").write_bytes(gzip.compress(data[:cut]))
    (tmp_path / "b_badgzip.xml.gz").write_bytes(gzip.compress(data)[:200])
    (tmp_path / "c_entity.xml").write_text(
        "<PubmedArticleSet><PubmedArticle>&undeclared;</PubmedArticle></PubmedArticleSet>"
    )
    docs = read([tmp_path])
    assert docs[0].id == "pmid1001" and docs[0].text.startswith("Salt intake")
    quarantined = [d.metadata["quarantined"] for d in docs if "quarantined" in d.metadata]
    assert [Path(q["file"]).name for q in quarantined] == ["a_truncated.xml.gz", "b_badgzip.xml.gz", "c_entity.xml"]
    assert quarantined[0]["position"] == 1 and "records after #1 lost" in quarantined[0]["error"]
    assert "Entity 'undeclared' not defined (line 1)" in quarantined[2]["error"]
    assert all(d.text == "" for d in docs if "quarantined" in d.metadata)


def test_index_is_compact_and_shared_by_all_tasks(tmp_path):
    files = sorted(_update_files(tmp_path), key=lambda p: p.name)
    index = MedlineIndex(files)
    assert (index.num_events, index.num_deletions) == (7, 2)
    assert index.pmids.dtype.itemsize == 8 and list(index.pmids) == [1001, 1002, 1003, 1004]
    reader = build_reader(SourceConfig(name="abstracts", kind="medline", paths=[str(tmp_path)]))
    by_rank = [[d.id for d in reader(rank=r, world_size=2)] for r in range(2)]
    # each task reads its own files but knows about every file's versions
    assert by_rank == [
        ["pmid1001@pubmed25n0001.xml#0", "pmid1002@pubmed25n0001.xml#1", "pmid1003"],
        ["pmid1002", "pmid1004"],
    ]


# ------------------------------------------------------------------------------------------------ NLM's real files
@requires_shared_data
def test_medline16n0902_yields_604_citations_and_its_deletion_removes_none():
    path = REAL / "medline16n0902.xml.gz"
    docs = read([path])
    assert len(docs) == 604 and not [d for d in docs if "quarantined" in d.metadata]
    # its one <DeleteCitation> names PMID 26432306, which is not among the file's 604 citations
    assert "26432306" not in {d.metadata["pmid"] for d in docs}
    index = MedlineIndex([path])
    assert (index.num_events, index.num_deletions, int(index.deleted.sum())) == (605, 1, 0)
    reasons = Counter(d.metadata.get("drop_reason") for d in docs)
    assert reasons == Counter({None: 526, NO_ABSTRACT: 78})
    assert len({d.id for d in docs}) == 604
    first = docs[0]
    assert first.id == "pmid17942999"
    assert "\nPURPOSE: An auditory electrophysiological study was conducted" in first.text
    assert first.metadata["mesh_terms"][:2] == ["Acoustic Stimulation", "Adult"]


@requires_shared_data
def test_every_real_medline_file_parses_with_labels():
    docs = read([REAL])
    assert len(docs) == 609 and not [d for d in docs if "quarantined" in d.metadata]
    (nejm,) = [d for d in docs if d.id == "pmid29768149"]
    assert nejm.text.startswith("Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma.\n\nBACKGROUND: ")
    assert "\nMETHODS: We conducted a 52-week, double-blind trial" in nejm.text
    assert "\nCONCLUSIONS: In patients with mild asthma" in nejm.text
    assert (
        nejm.metadata["doi"] == "10.1056/NEJMoa1715274"
        and "Randomized Controlled Trial" in nejm.metadata["publication_types"]
    )
    current = [d for d in docs if d.metadata["file_path"].endswith("test_current_medline.xml.gz")]
    assert [d.metadata["pmid"] for d in current][:1] == ["36400559"] and len(current) == 4


def test_pubmed_book_article(tmp_path):
    (tmp_path / "books.xml").write_text(
        '<PubmedArticleSet><PubmedBookArticle><BookDocument><PMID Version="1">3001</PMID>'
        "<Book><BookTitle>Invented Reviews</BookTitle><PubDate><Year>2022</Year></PubDate></Book>"
        "<ArticleTitle>Gout: an overview</ArticleTitle><Language>eng</Language>"
        '<Abstract><AbstractText Label="SUMMARY">Gout is inflammatory arthritis.</AbstractText></Abstract>'
        "</BookDocument></PubmedBookArticle></PubmedArticleSet>"
    )
    (doc,) = read([tmp_path / "books.xml"])
    assert (doc.id, doc.text) == ("pmid3001", "Gout: an overview\n\nSUMMARY: Gout is inflammatory arthritis.")
    assert doc.metadata["year"] == 2022 and "drop_reason" not in doc.metadata


def test_embedded_sample_parses():
    from meditron.sample import SAMPLE_DIR

    folder = SAMPLE_DIR / "pubmed" / "medline"
    if not folder.exists():
        pytest.skip("embedded sample has no pubmed/medline yet")
    docs = read([folder])
    assert docs and not [d for d in docs if "quarantined" in d.metadata]
    kept = [d for d in docs if "drop_reason" not in d.metadata]
    assert kept and all(d.metadata["pmid"].isdigit() and d.text for d in kept)
    assert len({d.id for d in docs}) == len(docs)


def test_record_without_pmid_is_quarantined_and_does_not_shadow_the_next(tmp_path):
    xml = (FIXTURES / "pubmed25n0002.xml").read_text()
    broken = "<PubmedArticle><MedlineCitation><Article><ArticleTitle>No id</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    (tmp_path / "noid.xml").write_text(xml.replace("<PubmedArticleSet>", "<PubmedArticleSet>" + broken, 1))
    docs = read([tmp_path / "noid.xml"])
    assert docs[0].metadata["quarantined"]["error"] == "ValueError: citation has no numeric PMID (got '')"
    assert [(d.id, d.metadata.get("drop_reason")) for d in docs[1:]] == [("pmid1002", None), ("pmid1004", None)]


def test_runs_inside_a_datatrove_executor(tmp_path):
    """The reader is a real datatrove step: 2 tasks, each writes its share; together every record, once."""
    import json as _json

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    (tmp_path / "in").mkdir()
    files = _update_files(tmp_path / "in")
    reader = build_reader(SourceConfig(name="abstracts", kind="medline", paths=[str(f) for f in files]))
    executor = LocalPipelineExecutor(
        pipeline=[reader, JsonlWriter(str(tmp_path / "out"), compression=None)],
        tasks=2,
        workers=1,
        logging_dir=str(tmp_path / "logs"),
    )
    executor.run()
    rows = [
        _json.loads(line) for f in sorted((tmp_path / "out").glob("*.jsonl")) for line in f.read_text().splitlines()
    ]
    assert sorted((r["id"], r["metadata"].get("drop_reason")) for r in rows) == [
        ("pmid1001@pubmed25n0001.xml#0", DELETED),
        ("pmid1002", None),
        ("pmid1002@pubmed25n0001.xml#1", SUPERSEDED),
        ("pmid1003", NO_ABSTRACT),
        ("pmid1004", None),
    ]
