"""Guideline readers: MEDITRON's released JSONL layout, and raw HTML / Markdown / PDF files with a site's rules.

Both run the same cleaning: bytes → text (declared/detected encoding, ftfy mojibake repair) → for HTML, the site's
content cut and HTML→Markdown → MEDITRON's common cleaning with the site's start/boilerplate/stop rules. Near-identical
guidelines (the same first 500 alphanumeric characters, MEDITRON's rule) are yielded once; later copies carry
``drop_reason="duplicate-guideline-prefix"``, and a page with no text left after cleaning ``"empty-after-cleaning"``.
Language and length floors are the pipeline's filters (they apply to every source).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from datatrove.data import Document

from meditron.corpus.cleaners.encoding import decode_bytes, fix_mojibake
from meditron.corpus.cleaners.guideline import clean_guideline_text
from meditron.corpus.cleaners.html import html_to_markdown, page_title
from meditron.corpus.config import ReadLimitsConfig
from meditron.corpus.guidelines import get_site_rules
from meditron.corpus.guidelines.markdown import strip_markdown_junk
from meditron.corpus.readers.base import CorpusReader
from meditron.corpus.readers.bounded import iter_lines, open_bounded, read_record, record_too_large

PREFIX_CHARS = 500
DUPLICATE = "duplicate-guideline-prefix"
EMPTY = "empty-after-cleaning"
NO_TEXT_LAYER = "pdf-without-text"  # a scanned PDF: no text to read (OCR is not done)
_NON_ALNUM = re.compile(r"[\W_]+")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
_SETEXT = re.compile(r"^([^\n]*\S[^\n]*)\n(=+|-{2,})[ \t]*$", re.MULTILINE)


def setext_to_atx(markdown: str) -> str:
    """``Title\\n=====`` / ``Title\\n-----`` (Markdown setext headings) → ``# Title`` / ``## Title``."""
    return _SETEXT.sub(lambda m: ("# " if m.group(2)[0] == "=" else "## ") + m.group(1).strip(), markdown)


def prefix_key(text: str) -> bytes:
    """MEDITRON's near-duplicate key: a hash of the first 500 alphanumeric characters, lower-cased."""
    return hashlib.blake2b(_NON_ALNUM.sub("", text).lower()[:PREFIX_CHARS].encode(), digest_size=16).digest()


class _GuidelineReader(CorpusReader):
    def __init__(self, paths, source: str, site: str | None = None, limit: int = -1,
                 limits: ReadLimitsConfig | None = None):
        super().__init__(paths, source, limit=limit, limits=limits)
        self.site = site
        self.rules = get_site_rules(site)  # an unknown site fails here, at construction
        self._seen: set[bytes] = set()

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        self._seen = set()  # per run: a rerun of the same step must give the same drops
        yield from super().run(data, rank, world_size)

    def _finish(self, text: str, doc_id: str, metadata: dict) -> Document:
        metadata.update(source=self.source, kind=self.kind)
        if not text.strip():
            metadata.setdefault("drop_reason", EMPTY)
        else:
            key = prefix_key(text)
            if key in self._seen:
                metadata["drop_reason"] = DUPLICATE
            self._seen.add(key)
        if "drop_reason" in metadata:
            self.stat_update(metadata["drop_reason"])
        return Document(text=text, id=doc_id, metadata=metadata)


class GuidelineJsonlReader(_GuidelineReader):
    """Rows ``{id, source, title, url, raw_text, clean_text?, overview?}`` (MEDITRON's released guidelines layout).

    ``clean_text`` is used when present (MEDITRON already cleaned it; our cleaning is idempotent so it is safe to
    reapply), else ``raw_text``; the row's own ``source`` selects site rules when one is registered under that name.
    A line that is not a JSON object, or has no text, is quarantined with its line number.
    """

    name = "guidelines (JSONL)"
    kind = "guideline_jsonl"
    suffixes = (".jsonl", ".jsonl.gz", ".json", ".ndjson")

    def read_file(self, path: Path) -> Iterator[Document]:
        with open_bounded(path, self.limits.max_file_bytes) as handle:
            for line_no, raw in iter_lines(handle, self.limits.max_record_bytes):
                if raw is None:
                    yield self.quarantine(path, f"line {line_no}", record_too_large(self.limits.max_record_bytes,
                                                                                    f"line {line_no}"))
                    continue
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                    if not isinstance(row, dict):
                        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
                    yield self._row(row, path, line_no)
                except Exception as err:  # a broken line is quarantined, the file goes on
                    yield self.quarantine(path, f"line {line_no}", err)

    def _row(self, row: dict, path: Path, line_no: int) -> Document:
        text = row.get("clean_text") or row.get("raw_text") or row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("row has no clean_text/raw_text")
        row_source = str(row.get("source") or "")
        rules = self.rules
        if self.site is None and row_source:
            try:
                rules = get_site_rules(row_source)
            except Exception:  # no rules registered for that source: generic ones
                rules = self.rules
        title = str(row.get("title") or "").strip()
        text = fix_mojibake(text)
        if title and not text.lstrip("# ").startswith(title[:40]):
            text = f"# {title}\n\n{text}"
        cleaned = clean_guideline_text(text, rules)
        row_id = str(row.get("id") or f"{path.stem}-{line_no}")
        metadata = {
            "title": title or None,
            "url": row.get("url"),
            "guideline_source": row_source or None,
            "overview": row.get("overview"),
            "site_rules": rules.name,
            "file_path": str(path),
            "position": f"line {line_no}",
        }
        return self._finish(cleaned, f"{self.source}-{_SAFE_ID.sub('_', row_id)}", metadata)


_SUFFIXES = {
    "html": (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz"),
    "markdown": (".md", ".markdown", ".txt", ".md.gz", ".txt.gz"),
    "pdf": (".pdf",),
}


class GuidelineFileReader(_GuidelineReader):
    """One guideline per HTML, Markdown (optionally gzipped) or PDF file; the site's rules decide what is guideline.

    PDFs — a team's own guideline documents, or a downloaded set such as MEDITRON's ICRC tarball — are read by
    :func:`meditron.corpus.cleaners.pdf_worker.pdf_to_text_isolated` (running headers/footers and page numbers removed, lines
    reflowed); a damaged or encrypted file is quarantined with the reason, a scan without a text layer dropped as
    ``pdf-without-text``.
    """

    name = "guidelines (HTML/Markdown/PDF files)"

    def __init__(self, paths, source: str, site: str | None = None, fmt: str = "html", limit: int = -1,
                 limits: ReadLimitsConfig | None = None):
        if fmt not in _SUFFIXES:
            raise ValueError(f"fmt must be one of {', '.join(_SUFFIXES)}, not {fmt!r}")
        self.fmt = fmt
        self.kind = f"guideline_{fmt}"
        self.suffixes = _SUFFIXES[fmt]
        super().__init__(paths, source, site=site, limit=limit, limits=limits)

    def read_file(self, path: Path) -> Iterator[Document]:
        if self.fmt == "pdf":
            yield from self._read_pdf(path)
            return
        try:
            with open_bounded(path, self.limits.max_file_bytes) as handle:  # one page = one record
                data = read_record(handle, self.limits.max_record_bytes, "page")
            text, encoding = decode_bytes(data)
            text = fix_mojibake(text)
            if self.fmt == "html":
                title = page_title(text)
                text = html_to_markdown(text, self.rules)
            else:
                title = ""
                text = setext_to_atx(strip_markdown_junk(text))  # tables of nav links, banners, footers
            cleaned = clean_guideline_text(text, self.rules)
        except Exception as err:  # unreadable page: quarantined, the run goes on
            yield self.quarantine(path, 0, err)
            return
        if not title:
            first = cleaned.split("\n", 1)[0]
            title = first.lstrip("# ").strip() if first.startswith("#") else ""
        stem = path.name.split(".")[0]
        metadata = {
            "title": title or None,
            "site_rules": self.rules.name,
            "encoding": encoding,
            "file_path": str(path),
            "position": 0,
        }
        yield self._finish(cleaned, f"{self.source}-{_SAFE_ID.sub('_', stem)}", metadata)

    def _read_pdf(self, path: Path) -> Iterator[Document]:
        from meditron.corpus.cleaners.pdf_worker import pdf_to_text_isolated

        try:
            with open_bounded(path, self.limits.max_file_bytes) as handle:  # one document = one record
                data = read_record(handle, self.limits.max_record_bytes, "PDF")
            pdf = pdf_to_text_isolated(data, name=str(path))
        except Exception as err:  # damaged, encrypted, over the limit: quarantined with the reason
            yield self.quarantine(path, 0, err)
            return
        cleaned = pdf.guideline_text(self.rules)
        metadata = {
            "title": pdf.title,
            "site_rules": self.rules.name,
            "pages": pdf.num_pages,
            "pages_read": pdf.pages_read,
            "file_path": str(path),
            "position": 0,
        }
        if not pdf.text:
            metadata["drop_reason"] = NO_TEXT_LAYER
        yield self._finish(cleaned, f"{self.source}-{_SAFE_ID.sub('_', path.stem)}", metadata)
