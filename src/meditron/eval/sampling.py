"""``--limit N``: a seeded random sample of a benchmark, stratified so a quick run keeps the benchmark's label mix.

Taking the first N items is wrong on real files: PubMedQA's official test file is sorted by label, so its first 50 items
are all "yes" and a model that always answers yes scores 100. The sample keeps each stratum's share (largest-remainder
allocation), draws within a stratum with ``random.Random(seed)`` and returns the items in file order, so the same seed
always gives the same items and a different seed (almost always) different ones.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from typing import Any

from meditron.benchmarks import BenchmarkItem


def stratum_kind(benchmark: str) -> str:
    """What a benchmark's sample is stratified by: the subject (MMLU, TruthfulQA categories) or the gold label."""
    return "subject" if benchmark in ("mmlu_medical", "truthfulqa", "truthfulqa_med") else "gold label"


def _stratum(item: BenchmarkItem) -> str:
    return str(item.subject) if stratum_kind(item.benchmark) == "subject" else item.answer


def _allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional shares of ``n`` (largest remainder; ties → larger stratum, then name) capped at each size."""
    total = sum(sizes.values())
    exact = {k: n * v / total for k, v in sizes.items()}
    share = {k: int(x) for k, x in exact.items()}
    order = sorted(sizes, key=lambda k: (-(exact[k] - share[k]), -sizes[k], k))
    for k in order[: n - sum(share.values())]:
        share[k] += 1
    return share


def stratified_sample(items: list[BenchmarkItem], n: int, seed: int) -> list[BenchmarkItem]:
    """``n`` items drawn at random with ``seed``, each stratum keeping its share; all items when ``n >= len(items)``."""
    if n >= len(items):
        return list(items)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[_stratum(item)].append(i)
    share = _allocate({k: len(v) for k, v in groups.items()}, n)
    rng = random.Random(seed)
    chosen: list[int] = []
    for key in sorted(groups):
        chosen.extend(rng.sample(groups[key], share[key]))
    return [items[i] for i in sorted(chosen)]


def sample_record(items: list[BenchmarkItem], sample: list[BenchmarkItem], limit: int | None, seed: int) -> dict:
    """What results.json says about the sample: whether the run is limited, its seed, ids, their hash, label mix."""
    ids = [it.id for it in sample]
    limited = limit is not None and len(sample) < len(items)
    out: dict[str, Any] = {"limited": limited, "limit": limit, "sample_seed": seed if limited else None}
    if limited:
        counts: dict[str, int] = defaultdict(int)
        for it in sample:
            counts[_stratum(it)] += 1
        out.update(
            stratified_by=stratum_kind(sample[0].benchmark) if sample else None,
            strata=dict(sorted(counts.items())),
            sampled_ids=ids,
            sampled_ids_sha256=hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(),
        )
    return out
