"""Learning-rate schedules: linear warmup, then cosine (or linear) decay to a floor, as in the MEDITRON recipe.

A pure function of the step, so a resumed run recomputes exactly the learning rate of an uninterrupted one.
"""

from __future__ import annotations

import math

import torch


def lr_at(step: int, *, lr: float, min_lr: float, warmup_steps: int, total_steps: int, kind: str = "cosine") -> float:
    """Learning rate of optimiser step ``step`` (0-based).

    Warmup rises linearly from ``lr/warmup_steps`` to ``lr`` over ``warmup_steps`` steps; the decay then goes from
    ``lr`` at the end of warmup to ``min_lr`` at ``total_steps - 1`` and stays there.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if kind == "constant":
        return lr
    decay_steps = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / decay_steps))
    if kind == "linear":
        return min_lr + (lr - min_lr) * (1.0 - progress)
    if kind == "cosine":
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {kind!r} (cosine, linear, constant)")


def warmup_steps_for(total_steps: int, warmup_steps: int, warmup_ratio: float | None) -> int:
    """``warmup_ratio`` (finetuning: 10% of the steps) wins over ``warmup_steps`` when set."""
    if warmup_ratio is not None:
        return int(round(warmup_ratio * total_steps))
    return warmup_steps


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    lr: float,
    min_lr: float,
    warmup_steps: int,
    total_steps: int,
    kind: str = "cosine",
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` whose factor is :func:`lr_at` / ``lr`` (the optimiser's base lr must be ``lr``)."""

    def factor(step: int) -> float:
        return lr_at(step, lr=lr, min_lr=min_lr, warmup_steps=warmup_steps, total_steps=total_steps, kind=kind) / lr

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
