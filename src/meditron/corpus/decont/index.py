"""An n-gram index of benchmark items, and the lookup of a document's n-grams in it.

Words are lower-cased runs of ASCII letters/digits and non-ASCII characters. All word hashes of a document are
computed at once with numpy (a polynomial hash from prefix sums; the same in every process, unlike ``hash()``) and
n-gram hashes are rolled over them, so checking a 100k-character paper is a few vector operations per n. An item
contributes the n-grams of its question and, separately, of its context (PubMedQA's contexts are PubMed abstracts);
an item shorter than n words is matched whole when it has at least
``min_item_words`` words, otherwise it is listed as unchecked. The index is two sorted arrays (gram hash → item).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from meditron.errors import InputError

_MULT = np.uint64(0x9E3779B97F4A7C15)
_BITMAP_SIZE = 1 << 23
_BITMAP_MASK = np.uint64(_BITMAP_SIZE - 1)
_P = 0x100000001B3  # odd, so invertible modulo 2**64


def _inverse(a: int) -> int:
    x = 1
    for _ in range(7):  # Newton iteration doubles the correct low bits: 1 → 64+
        x = (x * (2 - a * x)) % (1 << 64)
    return x


_P64, _Q64 = np.uint64(_P), np.uint64(_inverse(_P))
#: word bytes: ASCII letters/digits/underscore (after lower-casing) and every non-ASCII byte
_IS_WORD = np.zeros(256, np.bool_)
_IS_WORD[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789_", np.uint8)] = True
_IS_WORD[0x80:] = True


def _word_spans(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.frombuffer(text.lower().encode("utf-8", errors="replace"), dtype=np.uint8)
    edges = np.diff(np.concatenate(([0], _IS_WORD[data].view(np.int8), [0])))
    return data, np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def normalize_words(text: str) -> list[str]:
    """The words the index sees: lower-cased runs of letters, digits, ``_`` and non-ASCII characters."""
    data, starts, ends = _word_spans(text)
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8", errors="replace") for a, b in zip(starts, ends, strict=True)]


_POWERS: list[np.ndarray] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Q**i and P**i for i < n, from a table grown by doubling (shared by all calls in a process)."""
    if not _POWERS or len(_POWERS[0]) < n:
        size = max(n, 2 * len(_POWERS[0]) if _POWERS else 1 << 16)
        with np.errstate(over="ignore"):
            tables = [np.cumprod(np.concatenate(([np.uint64(1)], np.full(size - 1, x, np.uint64)))) for x in (_Q64, _P64)]
        _POWERS[:] = tables
    return _POWERS[0][:n], _POWERS[1][:n]


def _word_hashes_of(text: str) -> np.ndarray:
    """A 64-bit hash per word, all words at once: polynomial hash via prefix sums (uint64 arithmetic wraps)."""
    data, starts, ends = _word_spans(text)
    if not len(starts):
        return np.zeros(0, np.uint64)
    q_pow, p_pow = _powers(len(data))
    with np.errstate(over="ignore"):
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(data.astype(np.uint64) * q_pow, dtype=np.uint64)))
        h = (prefix[ends] - prefix[starts]) * p_pow[ends - 1]  # = sum b_i P^(end-1-i): position-free
        h ^= h >> np.uint64(29)
        h *= _MULT
        h ^= h >> np.uint64(32)
    return h


def ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """Rolling hash of every run of ``n`` consecutive words (uint64 arithmetic wraps, which is what we want)."""
    count = len(word_hashes) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    acc = np.zeros(count, np.uint64)
    with np.errstate(over="ignore"):
        for i in range(n):
            acc = acc * _MULT + word_hashes[i : i + count]
    return acc


def _all_ngram_hashes(word_hashes: np.ndarray, lengths: tuple[int, ...]):
    """``(n, ngram_hashes(word_hashes, n))`` for each n in ``lengths``, sharing the rolling work (one op per extra n)."""
    wanted = set(lengths)
    acc = word_hashes
    with np.errstate(over="ignore"):
        for n in range(1, max(lengths, default=0) + 1):
            if n > 1:
                acc = acc[:-1] * _MULT + word_hashes[n - 1 :]
            if n in wanted:
                yield n, acc
            if not len(acc):
                return


class BenchmarkNgramIndex:
    """Sorted gram hashes with the item each came from; ``lengths`` are the n-gram sizes in use."""

    def __init__(
        self,
        ngram: int,
        item_ids: list[str],
        item_benchmarks: list[str],
        keys: np.ndarray | None = None,
        items: np.ndarray | None = None,
        lengths: tuple[int, ...] = (),
        summary: dict[str, Any] | None = None,
    ):
        self.ngram = ngram
        self.item_ids = item_ids
        self.item_benchmarks = item_benchmarks
        self.keys = keys if keys is not None else np.zeros(0, np.uint64)
        self.items = items if items is not None else np.zeros(0, np.int32)
        self.lengths = lengths
        self.summary = summary or {}

    def save(self, path: Path) -> None:
        """The arrays as ``.npz`` (no pickled objects), for the decontamination tasks of later stages to load."""
        np.savez(path, keys=self.keys, items=self.items, item_ids=np.asarray(self.item_ids, dtype=str),
                 item_benchmarks=np.asarray(self.item_benchmarks, dtype=str),
                 meta=np.asarray([self.ngram, *self.lengths], dtype=np.int64))

    @classmethod
    def load(cls, path: Path) -> BenchmarkNgramIndex:
        with np.load(path, allow_pickle=False) as f:
            ngram, *lengths = (int(x) for x in f["meta"])
            return cls(ngram, f["item_ids"].tolist(), f["item_benchmarks"].tolist(), f["keys"], f["items"],
                       tuple(lengths))

    def __repr__(self) -> str:  # datatrove logs the pipeline as JSON: keep it short
        return f"BenchmarkNgramIndex(ngram={self.ngram}, items={len(self.item_ids)}, grams={len(self.keys)})"

    def _prefilter(self) -> np.ndarray:
        """A bitmap over the low bits of the gram hashes: most document grams are rejected by one array lookup."""
        bitmap = getattr(self, "_bitmap", None)
        if bitmap is None:
            bitmap = np.zeros(_BITMAP_SIZE, np.bool_)
            bitmap[(self.keys & _BITMAP_MASK).astype(np.int64)] = True
            self._bitmap = bitmap
        return bitmap

    def lookup(self, text: str) -> list[str]:
        """Ids of the items that share at least one n-gram with ``text`` (sorted)."""
        if not len(self.keys):
            return []
        bitmap = self._prefilter()
        hashes = _word_hashes_of(text)
        candidates = [g[bitmap[(g & _BITMAP_MASK).astype(np.int64)]] for _, g in _all_ngram_hashes(hashes, self.lengths)]
        grams = np.concatenate(candidates) if candidates else np.zeros(0, np.uint64)
        if not len(grams):
            return []
        pos = np.searchsorted(self.keys, grams)
        pos[pos >= len(self.keys)] = 0
        hits: set[int] = set()
        for g in np.unique(grams[self.keys[pos] == grams]):
            lo, hi = np.searchsorted(self.keys, g, "left"), np.searchsorted(self.keys, g, "right")
            hits.update(int(i) for i in self.items[lo:hi])
        return sorted(self.item_ids[i] for i in hits)


def _item_grams(parts: tuple[str, ...], ngram: int, min_item_words: int, lengths: set[int]) -> list[np.ndarray]:
    """The n-gram hashes of each part of an item (question, context); a part shorter than ``ngram`` words counts
    whole when it has ``min_item_words``. The n-gram sizes used are added to ``lengths``."""
    grams = []
    for part in parts:
        hashes = _word_hashes_of(part)
        n = ngram if len(hashes) >= ngram else len(hashes) if len(hashes) >= min_item_words else 0
        if n:
            grams.append(ngram_hashes(hashes, n))
            lengths.add(n)
    return grams


def build_benchmark_index(
    benchmarks_dir: str | Path, names: list[str], ngram: int = 13, min_item_words: int = 8
) -> BenchmarkNgramIndex:
    """Index the test items of every benchmark in ``names`` found under ``benchmarks_dir``.

    A benchmark whose files are absent is reported in ``summary["skipped"]`` (the run goes on, and the report says
    which benchmarks were not checked); a malformed file raises the loader's ``InputError``.
    """
    from meditron.benchmarks import BENCHMARKS, find_benchmark_files, load_benchmark

    found = find_benchmark_files(benchmarks_dir)
    item_ids: list[str] = []
    item_benchmarks: list[str] = []
    keys: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    lengths: set[int] = set()
    summary: dict[str, Any] = {"ngram": ngram, "benchmarks": {}, "skipped": {}, "unchecked_items": []}
    seen_ids: set[str] = set()
    for name in names:
        if name not in found:
            summary["skipped"][name] = f"no official files under {benchmarks_dir}"
            continue
        try:
            bset = load_benchmark(name, benchmarks_dir, split="test")
        except InputError as e:
            summary["skipped"][name] = str(e)
            continue
        checked = 0
        for item in bset.items:
            if item.id in seen_ids:
                continue
            seen_ids.add(item.id)
            idx = len(item_ids)
            item_ids.append(item.id)
            item_benchmarks.append(name)
            item_grams = _item_grams((item.question, item.context or ""), ngram, min_item_words, lengths)
            if not item_grams:
                summary["unchecked_items"].append(item.id)
                continue
            checked += 1
            grams = np.unique(np.concatenate(item_grams))
            keys.append(grams)
            owners.append(np.full(len(grams), idx, np.int32))
        summary["benchmarks"][name] = {
            "items": len(bset.items),
            "checked": checked,
            "source_files": [str(p) for p in bset.source_files],
            "missing": list(bset.missing),
        }
    for name in BENCHMARKS:  # so the evaluation stage never counts an unchecked benchmark's items as clean
        if name not in names:
            summary["skipped"][name] = "not listed in corpus.decontamination.benchmarks"
    if not keys:
        return BenchmarkNgramIndex(ngram, item_ids, item_benchmarks, summary=summary)
    all_keys, all_items = np.concatenate(keys), np.concatenate(owners)
    order = np.lexsort((all_items, all_keys))
    return BenchmarkNgramIndex(
        ngram, item_ids, item_benchmarks, all_keys[order], all_items[order], tuple(sorted(lengths, reverse=True)),
        summary,
    )
