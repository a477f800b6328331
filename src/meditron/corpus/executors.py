"""Which datatrove executor runs a corpus stage: ``corpus.executor.kind`` → builder (a lazy registry, so Slurm and
Ray code is imported only when chosen). Every builder skips completed tasks, which is what makes a rerun resume."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.errors import ConfigError

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep

    from meditron.corpus.config import ExecutorConfig

#: kind → ``"module:builder"``; ``ExecutorConfig.kind``'s Literal lists the same names (a test keeps them equal)
EXECUTORS: dict[str, str] = {
    "local": "meditron.corpus.executors:local_executor",
    "slurm": "meditron.corpus.executors:slurm_executor",
    "ray": "meditron.corpus.executors:ray_executor",
}


def _workers(cfg: ExecutorConfig, tasks: int) -> int:
    return max(1, min(cfg.workers, tasks))


def local_executor(cfg: ExecutorConfig, *, steps: list[PipelineStep], tasks: int, logs: Path, name: str,
                   depends: Any = None) -> Any:
    """In this process (one worker) or a local process pool; stages run one after the other, so no ``depends``."""
    from datatrove.executor import LocalPipelineExecutor

    return LocalPipelineExecutor(steps, tasks=tasks, workers=_workers(cfg, tasks), logging_dir=str(logs),
                                 skip_completed=True)


def slurm_executor(cfg: ExecutorConfig, *, steps: list[PipelineStep], tasks: int, logs: Path, name: str,
                   depends: Any = None) -> Any:
    """A Slurm job array, submitted after the ``depends`` executor's array (the stages chain on the cluster)."""
    from datatrove.executor import SlurmPipelineExecutor

    if not cfg.slurm_partition:
        raise ConfigError("corpus.executor.slurm_partition is required when corpus.executor.kind=slurm")
    workers = _workers(cfg, tasks)
    return SlurmPipelineExecutor(
        steps, tasks=tasks, workers=workers if workers > 1 else -1, time=cfg.slurm_time,
        partition=cfg.slurm_partition, cpus_per_task=cfg.slurm_cpus_per_task,
        mem_per_cpu_gb=cfg.slurm_mem_per_cpu_gb, job_name=f"meditron-corpus-{name}", logging_dir=str(logs),
        depends=depends, skip_completed=True, env_command=_same_python_command(),
    )


def _same_python_command() -> str:
    """The job script's first command: put this interpreter's ``bin`` first on ``PATH``.

    datatrove's job script calls ``launch_pickled_pipeline`` and ``merge_stats`` by name; on a node whose login
    ``PATH`` has no (or another) datatrove, the stage would fail or run other code. The submitting interpreter's
    folder (a venv's ``bin``, shared with the nodes like the output folders) has both entry points.
    """
    return f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"'


def ray_executor(cfg: ExecutorConfig, *, steps: list[PipelineStep], tasks: int, logs: Path, name: str,
                 depends: Any = None) -> Any:
    """Tasks on a Ray cluster (``corpus.executor.ray_address``; none: a local Ray instance started here)."""
    try:
        import ray
        from datatrove.executor.ray import RayPipelineExecutor
    except ImportError:
        raise ConfigError("corpus.executor.kind=ray needs `pip install 'meditron[ray]'`") from None
    if not ray.is_initialized():
        ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=False)
    return RayPipelineExecutor(steps, tasks=tasks, workers=_workers(cfg, tasks), logging_dir=str(logs),
                               depends=depends, skip_completed=True, cpus_per_task=1,
                               mem_per_cpu_gb=cfg.slurm_mem_per_cpu_gb)
