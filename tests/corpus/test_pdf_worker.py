"""The PDF child process (``meditron.corpus.cleaners.pdf_worker``): one child serves many files with the in-process
results; a file that crashes it, runs too long or is damaged costs that file only, and the next one is read."""

from __future__ import annotations

import pytest

from meditron.corpus.cleaners.pdf import PdfError, pdf_to_text
from meditron.corpus.cleaners.pdf_worker import PdfWorker
from tests.corpus.pdf_fixtures import DAMAGED_PDF, Section, guideline_pdf, pdf_bomb

PDFS = [guideline_pdf(f"Guideline {i}", [Section("1. Scope", [f"Scope of guideline {i}, for adults in care."]),
                                         Section("2. Advice", ["Review the plan every year with the person."])],
                      running_header="Health service guideline") for i in range(3)]


@pytest.fixture
def worker():
    w = PdfWorker(timeout_s=60)
    yield w
    w.close()


def test_one_child_reads_many_files_with_the_in_process_results(worker):
    results = [worker.read(data, name=f"g{i}.pdf") for i, data in enumerate(PDFS)]
    assert results == [pdf_to_text(data, name=f"g{i}.pdf") for i, data in enumerate(PDFS)]
    first = worker.pid
    assert first is not None
    with pytest.raises(PdfError, match=r"^cut\.pdf: damaged or unreadable PDF"):  # an ordinary error: child lives
        worker.read(DAMAGED_PDF, name="cut.pdf")
    assert worker.read(PDFS[0], name="again.pdf").title == "Guideline 0" and worker.pid == first


def test_a_file_that_kills_the_child_costs_only_that_file(worker):
    worker.read(PDFS[0], name="a.pdf")
    first = worker.pid
    with pytest.raises(PdfError, match=r"^bomb\.pdf: reading the PDF failed \(exit -?\d+\): it needs more than the "
                                       r"1024 MB allowed, or PDFium crashed on it$"):
        worker.read(pdf_bomb(), name="bomb.pdf")
    assert worker.read(PDFS[1], name="b.pdf").title == "Guideline 1"
    assert worker.pid not in (None, first)


def test_a_slow_file_is_stopped_and_the_next_one_read():
    worker = PdfWorker(timeout_s=0.001)  # less than the child needs to start: the first file runs out of time
    try:
        with pytest.raises(PdfError, match=r"^slow\.pdf: reading the PDF took over 0\.001 s; stopped$"):
            worker.read(PDFS[0], name="slow.pdf")
        assert worker.pid is None  # killed
        worker.timeout_s = 60
        assert worker.read(PDFS[0], name="ok.pdf").title == "Guideline 0"
    finally:
        worker.close()


def test_the_child_is_replaced_after_max_files():
    worker = PdfWorker(max_files=2)
    try:
        pids = []
        for i, data in enumerate(PDFS):
            worker.read(data, name=f"g{i}.pdf")
            pids.append(worker.pid)
        assert pids[0] == pids[1] != pids[2]
    finally:
        worker.close()


def test_a_child_that_cannot_start_says_why(tmp_path, monkeypatch):
    """A broken environment (here: a Python that cannot import meditron) is named, not taken for a PDF crash."""
    import meditron.corpus.cleaners.pdf_worker as pdf_worker

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'meditron'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(pdf_worker.sys, "executable", str(fake))
    worker = PdfWorker(timeout_s=60)
    try:
        with pytest.raises(PdfError, match=r"^g\.pdf: the PDF reader process failed \(exit 1\): ModuleNotFoundError: "
                                           r"No module named 'meditron'$"):
            worker.read(PDFS[0], name="g.pdf")
    finally:
        worker.close()
