"""Sharded, atomic, resumable checkpoints with ``torch.distributed.checkpoint`` (DCP).

Layout of ``<dir>/step_XXXXXXX/`` (``XXXXXXX`` = optimiser steps done):

* DCP files (``.metadata``, ``__<rank>_0.distcp``): ``model`` and ``optim`` (sharded; DCP reshards them on load, so
  a run saved on 2 processes resumes on 1 or 8, at any TP/PP degree: the optimizer state is keyed by parameter name)
  and ``rng`` (the torch CPU generator);
* ``trainer_state.json``: step, tokens seen, scheduler state, non-finite step counters, world size — the data position
  is the step (samples ``[0, step·G)`` are consumed);
* ``run_config.json``: the resolved run config;
* ``hf_meta/``: the HF model config, generation config and tokenizer, so export needs nothing but this directory;
* ``manifest.json``: size and sha256 of every other file, written last (``checkpoint_manifest.py``).

Trust: a checkpoint is verified against its manifest before anything in it is read, and DCP's pickles are read with
an allow-list (``safe_dcp.py``), so a damaged checkpoint is refused with the reason and a crafted one cannot run code.
Resume takes the newest checkpoint that verifies, saying which newer ones it skipped and why. A checkpoint without
a valid manifest loads only with ``trust_unverified`` (``--trust-checkpoint``).

Atomicity: everything is written into ``.step_XXXXXXX.tmp`` and renamed by rank 0 only once all ranks finished; a
kill during a save leaves a ``.tmp`` directory that :func:`find_latest_checkpoint` ignores (and the next save removes),
so the previous checkpoint stays the latest complete one.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from meditron.errors import CheckpointError
from meditron.json_io import write_json_atomic
from meditron.train import checkpoint_manifest as manifest_io
from meditron.train.safe_dcp import SafeFileSystemReader, SafeLoadPlanner, load_metadata

log = logging.getLogger(__name__)

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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path} is damaged ({type(e).__name__}: {e})") from None
    fields = {k: data[k] for k in TrainerState.__dataclass_fields__ if k in data}
    return TrainerState(**fields), data


class CheckpointManager:
    """Save/load/prune checkpoints of one training stage. Every rank calls ``save``/``load`` (collectives inside)."""

    def __init__(self, directory: str | Path, env: Any, keep_last: int = 2, trust_unverified: bool = False):
        self.dir = Path(directory)
        self.env = env
        self.keep_last = keep_last
        self.trust_unverified = trust_unverified

    def _state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, flat: bool = True) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_state_dict

        model_sd, optim_sd = get_state_dict(model, optimizer, options=_options(flat))
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
        shard_digests = self._hash_shards(tmp)
        if self.env.is_main:
            payload = {
                **asdict(state),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "world_size": self.env.world_size,
                "tp": self.env.tp,
            }
            write_json_atomic(tmp / STATE_FILE, payload, fsync=True, default=str)
            if run_config is not None:
                write_json_atomic(tmp / CONFIG_FILE, run_config, fsync=True, default=str)
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
            rest = [n for n in manifest_io.checkpoint_files(tmp) if n not in shard_digests]
            manifest_io.write_manifest(tmp, {**shard_digests, **manifest_io.hash_files(tmp, rest)}, state.step)
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

    def _hash_shards(self, tmp: Path) -> dict[str, dict[str, Any]]:
        """sha256 of the DCP data files, each rank hashing its share (the files are in its page cache: cheap)."""
        import torch.distributed as dist

        names = sorted(p.name for p in tmp.glob("*.distcp"))
        if not self.env.distributed:
            return manifest_io.hash_files(tmp, names)
        mine = manifest_io.hash_files(tmp, names[self.env.rank :: self.env.world_size])
        parts: list[Any] = [None] * self.env.world_size
        dist.all_gather_object(parts, mine)
        return {k: v for part in parts for k, v in part.items()}

    def verify(self, checkpoint: Path) -> list[str]:
        """What is wrong with ``checkpoint`` against its manifest (empty = intact); every rank gets the same answer.

        Rank 0 reads the manifest and checks presence and sizes; then each rank hashes a share of the files.
        """
        import torch.distributed as dist

        checkpoint = Path(checkpoint)
        first = None
        if self.env.is_main:
            manifest, why = manifest_io.read_manifest(checkpoint)
            first = (manifest, [why] if why else manifest_io.structure_problems(checkpoint, manifest))
        manifest, problems = self.env.broadcast_object(first)
        if problems:
            return problems
        names = sorted(manifest["files"])
        if not self.env.distributed:
            return manifest_io.hash_problems(checkpoint, manifest, names)
        mine = manifest_io.hash_problems(checkpoint, manifest, names[self.env.rank :: self.env.world_size])
        parts: list[Any] = [None] * self.env.world_size
        dist.all_gather_object(parts, mine)
        return sorted(p for part in parts for p in part)

    def load(
        self, checkpoint: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
        problems: list[str] | None = None,
    ) -> TrainerState:
        """Restore model, optimizer, scheduler and RNG from ``checkpoint`` (any world size); returns the loop state.

        The checkpoint is verified first (``problems``, when the caller already verified it); one that does not
        verify is refused unless ``trust_unverified``. Its pickles are read with an allow-list either way.
        """
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import set_state_dict

        checkpoint = Path(checkpoint)
        if not is_complete(checkpoint):
            raise CheckpointError(f"{checkpoint} is not a complete checkpoint (missing .metadata or {STATE_FILE})")
        problems = self.verify(checkpoint) if problems is None else problems
        if problems and not self.trust_unverified:
            raise CheckpointError(unverified_message(checkpoint, problems))
        metadata = load_metadata(checkpoint / ".metadata")  # refuses a crafted pickle here, in one line
        flat = _flat_optimizer_keys(metadata.state_dict_metadata)
        state = self._state(model, optimizer, flat)
        try:
            with _single_process_quiet():
                dcp.load(state, storage_reader=SafeFileSystemReader(checkpoint), planner=SafeLoadPlanner(),
                         no_dist=not self.env.distributed)
        except CheckpointError:
            raise
        except Exception as e:  # shape/key mismatch: name the checkpoint, not DCP's internals
            raise CheckpointError(f"cannot load {checkpoint} into this model/optimizer: {_first_line(e)}") from None
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"],
                       options=_options(flat))
        torch.set_rng_state(state["rng"])
        loop_state, data = read_trainer_state(checkpoint)
        if scheduler is not None and data.get("scheduler") is not None:
            scheduler.load_state_dict(data["scheduler"])
        return loop_state

    def load_latest(
        self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, report: Callable[[str], None] | None = None
    ) -> tuple[TrainerState, Path] | None:
        """Resume from the newest checkpoint that verifies; ``report`` says which newer ones were skipped and why.

        None when the directory holds no complete checkpoint. When none verifies: with ``trust_unverified`` the
        newest is loaded anyway (with a warning), otherwise a ``CheckpointError`` lists each one's problem.
        """
        report = report or log.warning
        found = list(reversed(list_checkpoints(self.dir)))
        if not found:
            return None
        rejected: list[tuple[Path, list[str]]] = []
        for _, path in found:
            problems = self.verify(path)
            if not problems:
                for bad, why in rejected:
                    report(f"skipped {bad.name}: {why[0]}{_more(why)}; resuming from {path.name}")
                return self.load(path, model, optimizer, scheduler, problems=[]), path
            rejected.append((path, problems))
        newest, why = rejected[0]
        if self.trust_unverified:
            report(f"no checkpoint in {self.dir} verifies; loading {newest.name} unverified "
                   f"(--trust-checkpoint): {why[0]}{_more(why)}")
            return self.load(newest, model, optimizer, scheduler, problems=why), newest
        listing = "; ".join(f"{p.name}: {w[0]}{_more(w)}" for p, w in rejected)
        raise CheckpointError(f"no checkpoint in {self.dir} verifies ({listing}). Pass --trust-checkpoint to load "
                              f"{newest.name} anyway (damaged files load as wrong weights), or run without --resume "
                              "to start over")


_TRUST_UNVERIFIED: contextvars.ContextVar[bool] = contextvars.ContextVar("trust_unverified_checkpoints", default=False)


@contextlib.contextmanager
def trusting_unverified_checkpoints(trust: bool = True) -> Iterator[None]:
    """Within this block, checkpoint loads that find no valid manifest proceed with a warning instead of refusing.

    Why a context (set by ``cli.py`` from ``--trust-checkpoint``): the export path reaches the loader through
    several layers that need not know about the flag; the choice stays explicit and scoped to one command.
    """
    token = _TRUST_UNVERIFIED.set(trust)
    try:
        yield
    finally:
        _TRUST_UNVERIFIED.reset(token)


def trusts_unverified() -> bool:
    return _TRUST_UNVERIFIED.get()


def unverified_message(checkpoint: Path, problems: list[str]) -> str:
    return (f"{checkpoint} does not verify against its manifest: {problems[0]}{_more(problems)}. Use an intact "
            "checkpoint, or pass --trust-checkpoint to load it anyway (its files may be damaged or not what was "
            "saved; its metadata is still read without running code)")


def verify_or_refuse(checkpoint: Path, trust: bool, warn: Any = None) -> None:
    """Single-process check used by export: refuse ``checkpoint`` unless it verifies (or ``trust``, with a warning)."""
    problems = manifest_io.verify_checkpoint(checkpoint)
    if not problems:
        return
    if not trust:
        raise CheckpointError(unverified_message(checkpoint, problems))
    if warn is not None:
        warn(f"{checkpoint}: loading unverified (--trust-checkpoint): {problems[0]}{_more(problems)}")


def _options(flat: bool) -> Any:
    """Optimizer state keyed by parameter name (``state.<fqn>.exp_avg``, ``param_groups.<fqn>.lr``), not by group.

    Why: a pipeline rank's optimizer holds only its stages' parameters, so per-group lists differ between ranks and
    between PP degrees; keyed by name, DCP reshards optimizer state like weights. ``flat=False`` reads checkpoints
    written before (groups listed as ``param_groups.0...``).
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(flatten_optimizer_state_dict=flat)


def _flat_optimizer_keys(keys: Any) -> bool:
    """True unless the checkpoint lists optimizer groups by index (``optim.param_groups.0.lr``: the older format)."""
    return not any(k.startswith("optim.param_groups.") and k.split(".")[2].isdigit() for k in keys)


def _more(problems: list[str]) -> str:
    return f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


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
