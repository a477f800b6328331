"""The MEDLINE pre-scan as a preparation step: built once per run, not once per task.

Which version of a PMID is the latest, and whether it was deleted, depends on *every* MEDLINE file, so each task of
the filter stage would otherwise pre-scan the whole source before reading its own share: with ``T`` tasks that is
``T`` passes over all the XML (at 512 tasks over the ~1,200 baseline files, the pre-scan alone would cost every task
as much as reading the whole baseline once). The ``prepare`` stage runs this step once; the readers of the filter
stage load the saved index (memory-mapped ``.npy`` files in the run's work folder).
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.readers.medline import MedlineIndex, MedlineReader


class MedlineIndexWriter(PipelineStep):
    """Pre-scan every file of one MEDLINE source and save the index where its reader will look for it."""

    name = "🗂 MEDLINE pre-scan"
    type = "📖 - READER"

    def __init__(self, reader: MedlineReader, index_dir: Path):
        super().__init__()
        self.files, self.limits, self.index_dir = list(reader.files), reader.limits, Path(index_dir)
        reader.index_dir = self.index_dir

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.track_time():
            index = MedlineIndex(self.files, self.limits)
            index.save(self.index_dir, self.files)
        self.stat_update("pmids", value=len(index.pmids))
        if data:  # other preparation steps before this one
            yield from data
