"""The official benchmark files as data: loaders, the item type and the prompts.

A neutral package below ``corpus``, ``data`` and ``eval``: the decontamination step, the SFT builders and the
evaluation stage all read the benchmarks through it, so none of them imports another stage to do so.
"""

from meditron.benchmarks.items import (
    BENCHMARKS,
    LETTERS,
    MMLU_MEDICAL_SUBJECTS,
    PUBMEDQA_LABELS,
    TRUTHFULQA_MED_CATEGORIES,
    BenchmarkItem,
    BenchmarkSet,
)
from meditron.benchmarks.loaders import find_benchmark_files, load_benchmark, read_benchmark_file

__all__ = [
    "BENCHMARKS",
    "LETTERS",
    "MMLU_MEDICAL_SUBJECTS",
    "PUBMEDQA_LABELS",
    "TRUTHFULQA_MED_CATEGORIES",
    "BenchmarkItem",
    "BenchmarkSet",
    "find_benchmark_files",
    "load_benchmark",
    "read_benchmark_file",
]
