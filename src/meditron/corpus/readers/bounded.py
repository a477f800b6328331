"""Bounded reading of (possibly compressed) corpus files: streams with a per-file cap, records with a per-record cap.

Why: a 1 MB ``.gz`` can inflate to gigabytes. Every reader therefore streams its input in chunks, counts the bytes
after decompression, and stops with :class:`ReadLimitExceeded` — which the reader turns into a quarantine record
naming the limit — once a file passes ``corpus.limits.max_file_bytes`` or a single record (an article, a citation, a
JSON line, a page) passes ``corpus.limits.max_record_bytes``. No reader holds a whole decompressed file: memory stays
around one record, whatever the file claims to be.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lxml import etree

from meditron.corpus.cleaners.xml import iterparse_kwargs

CHUNK_BYTES = 256 * 1024


class ReadLimitExceeded(ValueError):
    """A file or a record decompressed to more than its configured cap."""


def record_too_large(limit: int, what: str = "record") -> ReadLimitExceeded:
    return ReadLimitExceeded(
        f"{what} is larger than corpus.limits.max_record_bytes={limit} bytes once decompressed (a decompression bomb "
        "or a broken file; raise the limit if such records are real)"
    )


class ArchiveLimitExceeded(Exception):
    """An archive as a whole decompressed to more than the file cap (not a ``ValueError``: it must stop the archive,
    not just the member being parsed when it happened)."""


class BoundedStream:
    """A binary stream that raises :class:`ReadLimitExceeded` once more than ``max_bytes`` were read through it."""

    def __init__(self, raw: IO[bytes], max_bytes: int, where: str, error: type[Exception] = ReadLimitExceeded):
        self.raw, self.max_bytes, self.where, self.num_bytes, self.error = raw, max_bytes, where, 0, error

    def _count(self, data: bytes) -> bytes:
        self.num_bytes += len(data)
        if self.num_bytes > self.max_bytes:
            raise self.error(
                f"{self.where} is larger than corpus.limits.max_file_bytes={self.max_bytes} bytes once decompressed "
                "(a decompression bomb or a broken file; raise the limit if such files are real)"
            )
        return data

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        return self._count(self.raw.read(CHUNK_BYTES if size is None or size < 0 else size))

    def readline(self, size: int = -1) -> bytes:
        return self._count(self.raw.readline(size))

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> BoundedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_bounded(path: Path, max_file_bytes: int, error: type[Exception] = ReadLimitExceeded) -> BoundedStream:
    """``path`` as a decompressed (``.gz``) or plain binary stream, capped at ``max_file_bytes``."""
    raw = gzip.open(path, "rb") if path.name.lower().endswith((".gz", ".tgz")) else open(path, "rb")
    return BoundedStream(raw, max_file_bytes, str(path), error)


def read_record(stream: BoundedStream | IO[bytes], max_record_bytes: int, what: str = "file") -> bytes:
    """All of a stream that is one record (a web page), refused past ``max_record_bytes``."""
    data = stream.read(max_record_bytes + 1)
    if len(data) > max_record_bytes:
        raise record_too_large(max_record_bytes, what)
    return data


def iter_lines(stream: BoundedStream, max_record_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, line)`` of a JSON-lines stream; a line over the cap comes as ``(n, None)`` and is skipped
    in chunks (never held), so one oversized line costs one quarantine record, not the file."""
    line_no = 0
    while True:
        line = stream.readline(max_record_bytes + 1)
        if not line:
            return
        line_no += 1
        if len(line) > max_record_bytes and not line.endswith(b"\n"):
            while (rest := stream.readline(CHUNK_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield line_no, None
            continue
        yield line_no, line


class XmlRecords:
    """Parse events of an XML stream fed in chunks, with at most ``max_record_bytes`` fed between two records.

    The caller calls :meth:`record_done` after each record it consumed; if the parser is fed more than the cap
    without one, :class:`ReadLimitExceeded` stops the file (a giant text node or element is never built whole).
    Events parsed before a syntax error in a chunk are delivered before the error is raised; at the end of a
    truncated document none are (libxml2 closes the open elements then, which would yield half records).
    """

    def __init__(self, stream: Any, max_record_bytes: int, tag: Any = None, events: tuple[str, ...] = ("end",)):
        self.stream, self.max_record_bytes = stream, max_record_bytes
        self.parser = etree.XMLPullParser(events=events, tag=tag, **iterparse_kwargs())
        self.since_record = 0
        self.root: etree._Element | None = None

    def record_done(self) -> None:
        self.since_record = 0

    def __iter__(self) -> Iterator[tuple[str, etree._Element]]:
        while chunk := self.stream.read(CHUNK_BYTES):
            self.since_record += len(chunk)
            try:
                self.parser.feed(chunk)
            except etree.XMLSyntaxError:
                yield from self.parser.read_events()
                raise
            yield from self.parser.read_events()
            if self.since_record > self.max_record_bytes:
                raise record_too_large(self.max_record_bytes)
        self.root = self.parser.close()  # on a truncated file this raises; pending events are auto-closed stubs
        yield from self.parser.read_events()
