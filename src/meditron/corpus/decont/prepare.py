"""The contamination-index step: builds the benchmark n-gram index once, before any document is read, and saves it
with its summary in the work folder; every decontamination task loads it from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.decont.index import build_benchmark_index
from meditron.json_io import write_json_atomic


class ContaminationIndexWriter(PipelineStep):
    """One-task stage: index the benchmark test items (``benchmarks_dir`` None: write why the check is skipped)."""

    name = "🧪 Benchmark index"
    type = "🧪 - DECONTAMINATION"

    def __init__(self, *, benchmarks_dir: Path | None, benchmarks: list[str], ngram: int, min_item_words: int,
                 action: str, summary_file: Path, index_file: Path, skipped: str | None = None):
        super().__init__()
        self.benchmarks_dir, self.benchmarks = benchmarks_dir, benchmarks
        self.ngram, self.min_item_words, self.action = ngram, min_item_words, action
        self.summary_file, self.index_file, self.skipped = Path(summary_file), Path(index_file), skipped

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        summary: dict[str, Any] = {"enabled": False}
        if self.benchmarks_dir is None:
            if self.skipped:
                summary["skipped"] = self.skipped
        else:
            index = build_benchmark_index(self.benchmarks_dir, self.benchmarks, self.ngram, self.min_item_words)
            index.save(self.index_file)
            summary = {"enabled": True, "action": self.action, **index.summary,
                       "item_benchmarks": dict(zip(index.item_ids, index.item_benchmarks, strict=False))}
        write_json_atomic(self.summary_file, summary, indent=None)
        if data:  # another preparation step before this one (a stage's steps are chained generators)
            yield from data
