"""Sharded, atomic, resumable checkpoints with ``torch.distributed.checkpoint`` (DCP).

Layout of ``<dir>/step_XXXXXXX/`` (``XXXXXXX`` = optimiser steps done):

* DCP files (``.metadata``, ``__<rank>_0.distcp``): ``model`` and ``optim`` (sharded; DCP reshards them on load, so
  a run saved on 2 processes resumes on 1 or 8) and ``rng`` (the torch CPU generator);
* ``trainer_state.json``: step, tokens seen, scheduler state, non-finite step counters, world size — the data position
  is the step (samples ``[0, step·G)`` are consumed);
* ``run_config.json``: the resolved run config;
* ``hf_meta/``: the HF model config, generation config and tokenizer, so export needs nothing but this directory.

Atomicity: everything is written into ``.step_XXXXXXX.tmp`` and renamed by rank 0 only once all ranks finished; a
kill during a save leaves a ``.tmp`` directory that :func:`find_latest_checkpoint` ignores (and the next save removes),
so the previous checkpoint stays the latest complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from meditron.errors import CheckpointError

STEP_RE = re.compile(r"^step_(\d{7,})$")
STATE_FILE = "trainer_state.json"
CONFIG_FILE = "run_config.json"
HF_META = "hf_meta"


@dataclass
class TrainerState:
    """The loop's own resumable state (the rest is model/optimizer/scheduler)."""

    step: int = 0
    tokens_seen: int = 0
    nonfinite_total: int = 0
    nonfinite_in_a_row: int = 0


def step_dir_name(step: int) -> str:
    return f"step_{step:07d}"


def is_complete(path: Path) -> bool:
    return path.is_dir() and (path / ".metadata").exists() and (path / STATE_FILE).exists()


def list_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``directory``, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = STEP_RE.match(p.name)
        if m and is_complete(p):
            found.append((int(m.group(1)), p))
    return sorted(found)


def find_latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest complete ``step_*`` checkpoint in ``directory``; ``directory`` itself if it is one; else None."""
    d = Path(directory)
    if is_complete(d):
        return d
    found = list_checkpoints(d)
    return found[-1][1] if found else None


def read_trainer_state(checkpoint: str | Path) -> tuple[TrainerState, dict[str, Any]]:
    """(loop state, full JSON incl. scheduler) of a checkpoint."""
    path = Path(checkpoint) / STATE_FILE
    if not path.exists():
        raise CheckpointError(f"{checkpoint} is not a complete checkpoint (no {STATE_FILE})")
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = {k: data[k] for k in TrainerState.__dataclass_fields__ if k in data}
    return TrainerState(**fields), data


class CheckpointManager:
    """Save/load/prune checkpoints of one training stage. Every rank calls ``save``/``load`` (collectives inside)."""

    def __init__(self, directory: str | Path, env: Any, keep_last: int = 2):
        self.dir = Path(directory)
        self.env = env
        self.keep_last = keep_last

    def _state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_state_dict

        model_sd, optim_sd = get_state_dict(model, optimizer)
        return {"model": model_sd, "optim": optim_sd, "rng": torch.get_rng_state()}

    def save(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        state: TrainerState,
        *,
        run_config: dict[str, Any] | None = None,
        hf_config: Any = None,
        tokenizer: Any = None,
    ) -> Path:
        import torch.distributed.checkpoint as dcp

        name = step_dir_name(state.step)
        final = self.dir / name
        tmp = self.dir / f".{name}.tmp"
        if self.env.is_main:
            self.dir.mkdir(parents=True, exist_ok=True)
            for stale in self.dir.glob(".step_*.tmp"):
                shutil.rmtree(stale, ignore_errors=True)
            tmp.mkdir()
        self.env.barrier()
        with _single_process_quiet():
            dcp.save(self._state(model, optimizer), checkpoint_id=str(tmp), no_dist=not self.env.distributed)
        self.env.barrier()
        if self.env.is_main:
            payload = {
                **asdict(state),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "world_size": self.env.world_size,
                "tp": self.env.tp,
            }
            _write_json(tmp / STATE_FILE, payload)
            if run_config is not None:
                _write_json(tmp / CONFIG_FILE, run_config)
            if hf_config is not None or tokenizer is not None:
                meta = tmp / HF_META
                meta.mkdir(exist_ok=True)
                if hf_config is not None:
                    hf_config.save_pretrained(meta)
                    gen = _generation_config(hf_config)
                    if gen is not None:
                        gen.save_pretrained(meta)
                if tokenizer is not None:
                    tokenizer.save_pretrained(meta)
            _fsync_dir(tmp)
            if final.exists():  # a re-save of the same step (e.g. final save right after a periodic one)
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.dir)
            self._prune()
        self.env.barrier()
        return final

    def _prune(self) -> None:
        found = list_checkpoints(self.dir)
        for _, path in found[: max(0, len(found) - self.keep_last)]:
            shutil.rmtree(path, ignore_errors=True)

    def load(
        self, checkpoint: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
    ) -> TrainerState:
        """Restore model, optimizer, scheduler and RNG from ``checkpoint`` (any world size); returns the loop state."""
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import set_state_dict

        if not is_complete(checkpoint):
            raise CheckpointError(f"{checkpoint} is not a complete checkpoint (missing .metadata or {STATE_FILE})")
        state = self._state(model, optimizer)
        try:
            with _single_process_quiet():
                dcp.load(state, checkpoint_id=str(checkpoint), no_dist=not self.env.distributed)
        except Exception as e:  # shape/key mismatch: name the checkpoint, not DCP's internals
            raise CheckpointError(f"cannot load {checkpoint} into this model/optimizer: {e}") from None
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        torch.set_rng_state(state["rng"])
        loop_state, data = read_trainer_state(checkpoint)
        if scheduler is not None and data.get("scheduler") is not None:
            scheduler.load_state_dict(data["scheduler"])
        return loop_state


@contextlib.contextmanager
def _single_process_quiet() -> Iterator[None]:
    """DCP warns on every single-process save/load that it is single-process; that is intended here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def _generation_config(hf_config: Any) -> Any:
    try:
        from transformers import GenerationConfig

        return GenerationConfig.from_model_config(hf_config)
    except Exception:
        return None


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
