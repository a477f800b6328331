"""Pretraining samples from token shards: fixed-length sequences, blended across sources by weight.

A sample is a function of its global index and the seed only — never of the number of ranks — so a run can stop on
8 GPUs and resume on 16 and still see exactly the same tokens (Megatron-style blending, computed lazily):

* each source's tokens (all its ``.ds`` files, in manifest order) are cut into ``num_samples = tokens // seq_len``
  non-overlapping sequences; documents are concatenated with their EOS, as the corpus stage wrote them;
* global indices are grouped in blocks of ``block_size``; each block holds a fixed count per source (largest-remainder
  rounding of ``weight × block_size``), shuffled within the block by ``(seed, block)``;
* the k-th draw of a source is sample ``perm_e[k mod n]`` of that source, with ``e = k // n`` the source epoch and
  ``perm_e`` a permutation seeded by ``(seed, source, e)``: sources smaller than their share repeat, each repeat in a
  new order.

Samples follow the trainer contract (docs/ARCHITECTURE.md): ``{"input_ids": int64[L], "labels": int64[L]}`` with
labels aligned to inputs (the trainer shifts them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from meditron.data.shards import TokenFile, TokenShards
from meditron.errors import ConfigError, InputError

DEFAULT_BLOCK_SIZE = 8192


def _seed(*parts: object) -> int:
    """A stable 64-bit seed from strings/ints (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


class TokenSequences:
    """One source/split as ``num_samples`` fixed-length sequences read from memory-mapped files (no copy of the corpus)."""

    def __init__(self, files: list[TokenFile], seq_len: int, name: str = ""):
        self.files = [f for f in files if len(f.tokens)]
        self.seq_len = seq_len
        self.name = name
        sizes = np.array([len(f.tokens) for f in self.files], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.num_tokens = int(self.offsets[-1])
        self.num_samples = self.num_tokens // seq_len

    def __len__(self) -> int:
        return self.num_samples

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Tokens ``[start, stop)`` of the concatenated files, as int64."""
        out = np.empty(stop - start, dtype=np.int64)
        pos = start
        file_idx = int(np.searchsorted(self.offsets, start, side="right") - 1)
        while pos < stop:
            f = self.files[file_idx]
            lo = pos - int(self.offsets[file_idx])
            hi = min(len(f.tokens), lo + (stop - pos))
            out[pos - start : pos - start + hi - lo] = f.tokens[lo:hi]
            pos += hi - lo
            file_idx += 1
        return out

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not 0 <= i < self.num_samples:
            raise IndexError(f"sample {i} out of range for {self.name!r} ({self.num_samples} samples)")
        ids = self.tokens(i * self.seq_len, (i + 1) * self.seq_len)
        return {"input_ids": ids, "labels": ids.copy()}


def block_counts(weights: np.ndarray, block_size: int) -> np.ndarray:
    """Samples per source in each block: ``weights × block_size`` rounded by largest remainder, each ≥ 1 if weighted."""
    raw = weights / weights.sum() * block_size
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    for j in order[: block_size - int(counts.sum())]:
        counts[j] += 1
    # A source with a positive weight too small to round to one sample still appears once per block.
    for j in np.flatnonzero((counts == 0) & (weights > 0)):
        counts[int(np.argmax(counts))] -= 1
        counts[j] = 1
    return counts


class BlendedDataset:
    """Global sample index → a sample of one source, by weight; infinite (indices wrap sources by epochs).

    ``len()`` is the number of distinct samples (one pass over every source); any index ≥ 0 is valid.
    """

    def __init__(
        self,
        sources: Mapping[str, TokenSequences],
        weights: Mapping[str, float],
        seed: int,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ):
        self.names = [n for n in sorted(sources) if weights.get(n, 0) > 0]
        if not self.names:
            raise ConfigError("no source with a positive weight and at least one full sequence to train on")
        for n in self.names:
            if len(sources[n]) == 0:
                raise InputError(
                    f"source {n!r} has {sources[n].num_tokens} tokens: fewer than one sequence of {sources[n].seq_len}"
                )
        self.sources = [sources[n] for n in self.names]
        self.weights = np.array([float(weights[n]) for n in self.names], dtype=np.float64)
        self.seed = seed
        self.block_size = block_size
        self.counts = block_counts(self.weights, block_size)
        self._base = np.repeat(np.arange(len(self.names)), self.counts)

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    @property
    def shares(self) -> dict[str, float]:
        """The realised share of each source in every block (≈ the normalised weights)."""
        return {n: float(c) / self.block_size for n, c in zip(self.names, self.counts, strict=True)}

    @lru_cache(maxsize=4)  # noqa: B019 — a few live blocks; the dataset lives as long as the run
    def _block(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        """(source of each position, draw number of each position) for one block."""
        rng = np.random.default_rng(_seed(self.seed, "block", block))
        src = self._base[rng.permutation(self.block_size)]
        ordinal = np.empty(self.block_size, dtype=np.int64)
        for j in range(len(self.names)):
            where = np.flatnonzero(src == j)
            ordinal[where] = block * self.counts[j] + np.arange(len(where))
        return src, ordinal

    @lru_cache(maxsize=16)  # noqa: B019
    def _perm(self, source: int, epoch: int) -> np.ndarray:
        rng = np.random.default_rng(_seed(self.seed, "perm", self.names[source], epoch))
        return rng.permutation(len(self.sources[source]))

    def locate(self, i: int) -> tuple[str, int]:
        """(source name, sample index within the source) of global sample ``i``."""
        if i < 0:
            raise IndexError(f"negative sample index {i}")
        src, ordinal = self._block(i // self.block_size)
        j = int(src[i % self.block_size])
        k = int(ordinal[i % self.block_size])
        n = len(self.sources[j])
        return self.names[j], int(self._perm(j, k // n)[k % n])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        name, idx = self.locate(i)
        return self.sources[self.names.index(name)][idx]


class ConcatDataset:
    """Sources one after the other, in order (the validation stream: no shuffling, no repetition)."""

    def __init__(self, sources: Mapping[str, TokenSequences]):
        self.sources = [sources[n] for n in sorted(sources) if len(sources[n])]
        self.offsets = np.concatenate([[0], np.cumsum([len(s) for s in self.sources])]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not 0 <= i < len(self):
            raise IndexError(f"validation sample {i} out of range ({len(self)})")
        j = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return self.sources[j][i - int(self.offsets[j])]


def build_pretrain_datasets(
    shards_dir: str | Path,
    seq_len: int,
    seed: int,
    weights: Mapping[str, float] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    validation_sources: Collection[str] | None = None,
    weights_key: str = "train.source_weights",
) -> tuple[BlendedDataset, ConcatDataset | None, TokenShards]:
    """The blended training stream and the validation stream (None when there is no validation data).

    ``weights`` default to each source's number of training tokens (the natural mix the corpus stage produced);
    a named source that is absent from the shards is an error (naming ``weights_key``), a source left out gets
    weight 0 and its files are never opened. ``validation_sources`` limits the validation stream to those sources
    (a mixture's own); None takes every source's validation split.
    """
    shards = TokenShards(shards_dir)
    train_names = shards.sources("train")
    if not train_names:
        raise InputError("the shards have no training tokens", path=str(shards.root))
    if weights:
        unknown = sorted(set(weights) - set(train_names))
        if unknown:
            raise ConfigError(f"{weights_key} names {unknown} which have no training tokens (sources: {train_names})")
        w = {n: float(weights.get(n, 0.0)) for n in train_names}
        if any(v < 0 for v in w.values()):
            raise ConfigError(f"{weights_key} must be ≥ 0, got {dict(weights)}")
        train = {n: TokenSequences(shards.files(n, "train"), seq_len, n) for n in train_names if w[n] > 0}
    else:
        train = {n: TokenSequences(shards.files(n, "train"), seq_len, n) for n in train_names}
        w = {n: float(train[n].num_tokens) for n in train_names}
    # A weighted source too short for one sequence is an error; an unweighted one is simply left out.
    usable = {n: s for n, s in train.items() if len(s) or w[n] > 0}
    blended = BlendedDataset(usable, w, seed, block_size)
    val_names = [n for n in shards.sources("validation") if validation_sources is None or n in validation_sources]
    validation = None
    if val_names:
        val = {n: TokenSequences(shards.files(n, "validation"), seq_len, n) for n in val_names}
        validation = ConcatDataset(val)
        if len(validation) == 0:
            validation = None
    return blended, validation, shards
