"""Guideline readers: MEDITRON JSONL rows, HTML and Markdown files, and the real CDC pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meditron.corpus.config import SourceConfig
from meditron.corpus.readers import build_reader
from meditron.corpus.readers.guideline import DUPLICATE, EMPTY, GuidelineFileReader, GuidelineJsonlReader
from meditron.errors import ConfigError
from tests.testing import SHARED_DATA, requires_shared_data

FIXTURES = Path(__file__).parent / "fixtures" / "guidelines"
CDC_DIR = SHARED_DATA / "guidelines" / "cdc_mmwr_html"
MOJIBAKE = re.compile("[\u0080-\u009f]|â€|Ã[\u00a0-\u00bf]|Â[\u00a0-\u00bf]|\ufffd")


def test_jsonl_rows_quarantine_duplicates_and_clean_text():
    docs = list(GuidelineJsonlReader([str(FIXTURES / "meditron_rows.jsonl")], source="guidelines")())
    summary = [
        (d.id, d.metadata.get("drop_reason"), (d.metadata.get("quarantined") or {}).get("position")) for d in docs
    ]
    assert summary == [
        ("guidelines-aom-0001", None, None),
        ("guidelines-htn-0002", None, None),
        (f"{FIXTURES / 'meditron_rows.jsonl'}#line 3", None, "line 3"),
        ("guidelines-aom-copy-0004", DUPLICATE, None),
        (f"{FIXTURES / 'meditron_rows.jsonl'}#line 5", None, "line 5"),
    ]
    aom, htn = docs[0], docs[1]
    assert aom.text == (
        "# Management of Acute Otitis Media in Children\n\n"
        "Acute otitis media is common in children. See the summary table for doses.\nMore at or\n\n"
        "## Antibiotic choice\n- Amoxicillin is first line.\n- Cefdinir if penicillin allergic.\n"
        "often a watchful waiting approach is reasonable for mild cases.\n\n"
        "Follow-up & review after 48 hours."
    )
    assert htn.text.startswith("# Hypertension in adults\n\nMeasure blood pressure")  # clean_text preferred
    assert (aom.metadata["url"], aom.metadata["guideline_source"]) == ("https://example.org/aom", "example")
    assert (aom.metadata["source"], aom.metadata["kind"]) == ("guidelines", "guideline_jsonl")
    assert "JSONDecodeError" in docs[2].metadata["quarantined"]["error"]


def test_html_file_windows_1252_generic_rules():
    (doc,) = GuidelineFileReader([str(FIXTURES / "fever_cp1252.html")], source="peds", fmt="html")()
    assert doc.id == "peds-fever_cp1252"
    assert doc.text == (
        "# Fever in infants – guidance\n\n"
        "Infants aged <28 days with fever need a full sepsis evaluation. The “step-by-step” approach is café-simple.\n\n"
        "## Key points\n\n- Measure temperature rectally.\n- Obtain blood and urine cultures."
    )
    assert (doc.metadata["encoding"], doc.metadata["title"]) == ("cp1252", "Fever in infants – guidance")


def test_markdown_file_setext_and_stop_heading(tmp_path):
    (tmp_path / "empty.md").write_text("----\n\n1234\n")
    reader = build_reader(SourceConfig(name="plans", kind="guideline_markdown", paths=[str(FIXTURES), str(tmp_path)]))
    docs = list(reader())
    assert [d.id for d in docs] == ["plans-asthma_plan", "plans-empty"]
    assert docs[0].text == (
        "# Guideline: Asthma action plans\n\n"
        "Every patient with asthma should receive a written action plan.\n\n"
        "- Green zone: usual medicines.\n- Yellow zone: add reliever, see your clinician."
    )
    assert docs[1].metadata["drop_reason"] == EMPTY and docs[1].text == ""


def test_unknown_site_fails_at_construction():
    with pytest.raises(ConfigError, match="unknown guideline site"):
        build_reader(SourceConfig(name="g", kind="guideline_html", paths=[str(FIXTURES)], site="nowhere"))


def test_unknown_encoding_is_quarantined_and_unknown_charset_falls_back(tmp_path):
    (tmp_path / "a_binary.html").write_bytes(bytes(range(128, 256)) * 2)  # no encoding makes text of this
    (tmp_path / "b_klingon.html").write_bytes(b'<meta charset="x-klingon"><h1>Caf\xe9 guidance</h1><p>Text.</p>')
    bad, ok = GuidelineFileReader([str(tmp_path)], source="g", fmt="html")()
    assert bad.text == "" and bad.metadata["quarantined"] == {
        "file": str(tmp_path / "a_binary.html"),
        "position": 0,
        "error": "UnknownEncodingError: cannot detect the text encoding",
    }
    assert (ok.text, ok.metadata["encoding"]) == ("# Café guidance\n\nText.", "cp1252")


# ---------------------------------------------------------------------------------------------- real CDC pages
@requires_shared_data
def test_cdc_acip_hepatitis_b_guideline_rr5416a1():
    (doc,) = GuidelineFileReader([str(CDC_DIR / "mmwr_preview_mmwrhtml_rr5416a1.htm")], source="cdc", site="cdc")()
    text = doc.text
    assert text.startswith(
        "# A Comprehensive Immunization Strategy to Eliminate Transmission of Hepatitis B Virus Infection in the "
        "United States Recommendations of the Advisory Committee on Immunization Practices (ACIP) Part 1:"
    )
    # no navigation, no URLs, no author block, no mojibake
    for absent in ("Skip Navigation", "Safer Healthier People", "Persons using assistive technology", "Errata",
                   "Prepared by", "emast@cdc.gov", "http", "www.", ".htm", "mmwrq"):  # fmt: skip
        assert absent not in text, absent
    assert not MOJIBAKE.search(text)
    # headings and lists kept; citation numbers "(1)" dropped; stops before Acknowledgments/References
    for heading in ("## Summary", "## Strategy to Eliminate Hepatitis B Virus Transmission", "## Background",
                    "### Clinical Features and Natural History of HBV Infection", "### Postexposure Prophylaxis"):  # fmt: skip
        assert f"\n{heading}\n" in text, heading
    assert len(re.findall(r"^- ", text, re.MULTILINE)) >= 50
    assert "- States are encouraged to expand or implement immunization registries to include adolescents." in text
    assert "reported cases of hepatitis B occurred in children aged <10 years. Chronically infected" in text
    assert "Review of this report was provided" not in text and "West DJ, Margolis HS" not in text
    assert doc.metadata["encoding"] == "cp1252" and 55_000 < len(text) < 70_000


@requires_shared_data
def test_every_cdc_page_is_clean_and_utf8_pages_lose_their_mojibake():
    reader = build_reader(SourceConfig(name="cdc", kind="guideline_html", paths=[str(CDC_DIR)], site="cdc"))
    docs = {d.id: d for d in reader()}
    assert len(docs) == 10 and not [d for d in docs.values() if "quarantined" in d.metadata]
    for doc in docs.values():
        assert doc.text.startswith("# ") and "drop_reason" not in doc.metadata, doc.id
        assert not MOJIBAKE.search(doc.text), doc.id
        assert not re.search(r"https?://|www\.", doc.text), doc.id
        assert "Article Metrics" not in doc.text and "On This Page" not in doc.text, doc.id
    raw = (CDC_DIR / "mmwr_volumes_71_wr_mm7153a1.htm").read_bytes().decode("utf-8")
    assert "COVID-19\u00e2\u0080\u0093Associated" in raw  # the page really is double-encoded
    covid = docs["cdc-mmwr_volumes_71_wr_mm7153a1"]
    assert covid.metadata["encoding"] == "utf-8" and "Tenforde" not in covid.text  # author line dropped
    assert covid.text.startswith(
        "# Early Estimates of Bivalent mRNA Vaccine Effectiveness in Preventing COVID-19–Associated"
    )


@pytest.mark.parametrize(("kind", "path", "site"), [
    ("guideline_jsonl", "sample:guidelines/guidelines.jsonl", None),
    ("guideline_html", "sample:guidelines/html", "generic"),
])  # fmt: skip
def test_embedded_sample_parses(kind, path, site):
    from meditron.sample import SAMPLE_DIR

    if not (SAMPLE_DIR / path.removeprefix("sample:")).exists():
        pytest.skip(f"embedded sample has no {path} yet")
    docs = list(build_reader(SourceConfig(name="guidelines", kind=kind, paths=[path], site=site))())
    assert docs and not [d for d in docs if "quarantined" in d.metadata]
    for doc in docs:
        assert doc.text and not re.search(r"https?://|www\.", doc.text) and not MOJIBAKE.search(doc.text), doc.id


def test_rerunning_a_reader_gives_the_same_documents():
    import pickle

    reader = GuidelineJsonlReader([str(FIXTURES / "meditron_rows.jsonl")], source="guidelines")
    first = [(d.id, d.text, d.metadata) for d in reader()]
    again = [(d.id, d.text, d.metadata) for d in reader()]
    copied = [(d.id, d.text, d.metadata) for d in pickle.loads(pickle.dumps(reader))()]  # as executors ship steps
    assert first == again == copied
    assert [m.get("drop_reason") for _, _, m in first].count(DUPLICATE) == 1


def test_pdf_folder_one_document_per_file_with_every_failure_named(tmp_path):
    """``kind: guideline_pdf`` on a team's own folder of guideline PDFs (or a downloaded set such as ICRC's)."""
    from meditron.corpus.readers.guideline import NO_TEXT_LAYER
    from tests.corpus.pdf_fixtures import DAMAGED_PDF, Section, guideline_pdf, scanned_pdf

    sentence = ("Give oral rehydration solution to children with some dehydration, 75 ml/kg over four hours, and"
                " reassess their hydration status every hour until the deficit is corrected.")
    (tmp_path / "ors.pdf").write_bytes(guideline_pdf("Management of diarrhoea in children",
                                                     [Section("1. Rehydration", [sentence]),
                                                      Section("2. Zinc", ["Give zinc for 10 to 14 days."])],
                                                     running_header="Ministry of Health - clinical guideline"))
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    (tmp_path / "cut.pdf").write_bytes(DAMAGED_PDF)
    (tmp_path / "notes.txt").write_text("not a PDF: not read by this kind")
    reader = build_reader(SourceConfig(name="own", kind="guideline_pdf", paths=[str(tmp_path)]))
    docs = {d.id: d for d in reader()}
    assert sorted(docs) == [f"{tmp_path / 'cut.pdf'}#0", "own-ors", "own-scan"]
    ors = docs["own-ors"]
    assert ors.text == (f"# Management of diarrhoea in children\n\n1. Rehydration\n\n{sentence}\n\n2. Zinc\n\n"
                        "Give zinc for 10 to 14 days.")
    assert (ors.metadata["title"], ors.metadata["pages"], ors.metadata["kind"]) == (
        "Management of diarrhoea in children", 2, "guideline_pdf")
    assert "drop_reason" not in ors.metadata
    assert (docs["own-scan"].text, docs["own-scan"].metadata["drop_reason"]) == ("", NO_TEXT_LAYER)
    assert "damaged or unreadable PDF" in docs[f"{tmp_path / 'cut.pdf'}#0"].metadata["quarantined"]["error"]


def test_corpus_run_accounts_for_every_pdf(tmp_path):
    """``meditron corpus run`` with a ``guideline_pdf`` source: kept, dropped (scan) and quarantined (damaged)."""
    import json

    import yaml
    from typer.testing import CliRunner

    from meditron.cli import app
    from tests.corpus.download.guideline_sites import _pdf
    from tests.corpus.pdf_fixtures import DAMAGED_PDF, scanned_pdf

    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    (pdfs / "hand-hygiene.pdf").write_bytes(_pdf("Hand hygiene in outpatient care", "Alcohol-based hand rub is the"
                                                 " preferred method of hand hygiene when hands are not visibly soiled."))
    (pdfs / "tpt.pdf").write_bytes(_pdf("Tuberculosis preventive treatment", "Six months of daily isoniazid is a"
                                        " recommended regimen of tuberculosis preventive treatment."))
    (pdfs / "scan.pdf").write_bytes(scanned_pdf())
    (pdfs / "cut.pdf").write_bytes(DAMAGED_PDF)
    config = tmp_path / "corpus.yaml"
    config.write_text(yaml.safe_dump({
        "name": "pdfs", "out_dir": str(tmp_path / "runs"),
        "corpus": {"tokenizer": "sample:tokenizer", "decontamination": {"benchmarks_dir": "sample:benchmarks"},
                   "sources": [{"name": "own", "kind": "guideline_pdf", "paths": [str(pdfs)],
                                "validation_share": 0.0}]},
    }))
    result = CliRunner().invoke(app, ["corpus", "run", "-c", str(config)])
    assert result.exit_code == 0, result.output
    (ledger,) = (tmp_path / "runs").rglob("ledger.jsonl")
    states = {r["id"]: (r["state"], r.get("reason")) for r in map(json.loads, ledger.read_text().splitlines())}
    assert states["own-hand-hygiene"][0] == "kept" and states["own-tpt"][0] == "kept"
    assert states["own-scan"] == ("dropped", "pdf-without-text")
    assert states[f"{pdfs / 'cut.pdf'}#0"][0] == "quarantined"
    assert len(states) == 4
