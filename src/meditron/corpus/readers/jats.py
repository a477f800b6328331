"""``JatsReader``: PMC full papers (JATS 1.x, NLM 2.x/3.x) from ``.nxml``/``.xml`` files, gzip, PMC OA ``.tar.gz``
bundles and ``<pmc-articleset>`` efetch files, as MEDITRON-shaped text (see ``cleaners/jats.py``), streamed with
the caps of ``corpus.limits``."""

from __future__ import annotations

import gzip
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document
from lxml import etree

from meditron.corpus.cleaners.jats import DEFAULT_MARKUP, Markup, article_to_text
from meditron.corpus.cleaners.xml import describe_xml_error
from meditron.corpus.config import ReadLimitsConfig
from meditron.corpus.readers.base import CorpusReader
from meditron.corpus.readers.bounded import (
    ArchiveLimitExceeded,
    BoundedStream,
    ReadLimitExceeded,
    XmlRecords,
    open_bounded,
)
from meditron.errors import InputError

JATS_SUFFIXES = (".nxml", ".xml", ".nxml.gz", ".xml.gz", ".tar.gz", ".tgz", ".tar")
_MEMBER_SUFFIXES = (".nxml", ".xml", ".nxml.gz", ".xml.gz")


def paper_id(metadata: dict, fallback: str) -> str:
    """``pmc<PMCID>``; papers without one get ``jats-pmid<PMID>`` / ``jats-doi<DOI>`` / ``jats-<file>`` so they never
    collide with abstract ids (``pmid<PMID>``)."""
    if metadata.get("pmcid"):
        return "pmc" + metadata["pmcid"][3:]
    if metadata.get("pmid"):
        return f"jats-pmid{metadata['pmid']}"
    if metadata.get("doi"):
        return f"jats-doi{metadata['doi']}"
    return f"jats-{fallback}"


class JatsReader(CorpusReader):
    """One Document per ``<article>``; a file that does not parse, or an empty article, is one quarantine record.

    Every file, gzip and tar member is streamed through the parser in chunks (``bounded.py``): each ``<article>`` is
    rendered at its end tag, then freed; a file or an article over ``corpus.limits`` is quarantined with the limit.
    """

    name = "JATS full papers"
    kind = "jats"
    suffixes = JATS_SUFFIXES

    def __init__(self, paths, source: str, limit: int = -1, limits: ReadLimitsConfig | None = None,
                 exclude_ids_file: str | Path | None = None, markup: Markup | None = None):
        super().__init__(paths, source, limit=limit, limits=limits)
        self.exclusions = Exclusions.load(exclude_ids_file) if exclude_ids_file else Exclusions()
        self.markup = markup or DEFAULT_MARKUP  # spelling of the markers and caption length (corpus.markup)

    def read_file(self, path: Path) -> Iterator[Document]:
        if path.name.lower().endswith((".tar.gz", ".tgz", ".tar")):
            yield from self._read_tar(path)
            return
        try:
            with open_bounded(path, self.limits.max_file_bytes) as stream:
                yield from self._read_xml(stream, str(path), path.name)
        except OSError as err:  # unreadable file (the parse errors are handled in _read_xml)
            yield self.quarantine(path, 0, err)

    def _read_tar(self, path: Path) -> Iterator[Document]:
        try:
            # the archive is streamed (``r|``) through the file cap: a bomb of skipped members is stopped too
            with open_bounded(path, self.limits.max_file_bytes, ArchiveLimitExceeded) as whole, \
                    tarfile.open(fileobj=whole, mode="r|") as tar:
                for member in tar:
                    tar.members = []  # tarfile keeps every header otherwise: O(members) memory on PMC bundles
                    if not member.isfile() or not member.name.lower().endswith(_MEMBER_SUFFIXES):
                        continue
                    handle = tar.extractfile(member)
                    if handle is None:
                        continue
                    raw = gzip.GzipFile(fileobj=handle) if member.name.lower().endswith(".gz") else handle
                    where = f"{path}:{member.name}"
                    yield from self._read_xml(BoundedStream(raw, self.limits.max_file_bytes, where), where,
                                              Path(member.name).name, package=path.name)
        except (OSError, EOFError, tarfile.TarError, ReadLimitExceeded, ArchiveLimitExceeded) as err:
            yield self.quarantine(path, "tar", err)

    def _read_xml(self, stream: Any, where: str, fallback_id: str, package: str | None = None) -> Iterator[Document]:
        """Stream one XML document (a single ``<article>`` or a ``<pmc-articleset>``) and render each article."""
        position = 0
        etree.clear_error_log()
        records = XmlRecords(stream, self.limits.max_record_bytes, tag=("article", "{*}article"))
        try:
            for _, article in records:
                parent = article.getparent()
                if parent is not None and (_local(parent) not in _SET_TAGS or parent.getparent() is not None):
                    root = article.getroottree().getroot()
                    yield self.quarantine(where, position, f"not a JATS article: root element <{_local(root)}>")
                    return
                yield self._excluded(self._render(article, where, position, fallback_id), fallback_id, package)
                records.record_done()
                position += 1
                if parent is not None:
                    while article.getprevious() is not None:
                        del parent[0]
            if position == 0:
                yield self.quarantine(where, 0, f"not a JATS article: root element <{_local(records.root)}>")
        except (etree.XMLSyntaxError, OSError, EOFError, ValueError) as err:
            lost = f" (articles after #{position} lost)" if position else ""
            yield self.quarantine(where, position, f"{describe_xml_error(err)}{lost}")

    def _excluded(self, doc: Document, member: str, package: str | None) -> Document:
        """Mark a retracted/superseded article (``exclude_ids_file``) with its ``drop_reason`` for the ledger."""
        if not self.exclusions or doc.metadata.get("quarantined"):
            return doc
        reason = self.exclusions.reason(doc.metadata.get("pmcid") or member.split(".", 1)[0], package)
        if reason:
            doc.metadata["drop_reason"] = reason
            self.stat_update(f"excluded:{reason}")
        return doc

    def _render(self, article: etree._Element, where: str, position: int, fallback_id: str) -> Document:
        try:
            text, metadata = article_to_text(article, self.markup)
        except Exception as err:  # one bad article never stops the file
            return self.quarantine(where, position, err)
        metadata["source"] = self.source
        metadata["kind"] = self.kind
        metadata["file_path"] = where
        in_set = article.getparent() is not None
        article.clear()
        return Document(
            text=text, id=paper_id(metadata, f"{fallback_id}-{position}" if in_set else fallback_id), metadata=metadata
        )


_SET_TAGS = ("pmc-articleset", "articles", "article-set")


class Exclusions:
    """Accessions not to curate, from ``excluded.json`` (``meditron corpus download pmc-oa``): ``ids`` everywhere,
    ``by_file`` only in the named package (an older copy that a later package supersedes)."""

    def __init__(self, ids: dict[str, str] | None = None, by_file: dict[str, dict[str, str]] | None = None):
        self.ids = {k.upper(): v for k, v in (ids or {}).items()}
        self.by_file = {f: {k.upper(): v for k, v in m.items()} for f, m in (by_file or {}).items()}

    @classmethod
    def load(cls, path: str | Path) -> Exclusions:
        file = Path(path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            return cls(data.get("ids") or {}, data.get("by_file") or {})
        except (OSError, ValueError, AttributeError) as err:
            raise InputError(f"exclude_ids_file is not a readable excluded.json ({err})", path=str(file)) from None

    def __bool__(self) -> bool:
        return bool(self.ids or self.by_file)

    def reason(self, accession: str, package: str | None) -> str | None:
        key = accession.upper()
        return self.ids.get(key) or (self.by_file.get(package, {}).get(key) if package else None)


def _local(el: etree._Element | None) -> str:
    tag = el.tag if el is not None and isinstance(el.tag, str) else ""
    return tag.rsplit("}", 1)[-1]
