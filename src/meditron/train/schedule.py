"""Learning-rate schedules: linear warmup, then cosine (or linear) decay to a floor, as in the MEDITRON recipe.

A pure function of the step, so a resumed run recomputes exactly the learning rate of an uninterrupted one.

The schedule's *horizon* (``train.schedule_steps``, default ``train.steps``) is the step count the decay is laid out
over; training stops at ``train.steps``. MEDITRON set the horizon to 2 epochs and stopped after 1 (paper App. D.1,
Table 11), so the last learning rate stays high (1.6e-4 instead of 1e-6 for 7B) — the end-LR choice that won on
average. The horizon travels with the checkpoint (the scheduler's state in ``trainer_state.json``), and
:func:`restore_schedule` decides what a resumed run uses.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from meditron.errors import ConfigError
from meditron.train.config import horizon_problem


def lr_at(step: int, *, lr: float, min_lr: float, warmup_steps: int, total_steps: int, kind: str = "cosine") -> float:
    """Learning rate of optimiser step ``step`` (0-based).

    Warmup rises linearly from ``lr/warmup_steps`` to ``lr`` over ``warmup_steps`` steps; the decay then goes from
    ``lr`` at the end of warmup to ``min_lr`` at ``total_steps - 1`` (the schedule's horizon) and stays there.
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
    """``warmup_ratio`` (finetuning: 10% of the steps) wins over ``warmup_steps`` when set.

    ``total_steps`` is the schedule's horizon: with a longer horizon the warmup is a share of the whole schedule the
    run is a part of, not of the steps actually trained.
    """
    if warmup_ratio is not None:
        return int(round(warmup_ratio * total_steps))
    return warmup_steps


def schedule_horizon(steps: int, schedule_steps: int | None, section: str = "train") -> int:
    """The horizon of a run of ``steps`` steps: ``schedule_steps`` when set, else ``steps``.

    Checked here as well as in the config because finetuning learns its step count only at run time (epochs × data).
    """
    problem = horizon_problem(steps, schedule_steps, section)
    if problem:
        raise ConfigError(problem)
    return steps if schedule_steps is None else schedule_steps


class LRFactor:
    """The ``LambdaLR`` factor :func:`lr_at` / ``lr``: a callable object, so ``LambdaLR.state_dict`` saves its fields
    (the horizon among them) with the checkpoint and ``load_state_dict`` restores them on resume."""

    def __init__(self, *, lr: float, min_lr: float, warmup_steps: int, total_steps: int, kind: str = "cosine"):
        self.lr = lr
        self.min_lr = min_lr
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.kind = kind

    def __call__(self, step: int) -> float:
        return lr_at(step, lr=self.lr, min_lr=self.min_lr, warmup_steps=self.warmup_steps,
                     total_steps=self.total_steps, kind=self.kind) / self.lr  # fmt: skip


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    lr: float,
    min_lr: float,
    warmup_steps: int,
    total_steps: int,
    kind: str = "cosine",
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` whose factor is :func:`lr_at` / ``lr`` over the horizon ``total_steps`` (the optimiser's base
    lr must be ``lr``)."""
    factor = LRFactor(lr=lr, min_lr=min_lr, warmup_steps=warmup_steps, total_steps=total_steps, kind=kind)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def schedule_fields(scheduler: Any) -> dict[str, Any]:
    """The factor's fields (lr, min_lr, warmup_steps, total_steps, kind) of a scheduler from :func:`build_scheduler`."""
    return dict(scheduler.lr_lambdas[0].__dict__)


def restore_schedule(
    scheduler: Any, configured: dict[str, Any], *, steps: int, explicit: bool, section: str = "train"
) -> str | None:
    """After a resume, settle the schedule's fields; returns a note to log (None when there is nothing to say).

    ``configured``: the factor's fields built from the config (:func:`schedule_fields` before loading); the scheduler
    now holds the checkpoint's (restored by ``LambdaLR.load_state_dict``; a checkpoint written before horizons were
    saved restores none, and the config's stand). ``explicit``: the config sets ``schedule_steps`` itself.

    The rule: resume keeps the checkpoint's horizon, so the learning-rate curve continues exactly. Raising ``steps``
    on resume without ``schedule_steps`` keeps it too, with a note. An explicit ``schedule_steps`` that differs from
    the checkpoint's is refused: the LR would jump at the resume step, and a curve made of two schedules matches no
    experiment. The other fields (lr, min_lr, warmup, kind) follow the config, as they did before horizons were saved.
    """
    want, have = int(configured["total_steps"]), int(schedule_fields(scheduler)["total_steps"])
    note = None
    if have != want and explicit:
        fix = f"set {section}.schedule_steps={have} or remove it" if have >= steps else f"remove {section}.schedule_steps"
        raise ConfigError(
            f"{section}.schedule_steps={want} but the checkpoint was trained on a schedule of {have} steps: resuming "
            f"would make the learning rate jump. To continue the checkpoint's curve {fix}; or start a new run "
            "without --resume"
        )
    if have != want:
        past = f"; past step {have} the LR stays at min_lr" if have < steps else ""
        note = (f"resume keeps the checkpoint's learning-rate schedule of {have} steps ({section}.steps is now "
                f"{steps}{past})")  # fmt: skip
    scheduler.lr_lambdas[0].__dict__.update({**configured, "total_steps": have})
    return note
