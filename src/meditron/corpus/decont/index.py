"""An n-gram index of benchmark items, and the lookup of a document's n-grams in it.

Words are lower-cased ``\\w+`` runs. Each word is hashed once (xxh64, the same in every process, unlike ``hash()``),
and n-gram hashes are rolled over those word hashes with numpy, so checking a 100k-character paper costs a few vector
operations per n. An item contributes the n-grams of its question and, separately, of its context (PubMedQA's
contexts are PubMed abstracts); an item shorter than n words is matched whole when it has at least
``min_item_words`` words, otherwise it is listed as unchecked. The index is two sorted arrays (gram hash → item).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from meditron.errors import InputError

_WORD = re.compile(r"\w+", re.UNICODE)
_MULT = np.uint64(0x9E3779B97F4A7C15)
_BITMAP_SIZE = 1 << 23
_BITMAP_MASK = np.uint64(_BITMAP_SIZE - 1)


def normalize_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _word_hashes(words: list[str]) -> np.ndarray:
    return np.fromiter((xxhash.xxh64_intdigest(w) for w in words), dtype=np.uint64, count=len(words))


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
        hashes = _word_hashes(normalize_words(text))
        hits: set[int] = set()
        for n in self.lengths:
            grams = ngram_hashes(hashes, n)
            grams = grams[bitmap[(grams & _BITMAP_MASK).astype(np.int64)]]
            if not len(grams):
                continue
            pos = np.searchsorted(self.keys, grams)
            pos[pos >= len(self.keys)] = 0
            found = np.unique(grams[self.keys[pos] == grams])
            for g in found:
                lo, hi = np.searchsorted(self.keys, g, "left"), np.searchsorted(self.keys, g, "right")
                hits.update(int(i) for i in self.items[lo:hi])
        return sorted(self.item_ids[i] for i in hits)


def build_benchmark_index(
    benchmarks_dir: str | Path, names: list[str], ngram: int = 13, min_item_words: int = 8
) -> BenchmarkNgramIndex:
    """Index the test items of every benchmark in ``names`` found under ``benchmarks_dir``.

    A benchmark whose files are absent is reported in ``summary["skipped"]`` (the run goes on, and the report says
    which benchmarks were not checked); a malformed file raises the loader's ``InputError``.
    """
    from meditron.eval.benchmarks import find_benchmark_files, load_benchmark

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
            item_grams = []
            for part in (item.question, item.context or ""):
                words = normalize_words(part)
                if len(words) >= ngram:
                    item_grams.append(ngram_hashes(_word_hashes(words), ngram))
                    lengths.add(ngram)
                elif len(words) >= min_item_words:
                    item_grams.append(ngram_hashes(_word_hashes(words), len(words)))
                    lengths.add(len(words))
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
    if not keys:
        return BenchmarkNgramIndex(ngram, item_ids, item_benchmarks, summary=summary)
    all_keys, all_items = np.concatenate(keys), np.concatenate(owners)
    order = np.lexsort((all_items, all_keys))
    return BenchmarkNgramIndex(
        ngram, item_ids, item_benchmarks, all_keys[order], all_items[order], tuple(sorted(lengths, reverse=True)),
        summary,
    )
