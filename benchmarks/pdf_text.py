"""Guideline PDFs → text: meditron's PDFium extraction against pypdf and pdfminer.six, same files, same run.

Peers: ``pypdf`` (``PdfReader(...).pages[i].extract_text()``, the most used pure-Python PDF library) and
``pdfminer.six`` (``pdfminer.high_level.extract_text``, layout analysis into paragraphs; what many RAG loaders use).
MEDITRON itself used GROBID, a Java service, which is not run here. Install the peers with
``pip install pypdf pdfminer.six``; a missing peer is reported and skipped.

Files: ``--docs`` guideline PDFs written by fpdf2 (``tests/corpus/pdf_fixtures.py``), each ``--sections`` pages of
numbered sections with wrapped paragraphs and bullet lists, a running header on every page, "Page N of M" footers and
a word hyphenated at a line end; plus the real PDFs on this machine under ``/usr/share/doc`` and any ``--pdf`` given
(timed, and shown with their page counts, but not scored: their ground truth is unknown).

Scored on the generated files, where the truth is known:
- ``furniture left``: running-header and page-footer lines still in the text (per page; 0 is right);
- ``sentences kept``: share of the written sentences found in the text, whitespace normalised (a word split by a
  line-end hyphen that is not joined again loses its sentence);
- ``paragraphs intact``: share of the written paragraphs found as one block between blank lines (what a language
  model sees as one paragraph).

Timing: each tool reads every file once per round, tools alternating; the best round of each is kept, in pages/s.

    python benchmarks/pdf_text.py [--docs 20] [--sections 12] [--rounds 3] [--pdf FILE ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEADER = "National guideline on the management of hypertension in adults - 2026 update"
_SPACES = re.compile(r"\s+")


def _sentences(doc: int, section: int) -> list[str]:
    return [
        f"In setting {doc}.{section}, clinicians should measure blood pressure in every adult at each visit using a"
        " validated device, and they should repeat the measurement when the first reading is high.",
        f"Offer drug treatment to adults in group {section} whose blood pressure stays at or above 140/90 mmHg after"
        " the repeated measurements, and agree the target and the review interval with the person.",
        "Review adherence, side effects and home readings at every visit, and record the decision in the care plan"
        " so that the next clinician can continue the treatment without repeating the assessment.",
    ]


def generated(out: Path, docs: int, sections: int) -> list[tuple[Path, list[str], list[str]]]:
    """(file, its paragraphs, its sentences) of ``docs`` generated guideline PDFs."""
    from tests.corpus.pdf_fixtures import Section, guideline_pdf

    files = []
    for d in range(docs):
        paragraphs, parts = [], []
        for s in range(sections):
            first, second, third = _sentences(d, s)
            paragraphs += [f"{first} {second}", third]
            parts.append(Section(f"{s + 1}. Recommendations for group {s + 1}", [f"{first} {second}", third],
                                 [f"Offer lifestyle advice to every adult in group {s + 1}.",
                                  "Check kidney function before starting treatment."]))
        path = out / f"guideline-{d:03d}.pdf"
        path.write_bytes(guideline_pdf(f"Guideline {d}: hypertension in adults", parts, running_header=HEADER,
                                       hyphenated=("anti", "coagulation")))
        sentences = [s for p in paragraphs for s in re.split(r"(?<=\.) ", p)]
        sentences.append("Patients who need long-term anticoagulation should be reviewed every year.")
        files.append((path, paragraphs, sentences))
    return files


def ours(path: Path) -> tuple[str, int]:
    from meditron.corpus.cleaners.pdf import pdf_to_text

    pdf = pdf_to_text(path.read_bytes(), name=str(path))
    return pdf.text, pdf.num_pages


def ours_isolated(path: Path) -> tuple[str, int]:
    from meditron.corpus.cleaners.pdf_worker import pdf_to_text_isolated

    pdf = pdf_to_text_isolated(path.read_bytes(), name=str(path))
    return pdf.text, pdf.num_pages


def pypdf_text(path: Path) -> tuple[str, int]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join(page.extract_text() or "" for page in reader.pages), len(reader.pages)


def pdfminer_text(path: Path) -> tuple[str, int]:
    from pdfminer.high_level import extract_text
    from pdfminer.pdfpage import PDFPage

    with open(path, "rb") as handle:
        pages = sum(1 for _ in PDFPage.get_pages(handle))
    return extract_text(str(path)), pages


TOOLS = {
    "meditron (PDFium)": (ours, None),
    "meditron, isolated child": (ours_isolated, None),
    "pypdf": (pypdf_text, "pypdf"),
    "pdfminer.six": (pdfminer_text, "pdfminer"),
}


def score(text: str, pages: int, paragraphs: list[str], sentences: list[str]) -> tuple[float, float, float]:
    flat = _SPACES.sub(" ", text)
    furniture = flat.count(HEADER) + len(re.findall(r"Page \d+ of \d+", flat))
    blocks = {_SPACES.sub(" ", b).strip() for b in re.split(r"\n\s*\n", text)}
    return (furniture / pages, sum(s in flat for s in sentences) / len(sentences),
            sum(p in blocks for p in paragraphs) / len(paragraphs))


def main() -> int:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--sections", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pdf", type=Path, nargs="*", default=[])
    args = ap.parse_args()
    tools = {}
    for name, (fn, module) in TOOLS.items():
        if module:
            try:
                __import__(module)
            except ImportError:
                print(f"# {name}: not installed (pip install pypdf pdfminer.six), skipped")
                continue
        tools[name] = fn
    real = [*sorted(Path("/usr/share/doc").rglob("*.pdf")), *args.pdf]
    with tempfile.TemporaryDirectory() as tmp:
        gen = generated(Path(tmp), args.docs, args.sections)
        best = {name: float("inf") for name in tools}
        real_best = {name: float("inf") for name in tools}
        results: dict[str, list[tuple[str, int]]] = {}
        real_pages = 0
        for _ in range(args.rounds):
            for name, fn in tools.items():
                start = time.perf_counter()
                results[name] = [fn(path) for path, _, _ in gen]
                best[name] = min(best[name], time.perf_counter() - start)
                if real:
                    start = time.perf_counter()
                    real_pages = sum(fn(path)[1] for path in real)
                    real_best[name] = min(real_best[name], time.perf_counter() - start)
    pages = sum(n for _, n in next(iter(results.values())))
    print(f"# {len(gen)} generated guideline PDFs, {pages} pages; best of {args.rounds} rounds")
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    real_head = f" | real PDFs ({len(real)} files, {real_pages} pages) pages/s" if real else ""
    print(f"| tool | generated pages/s{real_head} | furniture left per page | sentences kept | paragraphs intact |")
    print("|---|---:|" + ("---:|" if real else "") + "---:|---:|---:|")
    for name in tools:
        scores = [score(text, n, paras, sents) for (text, n), (_, paras, sents) in zip(results[name], gen, strict=True)]
        furniture, kept, intact = (sum(col) / len(col) for col in zip(*scores, strict=True))
        real_cell = f" | {real_pages / real_best[name]:.0f}" if real else ""
        print(f"| {name} | {pages / best[name]:.0f}{real_cell} | {furniture:.2f} | {kept:.1%} | {intact:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
