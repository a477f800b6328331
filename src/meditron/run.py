"""A run directory and its ``run.json`` manifest: config, versions, seeds, input hashes and each stage's artifacts.

Layout of ``runs/<name>/``: ``corpus/`` (report, ledger), ``shards/`` (token shards + tokenizer),
``checkpoints/<stage>/``, ``hf/`` (exported model), ``eval/``, ``logs/``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from meditron.config import RunConfig, dump_config
from meditron.json_io import write_json_atomic

_TRACKED_PACKAGES = ("meditron", "torch", "transformers", "tokenizers", "datatrove", "lm_eval", "safetensors", "numpy")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


#: The training stages, in pipeline order; each owns ``checkpoints/<stage>/`` in a run.
TRAINING_STAGES: tuple[str, ...] = ("pretrain", "finetune")


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class RunDir:
    """Paths of one run, and the manifest each stage appends to (only rank 0 writes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.corpus = self.root / "corpus"
        self.shards = self.root / "shards"
        self.checkpoints = self.root / "checkpoints"
        self.hf = self.root / "hf"
        self.eval = self.root / "eval"
        self.logs = self.root / "logs"
        self.manifest_path = self.root / "run.json"

    @classmethod
    def from_config(cls, cfg: RunConfig) -> RunDir:
        return cls(cfg.run_dir)

    def stage_dir(self, stage: str) -> Path:
        """Where a training stage (``pretrain``, ``finetune``) keeps its checkpoints: ``checkpoints/<stage>``."""
        if stage not in TRAINING_STAGES:
            raise ValueError(f"unknown training stage {stage!r}; valid: {', '.join(TRAINING_STAGES)}")
        return self.checkpoints / stage

    def stage_hf(self, stage: str) -> Path:
        """The consolidated Hugging Face model a training stage writes when it ends: ``checkpoints/<stage>/hf``."""
        return self.stage_dir(stage) / "hf"

    def create(self) -> RunDir:
        for p in (self.root, self.logs):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def read_manifest(self) -> dict[str, Any]:
        if self.manifest_path.exists():
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return {}

    def start(self, cfg: RunConfig, command: str) -> None:
        """Record the resolved config, versions and seed for ``command`` before a stage runs."""
        if not _is_rank_zero():
            return
        self.create()
        m = self.read_manifest()
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        m.setdefault("name", cfg.name)
        m.setdefault("created", now)
        m["config"] = dump_config(cfg)
        m["versions"] = package_versions()
        m["seed"] = cfg.seed
        m.setdefault("commands", []).append({"time": now, "argv": sys.argv, "command": command})
        write_json_atomic(self.manifest_path, m)

    def record_stage(
        self,
        stage: str,
        artifacts: dict[str, str | Path],
        *,
        metrics: dict[str, Any] | None = None,
        inputs: list[str | Path] | None = None,
    ) -> None:
        """Record a finished stage: artifact paths (relative to the run when inside it), metrics, input hashes."""
        if not _is_rank_zero():
            return
        self.create()
        m = self.read_manifest()
        entry: dict[str, Any] = {
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "artifacts": {k: self._rel(v) for k, v in artifacts.items()},
        }
        if metrics:
            entry["metrics"] = metrics
        if inputs:
            hashes = m.setdefault("inputs", {})
            for p in inputs:
                p = Path(p)
                if p.is_file():
                    hashes[str(p)] = sha256_file(p)
            entry["inputs"] = [str(p) for p in inputs]
        m.setdefault("stages", {})[stage] = entry
        write_json_atomic(self.manifest_path, m)

    def _rel(self, p: str | Path) -> str:
        p = Path(p)
        try:
            return str(p.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(p)
