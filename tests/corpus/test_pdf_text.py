"""Guideline PDFs → paragraphs (``meditron.corpus.cleaners.pdf``), on real PDF files written by fpdf2: page furniture
removed, lines reflowed, split words joined, titles found, and every unreadable file named in a clear error."""

from __future__ import annotations

import pytest

from meditron.corpus.cleaners.pdf import PdfError, pdf_to_text
from tests.corpus.pdf_fixtures import DAMAGED_PDF, Section, guideline_pdf, locked_pdf, scanned_pdf

MEASURE = ("Clinicians should measure blood pressure in every adult at each visit using a validated device, and they "
           "should repeat the measurement when the first reading is high, before any diagnosis is made or recorded.")
TREAT = ("Offer drug treatment to adults whose blood pressure stays at or above 140/90 mmHg after the repeated "
         "measurements, and agree the target and the review interval with the person at the start of treatment.")
TITLE = "Guideline for the pharmacological treatment of hypertension in adults"
HEADER = "WHO guideline on hypertension, 2026"


def _sections() -> list[Section]:
    return [
        Section("1. Introduction", [MEASURE, TREAT]),
        Section("2. Recommendations", [TREAT], ["Offer a thiazide-like diuretic to adults with hypertension.",
                                                "Review adherence at every visit."]),
        Section("3. Monitoring", [MEASURE]),
    ]


def test_furniture_removed_and_lines_reflowed_into_paragraphs():
    data = guideline_pdf(TITLE, _sections(), running_header=HEADER, hyphenated=("anti", "coagulation"))
    pdf = pdf_to_text(data, name="who-htn.pdf")
    assert (pdf.title, pdf.num_pages, pdf.pages_read, pdf.truncated) == (TITLE, 3, 3, False)
    assert pdf.text.split("\n\n") == [
        TITLE,
        "1. Introduction", MEASURE, TREAT,
        "Patients who need long-term anticoagulation should be reviewed every year.",
        "2. Recommendations", TREAT,
        "- Offer a thiazide-like diuretic to adults with hypertension.",
        "- Review adherence at every visit.",
        "3. Monitoring", MEASURE,
    ]
    # the raw text keeps PDFium's lines, furniture included: nothing is lost before cleaning
    assert pdf.raw_text.count(HEADER) == 3 and "Page 2 of 3" in pdf.raw_text and "anti-\ncoagulation" in pdf.raw_text


def test_a_paragraph_cut_by_a_page_break_is_joined_again():
    long = " ".join([MEASURE, TREAT] * 14)  # longer than a page: fpdf2 breaks it where the page is full
    data = guideline_pdf(TITLE, [Section("1. Background", [long])], running_header=HEADER)
    pdf = pdf_to_text(data, name="long.pdf")
    assert pdf.num_pages == 2
    assert pdf.text.split("\n\n") == [TITLE, "1. Background", long]


def test_a_phrase_that_recurs_in_the_body_is_not_taken_for_a_running_line():
    # four pages laid out alike: the same sub-heading at the same height mid-page on every page
    names = ["Scope", "Diagnosis", "Treatment", "Monitoring"]
    sections = [Section(name, [MEASURE, "Good practice statement", TREAT]) for name in names]
    pdf = pdf_to_text(guideline_pdf(TITLE, sections, running_header=HEADER), name="recur.pdf")
    body = [[name, MEASURE, "Good practice statement", TREAT] for name in names]
    assert pdf.text.split("\n\n") == [TITLE] + [p for section in body for p in section]


def test_title_falls_back_to_the_first_line_when_the_metadata_names_a_file():
    data = guideline_pdf(TITLE, _sections(), metadata_title="Microsoft Word - HTN_final_v3.docx")
    assert pdf_to_text(data, name="x.pdf").title == TITLE
    data = guideline_pdf(TITLE, _sections(), metadata_title="")
    assert pdf_to_text(data, name="x.pdf").title == TITLE


def test_page_budget_cuts_and_says_so():
    pdf = pdf_to_text(guideline_pdf(TITLE, _sections()), name="x.pdf", max_pages=2)
    assert (pdf.num_pages, pdf.pages_read, pdf.truncated) == (3, 2, True)
    assert "3. Monitoring" not in pdf.text and "2. Recommendations" in pdf.text


def test_not_a_pdf_damaged_and_encrypted_files_are_named_errors():
    with pytest.raises(PdfError, match=r"^https://x/a\.pdf: not a PDF \(no %PDF- header; first bytes b'<html>"):
        pdf_to_text(b"<html>Access denied</html>", name="https://x/a.pdf")
    with pytest.raises(PdfError, match=r"^cut\.pdf: damaged or unreadable PDF"):
        pdf_to_text(DAMAGED_PDF, name="cut.pdf")
    with pytest.raises(PdfError, match=r"^locked\.pdf: the PDF is encrypted \(a password is required"):
        pdf_to_text(locked_pdf(), name="locked.pdf")


def test_a_scan_without_a_text_layer_gives_empty_text():
    pdf = pdf_to_text(scanned_pdf(), name="scan.pdf")
    assert (pdf.num_pages, pdf.text, pdf.title) == (1, "", "scan.pdf")


def test_two_columns_are_read_column_by_column_and_a_column_break_joins_its_paragraph():
    from fpdf import FPDF

    first, second = " ".join([MEASURE, TREAT, MEASURE]), " ".join([TREAT, MEASURE] * 10)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    with pdf.text_columns(ncols=2, gutter=8) as columns:  # the second paragraph runs from column 1 into column 2
        columns.write(text=first)
        columns.ln()
        columns.ln()
        columns.write(text=second)
    data = bytes(pdf.output())
    import pypdfium2 as pdfium

    from meditron.corpus.cleaners.pdf import page_lines

    lines = page_lines(pdfium.PdfDocument(data)[0].get_textpage())
    assert sum(line.new_column for line in lines) == 1 and lines[-1].left > 100  # it did reach column 2
    assert pdf_to_text(data, name="cols.pdf").text.split("\n\n") == [first, second]
