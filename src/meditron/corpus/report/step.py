"""The last stage of the corpus pipeline, as a datatrove step, so Slurm/Ray runs finish (and report) on their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.report.writer import RunFacts, finalize_corpus

if TYPE_CHECKING:
    from meditron.corpus.paths import CorpusPaths
    from meditron.run import RunDir


class CorpusFinalizer(PipelineStep):
    """Runs ``finalize_corpus`` as a one-task stage."""

    name = "📊 Corpus report"
    type = "📊 - REPORT"

    def __init__(self, *, paths: CorpusPaths, run: RunDir, facts: RunFacts):
        super().__init__()
        self.paths, self.run_dir, self.facts = paths, run, facts

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        finalize_corpus(self.paths, self.run_dir, self.facts)
        return
        yield


__all__ = ["CorpusFinalizer", "RunFacts"]
