"""The embedded sample: original text written for this project, in the real formats of each source and benchmark.

Config paths that start with ``sample:`` resolve inside this folder, so the quickstart config works from any directory.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).parent
SAMPLE_PREFIX = "sample:"


def resolve_path(path: str | Path) -> Path:
    """``sample:pubmed/jats`` → the folder inside the package; any other path is returned unchanged."""
    text = str(path)
    if text.startswith(SAMPLE_PREFIX):
        return SAMPLE_DIR / text[len(SAMPLE_PREFIX) :].lstrip("/")
    return Path(text)
