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
from meditron.corpus.cleaners.xml import describe_xml_error, xml_parser
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

    def read_file(self, path: Path) -> Iterator[Document]:
        name = path.name.lower()
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            yield from self._read_tar(path)
            return
        try:
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
        tag = root.tag if isinstance(root.tag, str) else ""
        local = tag.rsplit("}", 1)[-1]
        if local == "article":
            articles = [root]
        elif local in ("pmc-articleset", "articles", "article-set"):
            articles = [a for a in root if isinstance(a.tag, str) and a.tag.rsplit("}", 1)[-1] == "article"]
        else:
            yield self.quarantine(where, 0, f"not a JATS article: root element <{local}>")
            return
        multi = len(articles) > 1
        for position, article in enumerate(articles):
            try:
                text, metadata = article_to_text(article)
            except Exception as err:  # noqa: BLE001 - one bad article never stops the file
                yield self.quarantine(where, position, err)
                continue
            metadata["source"] = self.source
            metadata["kind"] = self.kind
            metadata["file_path"] = where
            doc_id = paper_id(metadata, f"{fallback_id}-{position}" if multi else fallback_id)
            yield Document(text=text, id=doc_id, metadata=metadata)
            article.clear()
