"""GAP-Replay mixing: train/validation splits by id hash, replay sampled to a token share, mixture weights."""

from meditron.corpus.mixing.readers import ReplayJsonlReader, ReplayParquetReader
from meditron.corpus.mixing.replay import ReplaySelector, replay_probability
from meditron.corpus.mixing.split import SplitAssigner, split_of, unit_hash

__all__ = [
    "ReplayJsonlReader",
    "ReplayParquetReader",
    "ReplaySelector",
    "SplitAssigner",
    "replay_probability",
    "split_of",
    "unit_hash",
]
