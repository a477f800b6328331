"""The hand-off between the filtering stage and the dedup/tokenize stage: one JSONL file per task.

Read back by task rank (not by datatrove's ``files[rank::world_size]`` split) so task *r* of the last stage always
reads what task *r* of the first stage wrote, which the index-based dedup removals rely on — even when a task wrote
no documents at all.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.pipeline.writers.jsonl import JsonlWriter


class IntermediateWriter(JsonlWriter):
    name = "💾 Filtered documents"

    def __init__(self, folder: str | Path):
        super().__init__(str(folder), output_filename="${rank}.jsonl", compression=None)


class IntermediateReader(JsonlReader):
    name = "💾 Filtered documents"

    def __init__(self, folder: str | Path):
        Path(folder).mkdir(parents=True, exist_ok=True)
        super().__init__(str(folder), compression=None, add_file_path=False)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        name = f"{rank:05d}.jsonl"
        if self.data_folder.isfile(name):
            yield from self.read_files_shard([name])
