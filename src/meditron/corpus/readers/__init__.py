"""Corpus readers (datatrove steps) and ``build_reader``, the one factory the pipeline uses.

Registry with lazy targets: source kind → ``"module:Class"``, imported on first use. ``SourceConfig.kind``'s Literal
lists the same names (a test keeps them equal).
"""

from __future__ import annotations

from datatrove.pipeline.base import PipelineStep

from meditron.corpus.config import MarkupConfig, ReadLimitsConfig, SourceConfig
from meditron.errors import ConfigError
from meditron.registry import resolve

READERS: dict[str, str] = {
    "jats": "meditron.corpus.readers.jats:JatsReader",
    "medline": "meditron.corpus.readers.medline:MedlineReader",
    "guideline_jsonl": "meditron.corpus.readers.guideline:GuidelineJsonlReader",
    "guideline_html": "meditron.corpus.readers.guideline:GuidelineFileReader",
    "guideline_markdown": "meditron.corpus.readers.guideline:GuidelineFileReader",
    "guideline_pdf": "meditron.corpus.readers.guideline:GuidelineFileReader",
    "jsonl": "meditron.corpus.mixing.readers:ReplayJsonlReader",  # general-domain replay data
    "parquet": "meditron.corpus.mixing.readers:ReplayParquetReader",
}


def reader_class(kind: str) -> type[PipelineStep]:
    return resolve(READERS, kind, "corpus source kind")


def build_reader(source: SourceConfig, limit: int = -1, limits: ReadLimitsConfig | None = None,
                 markup: MarkupConfig | None = None) -> PipelineStep:
    """The reader step for one configured source.

    ``source.paths`` may be files, folders (read recursively) or globs, each possibly ``sample:``-prefixed; a path
    that matches nothing raises ``InputError`` here, before any worker starts. Guideline kinds take ``source.site``
    (site rules, e.g. ``cdc``; default ``generic``). ``limits``: ``corpus.limits`` (decompressed-size caps);
    ``markup``: ``corpus.markup`` (how the JATS reader spells its structure markers).
    """
    cls = reader_class(source.kind)
    kwargs: dict = {"paths": source.paths, "source": source.name, "limit": limit, "limits": limits}
    if source.exclude_ids_file is not None:
        if source.kind != "jats":
            raise ConfigError(f"corpus source {source.name!r}: exclude_ids_file applies to kind jats, not {source.kind}")
        kwargs["exclude_ids_file"] = source.exclude_ids_file
    if source.kind == "jats" and markup is not None:
        kwargs["markup"] = markup.cleaner_markup()
    if source.kind.startswith("guideline"):
        kwargs["site"] = source.site
        if source.kind != "guideline_jsonl":
            kwargs["fmt"] = source.kind.removeprefix("guideline_")
    return cls(**kwargs)


__all__ = ["READERS", "build_reader", "reader_class"]
