"""The MEDLINE pre-scan as preparation steps: each file scanned once per run, in parallel, then merged once.

Which version of a PMID is the latest, and whether it was deleted, depends on *every* MEDLINE file, so each task of
the filter stage would otherwise pre-scan the whole source before reading its own share: with ``T`` tasks that is
``T`` passes over all the XML (at 512 tasks over the ~1,200 baseline files, the pre-scan alone would cost every task
as much as reading the whole baseline once). Instead the ``medline-scan`` stage splits the files over its tasks
(:class:`MedlineEventScanner`, one ``.npz`` of events per file), the ``prepare`` stage merges them into the index
(:class:`MedlineIndexWriter`, numpy sorts: seconds for millions of PMIDs) and the readers of the filter stage load the
saved index (memory-mapped ``.npy`` files in the run's work folder).
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.readers.medline import FileEvents, MedlineIndex, MedlineReader, scan_file


def events_file(events_dir: Path, file_index: int) -> Path:
    return Path(events_dir) / f"{file_index:06d}.npz"


class MedlineEventScanner(PipelineStep):
    """Pre-scan this task's share of one MEDLINE source's files (file ``i`` goes to task ``i mod tasks``)."""

    name = "🗂 MEDLINE pre-scan (files)"
    type = "📖 - READER"

    def __init__(self, reader: MedlineReader, events_dir: Path):
        super().__init__()
        self.files, self.limits, self.events_dir = list(reader.files), reader.limits, Path(events_dir)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.events_dir.mkdir(parents=True, exist_ok=True)
        for i in range(rank, len(self.files), world_size):
            with self.track_time():
                events = scan_file(self.files[i], self.limits)
                events.save(events_file(self.events_dir, i))
            self.stat_update("files")
            self.stat_update("events", value=len(events.pmids))
        if data:  # other steps before this one
            yield from data


class MedlineIndexWriter(PipelineStep):
    """Build the index of one MEDLINE source and save it where its reader will look for it: from the per-file events
    of :class:`MedlineEventScanner` when ``events_dir`` is given, else by scanning every file here."""

    name = "🗂 MEDLINE pre-scan (index)"
    type = "📖 - READER"

    def __init__(self, reader: MedlineReader, index_dir: Path, events_dir: Path | None = None):
        super().__init__()
        self.files, self.limits, self.index_dir = list(reader.files), reader.limits, Path(index_dir)
        self.events_dir = Path(events_dir) if events_dir is not None else None
        reader.index_dir = self.index_dir

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.track_time():
            if self.events_dir is None:
                index = MedlineIndex(self.files, self.limits)
            else:
                events = [FileEvents.load(events_file(self.events_dir, i)) for i in range(len(self.files))]
                index = MedlineIndex.from_events(events)
            index.save(self.index_dir, self.files)
        self.stat_update("pmids", value=len(index.pmids))
        if data:  # other preparation steps before this one
            yield from data
