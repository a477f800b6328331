"""Guideline PDFs written by fpdf2 for the PDF-extraction tests: real PDF files (fonts, text objects, pages, metadata)
in the shape of published guidelines — a running header and a "Page N of M" footer on every page, numbered section
headings, wrapped paragraphs, bullet lists, a word hyphenated at a line end. The text is our own."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    heading: str
    paragraphs: list[str]
    bullets: list[str] = field(default_factory=list)


def guideline_pdf(title: str, sections: list[Section], *, running_header: str | None = None,
                  page_footer: bool = True, metadata_title: str | None = None, page_break_each: bool = True,
                  hyphenated: tuple[str, str] | None = None) -> bytes:
    """A PDF: the title, then each section (on a new page when ``page_break_each``); ``hyphenated`` = (start, end)
    of a word written across a line break with a hyphen, as typesetters do ("anti-" / "coagulation")."""
    from fpdf import FPDF

    class Doc(FPDF):
        def header(self) -> None:
            if running_header:
                self.set_xy(self.l_margin, 8)  # in the top margin, as typeset documents place it
                self.set_font("helvetica", size=8)
                self.cell(0, 6, running_header)
            self.set_y(25)  # the body starts below a 25 mm top margin

        def footer(self) -> None:
            if page_footer:
                self.set_y(-15)
                self.set_font("helvetica", size=8)
                self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Doc()
    pdf.set_title(metadata_title if metadata_title is not None else title)
    pdf.set_auto_page_break(True, margin=22)
    pdf.add_page()
    pdf.set_font("helvetica", "B", size=16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    for i, section in enumerate(sections):
        if page_break_each and i:
            pdf.add_page()
        pdf.ln(4)
        pdf.set_font("helvetica", "B", size=13)
        pdf.cell(0, 8, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=11)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        for bullet in section.bullets:
            pdf.multi_cell(0, 6, "\u00b7 " + bullet, new_x="LMARGIN", new_y="NEXT")
        if hyphenated and i == 0:
            start, end = hyphenated
            pdf.ln(3)
            pdf.cell(0, 6, f"Patients who need long-term {start}-", new_x="LMARGIN", new_y="NEXT")
            pdf.cell(0, 6, f"{end} should be reviewed every year.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def scanned_pdf() -> bytes:
    """A page with a drawn shape and no text: what a scanned page looks like to a text extractor."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def locked_pdf() -> bytes:
    """A PDF encrypted with a user password: it cannot be opened without it."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.cell(0, 6, "Confidential")
    return bytes(pdf.output())


DAMAGED_PDF = b"%PDF-1.7\n" + b"\x00garbage" * 50  # a PDF header and nothing PDFium can repair


def pdf_bomb(gib: int = 1) -> bytes:
    """A one-page PDF (~1 MB) whose content stream inflates to ``gib`` GiB of spaces."""
    import zlib

    deflate = zlib.compressobj(9)
    spaces = b" " * (1 << 20)
    stream = b"".join(deflate.compress(spaces) for _ in range(1024 * gib)) + deflate.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out
