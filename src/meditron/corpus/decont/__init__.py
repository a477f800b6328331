"""Decontamination against the evaluation benchmarks (n-gram overlap with every test item)."""

from meditron.corpus.decont.filter import DecontFilter
from meditron.corpus.decont.index import BenchmarkNgramIndex, build_benchmark_index, normalize_words
from meditron.corpus.decont.prepare import ContaminationIndexWriter

__all__ = ["BenchmarkNgramIndex", "ContaminationIndexWriter", "DecontFilter", "build_benchmark_index", "normalize_words"]
