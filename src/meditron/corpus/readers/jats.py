"""``JatsReader``: PMC full papers (JATS 1.x, NLM 2.x/3.x) from ``.nxml``/``.xml`` files, gzip, PMC OA ``.tar.gz``
bundles and ``<pmc-articleset>`` efetch files, as MEDITRON-shaped text (see ``cleaners/jats.py``)."""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Iterator
from pathlib import Path

from datatrove.data import Document
from lxml import etree

from meditron.corpus.cleaners.jats import article_to_text
from meditron.corpus.cleaners.xml import describe_xml_error, iterparse_kwargs, xml_parser
from meditron.corpus.readers.base import CorpusReader

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
    """One Document per ``<article>``; a file that does not parse, or an empty article, is one quarantine record."""

    name = "JATS full papers"
    kind = "jats"
    suffixes = JATS_SUFFIXES

    # files larger than this (on disk) are streamed article by article instead of parsed whole (efetch sets)
    stream_threshold_bytes: int = 32 * 1024 * 1024

    def read_file(self, path: Path) -> Iterator[Document]:
        name = path.name.lower()
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            yield from self._read_tar(path)
            return
        try:
            if path.stat().st_size > self.stream_threshold_bytes:
                yield from self._read_stream(path)
                return
            data = path.read_bytes()
            if name.endswith(".gz"):
                data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            yield self.quarantine(path, 0, err)
            return
        yield from self.read_bytes(data, str(path), path.name)

    def _read_tar(self, path: Path) -> Iterator[Document]:
        try:
            with tarfile.open(path, mode="r:*") as tar:
                for member in tar:
                    if not member.isfile() or not member.name.lower().endswith(_MEMBER_SUFFIXES):
                        continue
                    handle = tar.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    if member.name.lower().endswith(".gz"):
                        data = gzip.decompress(data)
                    yield from self.read_bytes(data, f"{path}:{member.name}", Path(member.name).name)
        except (OSError, EOFError, tarfile.TarError) as err:
            yield self.quarantine(path, "tar", err)

    def read_bytes(self, data: bytes, where: str, fallback_id: str) -> Iterator[Document]:
        """Parse one XML document (a single ``<article>`` or a ``<pmc-articleset>``) and render each article."""
        etree.clear_error_log()
        try:
            root = etree.fromstring(data, xml_parser())
        except (etree.XMLSyntaxError, ValueError) as err:
            yield self.quarantine(where, 0, describe_xml_error(err))
            return
        local = _local(root)
        if local == "article":
            articles = [root]
        elif local in _SET_TAGS:
            articles = [a for a in root if _local(a) == "article"]
        else:
            yield self.quarantine(where, 0, f"not a JATS article: root element <{local}>")
            return
        for position, article in enumerate(articles):
            yield self._render(article, where, position, fallback_id)

    def _read_stream(self, path: Path) -> Iterator[Document]:
        """``iterparse`` over a big file: each ``<article>`` is rendered at its end tag, then freed."""
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        position = 0
        etree.clear_error_log()
        try:
            with opener(path, "rb") as handle:
                context = etree.iterparse(handle, events=("end",), tag="article", **iterparse_kwargs())
                for _, article in context:
                    yield self._render(article, str(path), position, path.name)
                    position += 1
                    parent = article.getparent()
                    if parent is not None:
                        while article.getprevious() is not None:
                            del parent[0]
                if position == 0:
                    root = context.root
                    yield self.quarantine(path, 0, f"not a JATS article: root element <{_local(root)}>")
        except (etree.XMLSyntaxError, OSError, EOFError, ValueError) as err:
            yield self.quarantine(path, position, f"{describe_xml_error(err)} (articles after #{position} lost)")

    def _render(self, article: etree._Element, where: str, position: int, fallback_id: str) -> Document:
        try:
            text, metadata = article_to_text(article)
        except Exception as err:  # noqa: BLE001 - one bad article never stops the file
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


def _local(el: etree._Element | None) -> str:
    tag = el.tag if el is not None and isinstance(el.tag, str) else ""
    return tag.rsplit("}", 1)[-1]
