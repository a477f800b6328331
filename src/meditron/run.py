"""A run directory and its ``run.json`` manifest: config, versions, seeds, input hashes and each stage's artifacts.

Layout of ``runs/<name>/``: ``corpus/`` (report, ledger), ``shards/`` (token shards + tokenizer),
``checkpoints/<stage>/``, ``hf/`` and ``gguf/`` (exported model), ``eval/``, ``logs/``. :class:`RunDir` is the one
place that spells these paths; stages and front ends ask it instead of joining names by hand.
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
from typing import TYPE_CHECKING, Any

from meditron.json_io import write_json_atomic

if TYPE_CHECKING:  # the config is imported where a stage starts, so `meditron --help` does not load pydantic models
    from meditron.config import RunConfig

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
#: Each training stage's metrics log (one JSON record per step) under ``logs/``.
_STAGE_LOGS = {"pretrain": "train.jsonl", "finetune": "finetune.jsonl"}


def is_rank_zero() -> bool:
    """Whether this process is the first rank (or the only process): under torchrun only rank 0 writes the run's
    manifest and logs INFO, so N ranks do not repeat every line."""
    return int(os.environ.get("RANK", "0")) == 0


class RunDir:
    """Paths of one run, and the manifest each stage appends to (only rank 0 writes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.corpus = self.root / "corpus"
        self.shards = self.root / "shards"
        self.checkpoints = self.root / "checkpoints"
        self.hf = self.root / "hf"
        self.gguf = self.root / "gguf"
        self.eval = self.root / "eval"
        self.logs = self.root / "logs"
        self.manifest_path = self.root / "run.json"

    @classmethod
    def from_config(cls, cfg: RunConfig) -> RunDir:
        return cls(cfg.run_dir)

    @property
    def corpus_report(self) -> Path:
        """The corpus stage's ledger totals and per-step counts."""
        return self.corpus / "corpus_report.json"

    @property
    def shards_manifest(self) -> Path:
        """Tokens and documents per source and split, and the shards' tokenizer."""
        return self.shards / "manifest.json"

    @property
    def shards_tokenizer(self) -> Path:
        """The tokenizer folder the corpus stage keeps beside the shards (with its SentencePiece model, if any)."""
        return self.shards / "tokenizer"

    @property
    def eval_results(self) -> Path:
        """The evaluation stage's ``results.json`` (accuracies per benchmark and mode)."""
        return self.eval / "results.json"

    @property
    def eval_checkpoints(self) -> Path:
        """``meditron eval --checkpoints``: one evaluation folder per saved step (``eval/checkpoints/step_XXXXXXX/``)."""
        return self.eval / "checkpoints"

    @property
    def eval_checkpoints_table(self) -> Path:
        """The paper's Table 6 layout of those evaluations (rows = steps, columns = benchmarks); ``.md`` beside it."""
        return self.eval / "checkpoints.json"

    @property
    def reports(self) -> Path:
        """Human-readable reports of the run (``training.md`` and its figures)."""
        return self.root / "reports"

    @property
    def training_report(self) -> Path:
        """Pretraining's loss and downstream-accuracy curves, from ``logs/train.jsonl``."""
        return self.reports / "training.md"

    def stage_dir(self, stage: str) -> Path:
        """Where a training stage (``pretrain``, ``finetune``) keeps its checkpoints: ``checkpoints/<stage>``."""
        _check_stage(stage)
        return self.checkpoints / stage

    def stage_hf(self, stage: str) -> Path:
        """The consolidated Hugging Face model a training stage writes when it ends: ``checkpoints/<stage>/hf``."""
        return self.stage_dir(stage) / "hf"

    def stage_log(self, stage: str) -> Path:
        """A training stage's metrics log: ``logs/train.jsonl`` (pretrain), ``logs/finetune.jsonl``."""
        _check_stage(stage)
        return self.logs / _STAGE_LOGS[stage]

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
        from meditron.config import dump_config

        if not is_rank_zero():
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
        if not is_rank_zero():
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


def _check_stage(stage: str) -> None:
    if stage not in TRAINING_STAGES:
        raise ValueError(f"unknown training stage {stage!r}; valid: {', '.join(TRAINING_STAGES)}")
