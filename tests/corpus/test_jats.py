"""JatsReader + JATS cleaner: MEDITRON-shaped text from our fixtures and from real PMC files."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

import pytest

from meditron.corpus.cleaners.jats import normalise_license
from meditron.corpus.config import MarkupConfig, SourceConfig
from meditron.corpus.readers import build_reader
from meditron.corpus.readers.jats import JatsReader
from meditron.errors import InputError
from tests.testing import SHARED_DATA, requires_shared_data

FIXTURES = Path(__file__).parent / "fixtures" / "jats"
THYROID = FIXTURES / "thyroid_jats11.nxml"
REAL_JATS = SHARED_DATA / "pubmed" / "jats"

THYROID_TEXT = """Iodine intake and subclinical hypothyroidism in a rural cohort

# Abstract

## Background

Iodine deficiency remains a cause of goitre worldwide.

## Methods

We followed 412 adults for five years.

# Introduction

Thyroid hormone synthesis depends on dietary iodine [bib_ref] Dietary iodine and thyroid function across the \
lifespan in twelve independent population, Abernathy [/bib_ref], [bib_ref] Textbook of Goitre, Brightwater [/bib_ref] \
[bib_ref] World Thyroid Council. Annual iodine report 2010 [/bib_ref].

# Methods

## Participants

Serum TSH was measured at baseline ([fig_ref]Figure 1: TSH by intake quartile. Boxes show medians[/fig_ref]; \
[fig_ref]Table 1: Baseline characteristics[/fig_ref]).

- adults aged 18 to 65 years
- no prior thyroid surgery

## Model

Incidence was modelled as

[formula] r=(k)/(n) [/formula]

with a dose term [formula] \\beta_1 x [/formula] per microgram.

# Results

Subclinical hypothyroidism was twice as common in the lowest intake quartile.

[fig] Figure 1 TSH by intake quartile. Boxes show medians. [/fig]

[table] Table 1 Baseline characteristics. [/table]"""


def read(paths, source="papers") -> list:
    return list(JatsReader([str(p) for p in paths], source=source)())


def test_fixture_renders_exact_meditron_layout():
    (doc,) = read([THYROID])
    assert doc.text == THYROID_TEXT
    assert doc.id == "pmc9900001"
    m = doc.metadata
    assert (m["pmid"], m["pmcid"], m["doi"]) == ("90000001", "PMC9900001", "10.0000/tje.2024.001")
    assert (m["journal"], m["year"], m["article_type"]) == ("Test Journal of Endocrinology", 2024, "research-article")
    assert m["license"] == "CC BY-NC" and m["license_url"] == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert (m["source"], m["kind"], m["num_bib_refs"]) == ("papers", "jats", 3)


def test_removed_parts_are_absent():
    (doc,) = read([THYROID])
    for absent in ("Zorbaugh", "Quillfeather", "petra@example.org", "footnote", "nurses", "SECRET-CELL", "J Thyroid",
                   "None declared", "PZ wrote"):  # fmt: skip
        assert absent not in doc.text


def test_articleset_nlm23_citation_and_empty_article_quarantined():
    docs = read([FIXTURES / "articleset_nlm23.xml"])
    assert len(docs) == 2
    ok, bad = docs
    assert ok.id == "jats-pmid90000002"  # no PMCID: never collides with the abstract id pmid90000002
    assert ok.text.endswith("after starting a beta blocker [bib_ref] Drug-induced bradycardia, Okonkwo [/bib_ref].")
    assert ok.metadata["license"] == "CC BY"  # NLM 2.x copyright statement in article-meta
    assert bad.text == "" and bad.metadata["quarantined"]["position"] == 1
    assert "no abstract and no body" in bad.metadata["quarantined"]["error"]


def test_gzip_and_tar_bundle(tmp_path):
    gz = tmp_path / "a.nxml.gz"
    gz.write_bytes(gzip.compress(THYROID.read_bytes()))
    bundle = tmp_path / "oa_bundle.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in (("PMC9900001/paper.nxml", THYROID.read_bytes()), ("PMC9900001/figure.jpg", b"\xff\xd8")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    docs = read([gz, bundle])
    assert [d.text for d in docs] == [THYROID_TEXT, THYROID_TEXT]
    assert docs[1].metadata["file_path"].endswith("oa_bundle.tar.gz:PMC9900001/paper.nxml")  # sorted by name


def test_truncated_file_and_undeclared_entity_are_quarantined(tmp_path):
    (tmp_path / "truncated.nxml").write_bytes(THYROID.read_bytes()[:1500])
    (tmp_path / "entity.nxml").write_text(
        "<article><front><article-meta><title-group><article-title>T</article-title></title-group>"
        "</article-meta></front><body><p>x &bogus; y</p></body></article>"
    )
    (tmp_path / "dtd_entity.nxml").write_text(
        '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS//EN" "JATS.dtd"><article><body><p>a &notachar; b</p></body></article>'
    )
    (tmp_path / "not_jats.xml").write_text("<html><body>hi</body></html>")
    docs = read([tmp_path])
    errors = {Path(d.metadata["quarantined"]["file"]).name: d.metadata["quarantined"]["error"] for d in docs}
    assert all(d.text == "" for d in docs) and len(docs) == 4
    assert "Premature end" in errors["truncated.nxml"] or "Couldn't find end" in errors["truncated.nxml"]
    assert "bogus" in errors["entity.nxml"]
    assert "undeclared entity &notachar;" in errors["dtd_entity.nxml"]
    assert "root element <html>" in errors["not_jats.xml"]


def test_known_dtd_entity_is_mapped(tmp_path):
    (tmp_path / "ok.nxml").write_text(
        '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS//EN" "JATS.dtd"><article><body>'
        "<p>dose &ge; 5&nbsp;mg &mdash; daily</p></body></article>"
    )
    (doc,) = read([tmp_path / "ok.nxml"])
    assert doc.text == "dose ≥ 5 mg — daily"


def test_build_reader_shards_files_over_tasks(tmp_path):
    for i in range(3):
        (tmp_path / f"p{i}.nxml").write_bytes(THYROID.read_bytes().replace(b"9900001", f"990000{i}5".encode()))
    reader = build_reader(SourceConfig(name="papers", kind="jats", paths=[str(tmp_path / "*.nxml")]))
    ids = [[d.id for d in reader(rank=r, world_size=2)] for r in range(2)]
    assert ids == [["pmc99000005", "pmc99000025"], ["pmc99000015"]]
    with pytest.raises(InputError, match="does not exist"):
        build_reader(SourceConfig(name="papers", kind="jats", paths=[str(tmp_path / "missing")]))


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ("http://creativecommons.org/licenses/by/4.0/", "CC BY"),
        ("https://creativecommons.org/licenses/by-nc-nd/3.0/", "CC BY-NC"),
        ("http://creativecommons.org/publicdomain/zero/1.0/", "CC0/public domain"),
        ("This article is in the public domain.", "CC0/public domain"),
        ("https://creativecommons.org/licenses/by-sa/4.0/", "other"),
        ("Copyright 2010 Cancer Research UK", "other"),
        ("", None),
    ],
)
def test_license_normalisation(evidence, expected):
    assert normalise_license(evidence) == expected


# ------------------------------------------------------------------------------------------------ real PMC articles
@requires_shared_data
def test_every_real_jats_article_parses_with_real_content():
    docs = {d.id: d for d in read([REAL_JATS])}
    assert sorted(docs) == ["pmc1790863", "pmc2329613", "pmc2599765", "pmc2994229", "pmc3363814", "pmc3585041"]
    assert not [d for d in docs.values() if "quarantined" in d.metadata]
    for doc in docs.values():
        headers = [line for line in doc.text.split("\n") if line.startswith("#")]
        assert headers and all(re.match(r"^#{1,2} \S", h) for h in headers), doc.id
        assert doc.metadata["pmcid"] == "PMC" + doc.id[3:]


@requires_shared_data
def test_real_article_body_citations_and_removed_parts():
    (doc,) = read([REAL_JATS / "ehp-116-1694.nxml"])
    text = doc.text
    assert text.startswith("Dietary Exposure to 2,2′,4,4′-Tetrabromodiphenyl Ether (PBDE-47) Alters Thyroid Status")
    assert (
        "Minnows exposed to PBDE-47 had depressed plasma thyroxine (T4), but not 3,5,3′-triiodothyronine (T3)." in text
    )
    assert "\n# Materials and Methods\n" in text and "\n## Animals and housing\n" in text
    assert "[bib_ref] Brominated flame retardants: cause for concern?, Birnbaum [/bib_ref]" in text
    # App. B.2: the reference carries the figure's label and its caption cut to 12 words
    assert ("exposure (p = 0.002; [fig_ref]Figure 1: Exposure to PBDE-47 depressed circulating concentrations of total "
            "T4 in males and[/fig_ref]" in text)
    assert "[fig] Figure 1 Exposure to PBDE-47 depressed circulating concentrations of total T4" in text
    # reference list, affiliations and e-mail are gone; licence read from <license xlink:href=…publicdomain…>
    assert "Environ Health Perspect" not in text.split("# Abstract")[1]
    assert "Mid-Continent Ecology Division" not in text and "@" not in text
    assert doc.metadata["license"] == "CC0/public domain" and doc.metadata["year"] == 2008


@requires_shared_data
def test_real_licences_and_nlm23_articles():
    licences = {d.id: d.metadata["license"] for d in read([REAL_JATS])}
    assert licences == {
        "pmc2329613": "CC BY",
        "pmc2994229": "other",
        "pmc3363814": "CC BY",
        "pmc2599765": "CC0/public domain",
        "pmc3585041": "CC BY",
        "pmc1790863": "CC BY",
    }
    (doc,) = read([REAL_JATS / "1472-6831-8-11.nxml"])  # NLM DTD 2.3
    assert "[bib_ref] Measuring oral health: a conceptual framework, Locker [/bib_ref]" in doc.text
    assert "\n## Translation into Dutch\n" in doc.text
    assert "Pre-publication history" not in doc.text and "Authors' contributions" not in doc.text


def test_boxed_text_keeps_its_title(tmp_path):
    (tmp_path / "box.nxml").write_text(
        "<article><body><p>Intro.</p><boxed-text><caption><title>Key points</title></caption>"
        "<list><list-item><p>one</p></list-item><list-item><p>two</p></list-item></list></boxed-text></body></article>"
    )
    (doc,) = read([tmp_path / "box.nxml"])
    assert doc.text == "Intro.\n\nKey points\n\n- one\n- two"


def test_embedded_sample_parses():
    from meditron.sample import SAMPLE_DIR

    folder = SAMPLE_DIR / "pubmed" / "jats"
    if not folder.exists():
        pytest.skip("embedded sample has no pubmed/jats yet")
    docs = read([folder])
    assert docs and not [d for d in docs if "quarantined" in d.metadata]
    assert all(d.text and d.id.startswith("pmc") and d.metadata["license"] for d in docs)
    assert len({d.id for d in docs}) == len(docs)


def test_big_files_stream_article_by_article_with_the_same_output(tmp_path):
    articleset = FIXTURES / "articleset_nlm23.xml"
    whole = [(d.id, d.text, d.metadata.get("quarantined")) for d in read([articleset])]
    streaming = JatsReader([str(articleset)], source="papers")
    streaming.stream_threshold_bytes = 0  # every file counts as big
    assert [(d.id, d.text, d.metadata.get("quarantined")) for d in streaming()] == whole

    gz = tmp_path / "set.xml.gz"
    gz.write_bytes(gzip.compress(articleset.read_bytes()[:-200]))  # truncated inside the second article
    (tmp_path / "other.xml").write_text("<html><body><p>not a paper</p></body></html>")
    streaming = JatsReader([str(tmp_path)], source="papers")
    streaming.stream_threshold_bytes = 0
    other, first, broken = streaming()
    assert "root element <html>" in other.metadata["quarantined"]["error"]
    assert first.id == "jats-pmid90000002" and first.text == whole[0][1]
    assert broken.metadata["quarantined"]["position"] == 1
    assert "articles after #1 lost" in broken.metadata["quarantined"]["error"]


@requires_shared_data
def test_real_article_upper_case_markup_like_the_paper():
    """corpus.markup.case=upper writes the paper's spelling everywhere (references, captions, formulas, citations)."""
    markup = MarkupConfig(case="upper", caption_words=5)
    reader = build_reader(SourceConfig(name="papers", kind="jats", paths=[str(REAL_JATS / "ehp-116-1694.nxml")]),
                          markup=markup)
    (doc,) = list(reader())
    assert "exposure (p = 0.002; [FIG_REF]Figure 1: Exposure to PBDE-47 depressed circulating[/FIG_REF]" in doc.text
    assert "[FIG] Figure 1 Exposure to PBDE-47" in doc.text
    assert "[BIB_REF] Brominated flame retardants: cause for concern?, Birnbaum [/BIB_REF]" in doc.text
    assert not re.search(r"\[/?(bib_ref|fig_ref|fig|table|formula)\]", doc.text)
    assert markup.special_tokens[:4] == ("[BIB_REF]", "[/BIB_REF]", "[FIG_REF]", "[/FIG_REF]")


def test_figure_reference_without_a_resolvable_float_keeps_its_text(tmp_path):
    """An xref whose rid names no figure/table keeps its own text; one rid per float when it names several."""
    (tmp_path / "a.nxml").write_text(
        '<article><front><article-meta><title-group><article-title>T</article-title></title-group></article-meta>'
        '</front><body><p>See <xref ref-type="fig" rid="nope">Figure 9B</xref> and <xref ref-type="fig" '
        'rid="f1 t1">Figures 1 and 2</xref>.</p><fig id="f1"><label>Figure 1.</label><caption><title>One two '
        'three.</title></caption></fig><table-wrap id="t1"><caption><p>No label here</p></caption></table-wrap>'
        '</body></article>'
    )
    (doc,) = read([tmp_path / "a.nxml"])
    assert doc.text.splitlines()[2] == (
        "See [fig_ref]Figure 9B[/fig_ref] and [fig_ref]Figure 1: One two three[/fig_ref] "
        "[fig_ref]No label here[/fig_ref]."
    )
