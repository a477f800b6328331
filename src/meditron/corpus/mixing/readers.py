"""Readers of general-domain replay data (RedPajama/FineWeb-style JSONL or Parquet files the user has).

Built on the corpus readers' base (file lists, ``sample:`` paths, quarantine records): a row without text or a broken
line is quarantined with its position, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from datatrove.data import Document

from meditron.corpus.readers.base import CorpusReader
from meditron.corpus.readers.bounded import iter_lines, open_bounded, record_too_large

_TEXT_KEYS = ("text", "content", "raw_content")
_ID_KEYS = ("id", "doc_id", "url")


def _row_to_doc(row: dict, source: str, kind: str, path: Path, position: int) -> Document | str:
    text = next((row[k] for k in _TEXT_KEYS if isinstance(row.get(k), str)), None)
    if text is None:
        return f"no text field (looked for {', '.join(_TEXT_KEYS)})"
    doc_id = next((str(row[k]) for k in _ID_KEYS if row.get(k) not in (None, "")), None)
    meta = {k: v for k, v in row.items() if k not in _TEXT_KEYS and isinstance(v, (str, int, float, bool))}
    meta.update(source=source, kind=kind, file_path=str(path))
    return Document(text=text, id=f"{source}:{doc_id}" if doc_id else f"{path.name}#{position}", metadata=meta)


class ReplayJsonlReader(CorpusReader):
    kind = "jsonl"
    suffixes = (".jsonl", ".jsonl.gz", ".json")

    def read_file(self, path: Path) -> Iterator[Document]:
        with open_bounded(path, self.limits.max_file_bytes) as f:  # streamed, capped (corpus.limits)
            for position, raw in iter_lines(f, self.limits.max_record_bytes):
                if raw is None:
                    yield self.quarantine(path, position, record_too_large(self.limits.max_record_bytes,
                                                                           f"line {position}"))
                    continue
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw.decode("utf-8"))
                    if not isinstance(row, dict):
                        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
                except ValueError as e:
                    yield self.quarantine(path, position, e)
                    continue
                doc = _row_to_doc(row, self.source, self.kind, path, position)
                yield doc if isinstance(doc, Document) else self.quarantine(path, position, doc)


class ReplayParquetReader(CorpusReader):
    kind = "parquet"
    suffixes = (".parquet",)

    def read_file(self, path: Path) -> Iterator[Document]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as e:  # a broken file is quarantined, not raised
            yield self.quarantine(path, 0, e)
            return
        position = 0
        for batch in pf.iter_batches(batch_size=1000):
            for row in batch.to_pylist():
                position += 1
                doc = _row_to_doc(row, self.source, self.kind, path, position)
                yield doc if isinstance(doc, Document) else self.quarantine(path, position, doc)
