"""``meditron corpus inspect``: what the readers and cleaners make of a user's files, one JSON line per document.

Documents (kept or carrying a ``drop_reason``) go to stdout as ``{"id", "text", "metadata"}``; quarantined records go
to stderr as ``{"file", "position", "error"}``. The exit code is 0 when every record parsed, 1 when any was
quarantined, so a script can check a folder before a long run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from meditron.corpus.config import SourceConfig
from meditron.corpus.guidelines import SITES
from meditron.corpus.readers import READERS, build_reader
from meditron.errors import ConfigError

_GUIDELINE_KIND_BY_SUFFIX = (
    ((".jsonl", ".jsonl.gz", ".json", ".ndjson"), "guideline_jsonl"),
    ((".md", ".markdown", ".txt", ".md.gz", ".txt.gz"), "guideline_markdown"),
    ((".pdf",), "guideline_pdf"),
)


def _guideline_kind(path: Path) -> str:
    name = path.name.lower()
    for suffixes, kind in _GUIDELINE_KIND_BY_SUFFIX:
        if name.endswith(suffixes):
            return kind
    return "guideline_html"


def _sources(kind: str, files: list[Path], source: str | None) -> list[SourceConfig]:
    """One SourceConfig per reader kind; ``guideline`` picks JSONL/Markdown/HTML per file by its suffix."""
    if kind == "guideline":
        groups: dict[str, list[str]] = {}
        for f in files:
            groups.setdefault(_guideline_kind(f), []).append(str(f))
    elif kind in READERS:
        groups = {kind: [str(f) for f in files]}
    else:
        raise ConfigError(f"unknown --kind {kind!r}; use jats, medline, guideline or one of {', '.join(READERS)}")
    site = source.lower() if source and kind.startswith("guideline") and source.lower() in SITES else None
    name = source or {"jats": "papers", "medline": "abstracts", "jsonl": "replay", "parquet": "replay"}.get(kind, "guidelines")
    return [SourceConfig(name=name, kind=k, paths=paths, site=site) for k, paths in groups.items()]


def inspect_files(
    kind: str, files: list[Path], source: str | None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Print every document of ``files`` read as ``kind``; returns the exit code (1 if anything was quarantined)."""
    out = out or sys.stdout
    err = err or sys.stderr
    num_quarantined = 0
    for cfg in _sources(kind, files, source):
        for doc in build_reader(cfg)():
            quarantined = doc.metadata.get("quarantined")
            if quarantined:
                num_quarantined += 1
                err.write(json.dumps(quarantined, ensure_ascii=False) + "\n")
            else:
                out.write(json.dumps({"id": doc.id, "text": doc.text, "metadata": doc.metadata}, ensure_ascii=False))
                out.write("\n")
    return 1 if num_quarantined else 0
