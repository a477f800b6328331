"""Shared base of the corpus readers: path resolution, sharding over tasks, quarantine records.

datatrove's ``BaseDiskReader`` reads one data folder; a corpus source is a list of files, folders and globs (possibly
``sample:`` paths), so our readers subclass datatrove's ``BaseReader`` and resolve that list themselves. Each reader
overrides one hook, ``read_file``, and every record it cannot parse becomes a quarantine Document instead of an
exception: a worker never dies on bad input and nothing is dropped silently. Compressed input is streamed with the
caps of ``corpus.limits`` (``bounded.py``), so no file is ever held whole once decompressed.
"""

from __future__ import annotations

import glob
import os
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseReader

from meditron.corpus.config import ReadLimitsConfig
from meditron.errors import InputError

_GLOB_CHARS = set("*?[")


def resolve_files(paths: Iterable[str | Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Expand files, folders (recursively, keeping names ending in ``suffixes``) and globs into a sorted file list.

    Sorted by file name, then full path: NLM's MEDLINE names sort chronologically, which the MEDLINE reader relies on,
    and a stable order makes every run and every task split reproducible. A path that matches nothing is an error
    here (at construction), not a silent empty source.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        text = str(path)
        if any(c in text for c in _GLOB_CHARS):
            matches = [Path(m) for m in glob.glob(text, recursive=True)]
            files = [m for m in matches if m.is_file()]
            for m in matches:
                if m.is_dir():
                    files.extend(_walk(m, suffixes))
        elif path.is_dir():
            files = _walk(path, suffixes)
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"input path {raw!r} does not exist", path=str(path))
        if not files:
            raise InputError(f"input path {raw!r} matches no file ending in {', '.join(suffixes)}", path=str(path))
        for f in files:
            found[os.path.abspath(f)] = f
    return sorted(found.values(), key=lambda p: (p.name, str(p)))


def _walk(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes)]


def quarantine(source: str, kind: str, file: str, position: int | str, error: str) -> Document:
    """The contract's quarantine record: empty text, ``<file>#<position>`` id, the error in metadata."""
    return Document(
        text="",
        id=f"{file}#{position}",
        metadata={
            "source": source,
            "kind": kind,
            "file_path": file,
            "quarantined": {"file": file, "position": position, "error": error},
        },
    )


class CorpusReader(BaseReader):
    """A reader over an explicit list of files; task ``rank`` of ``world_size`` reads every ``world_size``-th file."""

    kind: str = ""
    suffixes: tuple[str, ...] = ()

    def __init__(self, paths: Iterable[str | Path], source: str, limit: int = -1,
                 limits: ReadLimitsConfig | None = None):
        super().__init__(limit=limit)
        self.source = source
        self.files = resolve_files(paths, self.suffixes)
        self.limits = limits or ReadLimitsConfig()  # decompressed-size caps (``bounded.py``)

    @abstractmethod
    def read_file(self, path: Path) -> Iterator[Document]:
        """Yield the Documents of one file, quarantine records included; must not raise on bad content."""

    def shard(self, rank: int, world_size: int) -> list[Path]:
        return self.files[rank::world_size]

    def quarantine(self, path: Path | str, position: int | str, error: BaseException | str) -> Document:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.stat_update("quarantined")
        return quarantine(self.source, self.kind, str(path), position, message)

    def _safe_read(self, path: Path) -> Iterator[Document]:
        """Guard around ``read_file``: an unexpected error ends that file with one quarantine record."""
        position = 0
        try:
            for doc in self.read_file(path):
                position += 1
                yield doc
        except Exception as err:  # the contract: never raise out of a worker
            yield self.quarantine(path, f"after-record-{position}", err)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        count = 0
        for path in self.shard(rank, world_size):
            self.stat_update("input_files")
            for doc in self._safe_read(path):
                if self.limit != -1 and count >= self.limit:
                    return
                self.update_doc_stats(doc)
                yield doc
                count += 1
