"""Statistics reported with every score: accuracy, a seeded 95% bootstrap interval, calibration error, chance level.

Pure numpy with explicit seeds so the same per-item outcomes always give byte-identical numbers in results.json.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SEED = 20231127  # fixed: the interval depends only on the outcomes, never on the run


def accuracy(correct: Sequence[bool]) -> float:
    return float(sum(correct)) / len(correct) if correct else 0.0


def bootstrap_ci(correct: Sequence[bool], samples: int = 1000, seed: int = BOOTSTRAP_SEED) -> list[float]:
    """Percentile 95% interval of the accuracy over ``samples`` resamples of the items (with replacement)."""
    n = len(correct)
    if n == 0:
        return [0.0, 0.0]
    x = np.asarray(correct, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    means = x[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [round(float(lo), 6), round(float(hi), 6)]


def chance_interval(n: int, num_choices: int, z: float = 1.959964) -> list[float]:
    """Normal-approximation 95% range of a random guesser's accuracy on ``n`` items (for sanity checks)."""
    p = 1.0 / num_choices
    half = z * math.sqrt(p * (1 - p) / n) if n else 0.0
    return [p - half, p + half]


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict:
    """ECE with equal-width confidence bins; also returns the bins (for the reliability diagram)."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    ece = 0.0
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        mask = (conf > lo) & (conf <= hi) if i else (conf >= lo) & (conf <= hi)
        count = int(mask.sum())
        if count:
            acc, mean_conf = float(ok[mask].mean()), float(conf[mask].mean())
            ece += count / len(conf) * abs(acc - mean_conf)
            table.append(
                {
                    "lo": round(lo, 2),
                    "hi": round(hi, 2),
                    "n": count,
                    "accuracy": round(acc, 6),
                    "confidence": round(mean_conf, 6),
                }
            )
    return {"ece": round(float(ece), 6), "bins": table}


def majority_vote(
    answers: Sequence[str | None], logprobs: Sequence[float | None] | None = None, *, tie_seed: str
) -> tuple[str | None, dict]:
    """Most frequent parsed answer of the SC-CoT samples, ties broken without favouring any option letter.

    A tie goes to the answer whose voters have the highest mean log-probability (each sample's mean per-token
    log-probability, averaged over the samples that voted for that answer): the model's own confidence in the
    reasoning that led there. When log-probabilities are missing (HTTP backends) or exactly equal, one of the samples
    that voted for a tied answer is drawn with ``random.Random(tie_seed)``; every tied answer has the same number of
    voters, so each is equally likely, and relabelling the options relabels the winner. Returns the answer and a
    record of how it was chosen (``method``: none / majority / logprob / random).
    """
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None, {"method": "none", "tied": []}
    best = max(counts.values())
    tied = sorted(k for k, c in counts.items() if c == best)
    if len(tied) == 1:
        return tied[0], {"method": "majority", "tied": tied}
    info: dict = {"tied": tied}
    voters = [i for i, a in enumerate(answers) if a in tied]
    usable = logprobs is not None and all(
        logprobs[i] is not None and math.isfinite(logprobs[i]) for i in voters  # type: ignore[arg-type]
    )
    if usable:
        assert logprobs is not None
        mean_of = {k: float(np.mean([logprobs[i] for i in voters if answers[i] == k])) for k in tied}
        info["mean_logprob"] = {k: round(v, 6) for k, v in mean_of.items()}
        top = max(mean_of.values())
        leaders = [k for k in tied if mean_of[k] == top]
        if len(leaders) == 1:
            return leaders[0], {"method": "logprob", **info}
        voters = [i for i in voters if answers[i] in leaders]
    pick = random.Random(tie_seed).choice(voters)
    return answers[pick], {"method": "random", **info, "seed": tie_seed, "sample": pick}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1, as reported over seeds); std 0 for one value."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return 0.0, 0.0
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def permutation_chance_interval(
    predictions: Sequence[str], golds: Sequence[str], samples: int = 1000, seed: int = BOOTSTRAP_SEED
) -> list[float]:
    """95% range of the accuracy a guesser with these predictions would get if they were independent of the gold.

    A random model is rarely a *uniform* guesser: it prefers some option keys for reasons unrelated to the question,
    so its expected accuracy is the overlap of its prediction frequencies with the gold label frequencies (e.g. an
    always-"yes" model scores PubMedQA's 55% "yes" rate). Shuffling the golds against the predictions gives that null.
    """
    n = len(predictions)
    if n == 0:
        return [0.0, 0.0]
    labels = sorted(set(predictions) | set(golds))
    code = {k: i for i, k in enumerate(labels)}
    p = np.asarray([code[x] for x in predictions])
    g = np.asarray([code[x] for x in golds])
    rng = np.random.default_rng(seed)
    accs = np.asarray([(p == rng.permutation(g)).mean() for _ in range(samples)])
    lo, hi = np.percentile(accs, [2.5, 97.5])
    return [float(lo), float(hi)]
