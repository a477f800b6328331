"""What pretraining and finetuning do alike around the trainer: where a stage writes, the notes it logs before
training, and how it ends (the last checkpoint consolidated into an HF directory, the stage recorded in run.json).

Layout: a stage's checkpoints go to ``<stage section>.checkpoint.dir`` when set, else ``<run>/checkpoints/<stage>``
(:meth:`meditron.run.RunDir.stage_dir`); its consolidated HF model always goes to ``hf/`` inside that directory, so
the two never part (with the default directory this is :meth:`meditron.run.RunDir.stage_hf`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.run import RunDir

if TYPE_CHECKING:
    from meditron.model_info import ModelContext
    from meditron.train.config import CheckpointConfig
    from meditron.train.parallelize import DistEnv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagePaths:
    """Where one training stage writes: its DCP checkpoints and the consolidated HF model."""

    checkpoints: Path
    hf: Path


def stage_paths(run: RunDir, stage: str, checkpoint: CheckpointConfig) -> StagePaths:
    """``checkpoint.dir`` or ``<run>/checkpoints/<stage>``, with the HF model in its ``hf/``."""
    checkpoints = Path(checkpoint.dir) if checkpoint.dir else run.stage_dir(stage)
    return StagePaths(checkpoints=checkpoints, hf=checkpoints / "hf")


def log_start_notes(stage: str, vocabulary: dict[str, Any], context: ModelContext, env: DistEnv) -> None:
    """Rank 0 logs the tokens the model's vocabulary gains and, when there is one, a note on its context."""
    from meditron.train.model import vocabulary_note

    if not env.is_main:
        return
    log.info(vocabulary_note(stage, vocabulary))
    if context.note():
        log.info("%s: note: %s", stage, context.note())


def finish_stage(
    stage: str,
    summary: dict[str, Any],
    *,
    env: DistEnv,
    run: RunDir,
    paths: StagePaths,
    artifacts: dict[str, Path],
    hidden: Iterable[str] = ("checkpoint",),
    inputs: list[Path],
    after_consolidate: Callable[[Path], None] | None = None,
) -> None:
    """A completed run: rank 0 consolidates the last checkpoint into ``paths.hf`` and records the stage (artifacts,
    the summary without the ``hidden`` keys, input hashes); every rank waits for it. A stopped run records nothing."""
    from meditron.train.hf_export import consolidate_checkpoint

    if summary["stopped"] != "completed":
        return
    env.barrier()
    if env.is_main:
        consolidate_checkpoint(summary["checkpoint"], paths.hf)
        if after_consolidate is not None:
            after_consolidate(paths.hf)
        summary["hf"] = str(paths.hf)
        run.record_stage(
            stage,
            {"checkpoints": paths.checkpoints, "hf": paths.hf, **artifacts},
            metrics={k: v for k, v in summary.items() if k not in set(hidden)},
            inputs=inputs,
        )
    env.barrier()
