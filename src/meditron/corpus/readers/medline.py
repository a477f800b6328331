"""``MedlineReader``: PubMed abstracts from MEDLINE/PubMed XML (``.xml``/``.xml.gz``, NLM baseline and update files).

NLM's rule: a PMID seen again in a later file replaces the earlier version, and ``<DeleteCitation>`` deletes the
versions before it. Files are processed in sorted name order (NLM names sort chronologically). Before streaming, a
cheap pre-scan (``MedlineIndex``) reads only the PMIDs of every file with a regular expression over the raw bytes,
streamed a buffer at a time — no XML tree, never a whole file — and keeps, per PMID, where its latest version lives and whether a deletion follows it, in numpy
arrays (about 13 bytes per PMID). The main pass then streams each file with ``iterparse`` and yields superseded and
deleted versions with ``metadata["drop_reason"]``, so the ledger sees every record once.
"""

from __future__ import annotations

import json
import re
import shutil
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from datatrove.data import Document
from lxml import etree

from meditron.corpus.cleaners.medline import citation_pmid, citation_to_text
from meditron.corpus.cleaners.xml import describe_xml_error
from meditron.corpus.config import ReadLimitsConfig
from meditron.corpus.readers.base import CorpusReader
from meditron.corpus.readers.bounded import (
    CHUNK_BYTES,
    BoundedStream,
    ReadLimitExceeded,
    XmlRecords,
    open_bounded,
    record_too_large,
)

MEDLINE_SUFFIXES = (".xml", ".xml.gz")
SUPERSEDED = "superseded-by-later-version"
DELETED = "deleted-citation"
NO_ABSTRACT = "no-abstract"
_RECORD_TAGS = ("PubmedArticle", "MedlineCitation", "PubmedBookArticle", "DeleteCitation")
# A record's own PMID is the first child of <MedlineCitation>/<BookDocument> (never searched past the record's end,
# so a record missing its PMID cannot borrow the next one's); deletions list bare PMIDs.
_EVENTS = re.compile(
    rb"<(?:MedlineCitation|BookDocument)[\s>](?:(?!</MedlineCitation>|</BookDocument>).){0,4000}?"
    rb"<PMID[^>]*>\s*(\d+)\s*</PMID>|<DeleteCitation>(.*?)</DeleteCitation>",
    re.DOTALL,
)
_PMID = re.compile(rb"<PMID[^>]*>\s*(\d+)\s*</PMID>")
_RECORD_ENDS = (b"</PubmedArticle>", b"</PubmedBookArticle>", b"</MedlineCitation>", b"</DeleteCitation>")


def open_xml(path: Path, max_file_bytes: int = ReadLimitsConfig().max_file_bytes) -> BoundedStream:
    """A binary stream of the (possibly gzipped) XML file, capped at ``max_file_bytes`` decompressed."""
    return open_bounded(path, max_file_bytes)


def scan_events(stream: BoundedStream, max_record_bytes: int) -> Iterator[re.Match[bytes]]:
    """The pre-scan's regex matches over a stream, a buffer at a time, cut after the last complete record.

    A match never spans a record's end tag, so scanning ``[start, last record end)`` then carrying the rest over
    finds exactly what one pass over the whole file would; memory stays one chunk plus one record.
    """
    carry = b""
    while chunk := stream.read(CHUNK_BYTES * 16):
        buf = carry + chunk
        ends = [buf.rfind(tag) for tag in _RECORD_ENDS]
        cut = max((at + len(tag) for at, tag in zip(ends, _RECORD_ENDS, strict=True) if at >= 0), default=0)
        yield from _EVENTS.finditer(buf, 0, cut)
        carry = buf[cut:]
        if len(carry) > max_record_bytes:
            raise record_too_large(max_record_bytes)
    yield from _EVENTS.finditer(carry)


class FileEvents(NamedTuple):
    """One file's pre-scan events in file order: a record (``is_delete`` 0, ``occurrences`` = how many earlier
    records of that PMID this file holds) or a deletion (1, occurrence -1)."""

    pmids: np.ndarray  # int64
    occurrences: np.ndarray  # int32
    is_delete: np.ndarray  # int8

    _FIELDS = ("pmids", "occurrences", "is_delete")

    def save(self, path: Path) -> None:
        """As ``.npz`` (no pickle), atomically."""
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **{k: getattr(self, k) for k in self._FIELDS})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> FileEvents:
        with np.load(path, allow_pickle=False) as data:
            return cls(*(data[k] for k in cls._FIELDS))


def scan_file(path: Path, limits: ReadLimitsConfig | None = None) -> FileEvents:
    """The pre-scan of one file. A file unreadable, truncated or over a cap keeps the events before the fault: the main
    pass quarantines the file where it stops."""
    limits = limits or ReadLimitsConfig()
    pmids, occurrences, is_delete = array("q"), array("i"), array("b")
    seen: dict[int, int] = {}
    try:
        with open_xml(path, limits.max_file_bytes) as handle:
            for match in scan_events(handle, limits.max_record_bytes):
                if match.group(1) is not None:
                    found = [(int(match.group(1)), 0)]
                else:
                    found = [(int(p), 1) for p in _PMID.findall(match.group(2))]
                for pmid, deletion in found:
                    occ = seen.get(pmid, 0) if not deletion else -1
                    if not deletion:
                        seen[pmid] = occ + 1
                    pmids.append(pmid)
                    occurrences.append(occ)
                    is_delete.append(deletion)
    except (OSError, EOFError, ReadLimitExceeded):
        pass
    return FileEvents(np.array(pmids, dtype=np.int64), np.array(occurrences, dtype=np.int32),
                      np.array(is_delete, dtype=np.int8))


class MedlineIndex:
    """Per PMID: the file and the occurrence (within that file) of its latest version, and whether it was deleted.

    Occurrences are counted per PMID within a file, so the main pass matches the index even when a malformed file
    stops the parser early. Built once per reader and process; memory is O(#PMIDs) in numpy arrays.
    """

    def __init__(self, files: Sequence[Path], limits: ReadLimitsConfig | None = None):
        self._merge([scan_file(path, limits) for path in files])

    @classmethod
    def from_events(cls, events: Sequence[FileEvents]) -> MedlineIndex:
        """The index of files whose events were scanned separately (``scan_file``, one per file, in file order)."""
        index = cls.__new__(cls)
        index._merge(events)
        return index

    def _merge(self, events: Sequence[FileEvents]) -> None:
        self.num_events = sum(len(e.pmids) for e in events)
        p = np.concatenate([e.pmids for e in events]) if events else np.zeros(0, np.int64)
        d = np.concatenate([e.is_delete for e in events]).astype(bool) if events else np.zeros(0, bool)
        o = np.concatenate([e.occurrences for e in events]) if events else np.zeros(0, np.int32)
        f = (np.concatenate([np.full(len(e.pmids), i, np.int32) for i, e in enumerate(events)]) if events
             else np.zeros(0, np.int32))
        order = np.arange(len(p))
        rec = ~d
        # latest record per PMID: stable sort by PMID keeps event order inside a PMID, so the last one wins
        r_order = order[rec][np.argsort(p[rec], kind="stable")]
        r_p = p[r_order]
        last = np.ones(len(r_p), bool)
        if len(r_p):
            last[:-1] = r_p[1:] != r_p[:-1]
        last_rows = r_order[last]
        self.pmids = p[last_rows]
        self.last_file = f[last_rows]
        self.last_occ = o[last_rows]
        # deleted when the last deletion of that PMID comes after its latest record
        del_rows = order[d]
        del_p = p[del_rows]
        self.deleted = np.zeros(len(self.pmids), bool)
        if len(del_rows) and len(self.pmids):
            d_sort = np.argsort(del_p, kind="stable")
            del_p, del_rows = del_p[d_sort], del_rows[d_sort]
            d_last = np.ones(len(del_p), bool)
            d_last[:-1] = del_p[1:] != del_p[:-1]
            del_p, del_rows = del_p[d_last], del_rows[d_last]
            pos = np.searchsorted(self.pmids, del_p)
            ok = (pos < len(self.pmids)) & (self.pmids[np.minimum(pos, len(self.pmids) - 1)] == del_p)
            self.deleted[pos[ok]] = del_rows[ok] > last_rows[pos[ok]]
        self.num_deletions = int(d.sum())

    _ARRAYS = ("pmids", "last_file", "last_occ", "deleted")

    def save(self, folder: Path, files: Sequence[Path]) -> None:
        """Write the index as ``.npy`` files (memory-mapped by ``load``), atomically: a folder renamed into place."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in self._ARRAYS:
            np.save(tmp / f"{name}.npy", getattr(self, name))
        facts = {"files": [str(f) for f in files], "num_events": self.num_events, "num_deletions": self.num_deletions}
        (tmp / "index.json").write_text(json.dumps(facts), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, files: Sequence[Path]) -> MedlineIndex:
        """The index ``save`` wrote for exactly these files, memory-mapped (tasks on one node share its pages)."""
        facts = json.loads((Path(folder) / "index.json").read_text(encoding="utf-8"))
        if facts["files"] != [str(f) for f in files]:
            raise ValueError(f"MEDLINE index {folder} was built for other files")
        index = cls.__new__(cls)
        for name in cls._ARRAYS:
            setattr(index, name, np.load(Path(folder) / f"{name}.npy", mmap_mode="r"))
        index.num_events, index.num_deletions = facts["num_events"], facts["num_deletions"]
        return index

    def drop_reason(self, pmid: int, file_index: int, occurrence: int) -> str | None:
        """``None`` to keep this version, else why it goes."""
        pos = int(np.searchsorted(self.pmids, pmid))
        if pos >= len(self.pmids) or self.pmids[pos] != pmid:
            return None  # not seen by the pre-scan (malformed region): keep, it is the only version we know
        if self.last_file[pos] != file_index or self.last_occ[pos] != occurrence:
            return SUPERSEDED
        return DELETED if self.deleted[pos] else None


class MedlineReader(CorpusReader):
    """One Document per citation; superseded/deleted versions and title-only citations carry a ``drop_reason``."""

    name = "MEDLINE abstracts"
    kind = "medline"
    suffixes = MEDLINE_SUFFIXES

    def __init__(self, paths, source: str, limit: int = -1, limits: ReadLimitsConfig | None = None):
        super().__init__(paths, source, limit=limit, limits=limits)
        self._index: MedlineIndex | None = None
        #: where the corpus pipeline's ``prepare`` stage saved the pre-scan (``MedlineIndexWriter``); None: build here
        self.index_dir: Path | None = None

    @property
    def index(self) -> MedlineIndex:
        """The pre-scan: loaded when a preparation step saved it (once for all tasks), else built in this process."""
        if self._index is None:
            if self.index_dir is not None and (Path(self.index_dir) / "index.json").exists():
                self._index = MedlineIndex.load(Path(self.index_dir), self.files)
            else:
                self._index = MedlineIndex(self.files, self.limits)
        return self._index

    def read_file(self, path: Path) -> Iterator[Document]:
        file_index = self.files.index(path)
        index = self.index
        seen: dict[int, int] = {}
        position = 0
        etree.clear_error_log()  # so a parse error's log names this file's first problem
        try:
            with open_xml(path, self.limits.max_file_bytes) as handle:
                records = XmlRecords(handle, self.limits.max_record_bytes, tag=_RECORD_TAGS)
                for _, elem in records:
                    tag = elem.tag
                    parent = elem.getparent()
                    if tag == "MedlineCitation" and parent is not None and parent.tag == "PubmedArticle":
                        continue  # handled with its PubmedArticle
                    if tag == "DeleteCitation":
                        self.stat_update("deletions", value=len(elem.findall("PMID")))
                    else:
                        yield self._document(elem, path, position, file_index, index, seen)
                        position += 1
                    records.record_done()
                    elem.clear(keep_tail=True)
                    if parent is not None:
                        while elem.getprevious() is not None:
                            del parent[0]
        except (etree.XMLSyntaxError, OSError, EOFError, ValueError) as err:
            yield self.quarantine(path, position, f"{describe_xml_error(err)} (records after #{position} lost)")

    def _document(
        self, elem: etree._Element, path: Path, position: int, file_index: int, index: MedlineIndex, seen: dict
    ) -> Document:
        try:
            pmid = citation_pmid(elem)
            if not pmid.isdigit():
                raise ValueError(f"citation has no numeric PMID (got {pmid!r})")
            text, metadata = citation_to_text(elem)
        except Exception as err:  # one bad citation never stops the file
            return self.quarantine(path, position, err)
        occurrence = seen.get(int(pmid), 0)
        seen[int(pmid)] = occurrence + 1
        reason = index.drop_reason(int(pmid), file_index, occurrence)
        if reason is None and not metadata["has_abstract"]:
            reason = NO_ABSTRACT
        metadata.update(source=self.source, kind=self.kind, file_path=str(path), position=position)
        doc_id = f"pmid{pmid}"
        if reason is not None:
            metadata["drop_reason"] = reason
            self.stat_update(reason)
            if reason != NO_ABSTRACT:  # keep ids unique: the kept version owns pmid<PMID>
                doc_id = f"pmid{pmid}@{path.name}#{position}"
        return Document(text=text, id=doc_id, metadata=metadata)
