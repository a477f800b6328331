"""Shared pieces of the reliability suite: a tiny real training run, a pickle that would create a file, RSS of a child."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from tests.train.helpers import REPO


def tiny_trainer(shards: Path, root: Path, name: str, **overrides):
    """A Trainer on the tiny Llama preset (CPU, seconds per run); checkpoints in ``root/name/ckpt``."""
    from transformers import AutoTokenizer

    from meditron.data.blend import build_pretrain_datasets
    from meditron.train.config import ModelConfig, TrainConfig
    from meditron.train.model import load_full_model
    from meditron.train.trainer import Trainer

    tok = AutoTokenizer.from_pretrained(shards / "tokenizer")
    fields = dict(steps=6, seq_len=32, global_batch_size=4, micro_batch_size=1, lr=3e-3, min_lr=3e-4, warmup_steps=1,
                  eval_every=100, eval_batches=1, tensorboard=False, prefetch=1,
                  checkpoint={"every_steps": 2, "keep_last": 3})
    fields.update(overrides)
    cfg = TrainConfig.model_validate(fields)
    train, val, _ = build_pretrain_datasets(shards, cfg.seq_len, seed=11)
    return Trainer(model_factory=lambda: load_full_model(ModelConfig(preset="tiny-llama"), tok, seed=3),
                   tokenizer=tok, train_data=train, val_data=val, cfg=cfg, seed=1234, checkpoint_dir=root / name / "ckpt",
                   log_path=root / name / "train.jsonl")


def losses(log_path: Path, start: int = 1) -> list[float]:
    rows = [json.loads(x) for x in Path(log_path).read_text().splitlines() if x.strip()]
    return [r["loss"] for r in rows if r["step"] >= start]


class FileCreator:
    """Unpickling this object calls ``os.system("touch <marker>")``: the classic code-execution pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickle_bomb(marker: Path) -> bytes:
    return pickle.dumps(FileCreator(marker))


def run_meditron(args: list[str], timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "meditron", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=REPO)


_MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
"""


def peak_rss_mb(args: list[str]) -> tuple[int, float, str]:
    """(exit code, peak resident memory in MB, stderr) of ``python -m meditron args``.

    Measured by a small launcher process (``RUSAGE_CHILDREN`` of its only child): a child forked straight from this
    test process would count this process's own memory, copied at the fork, in its peak.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "meditron", *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    code, maxrss_kb = proc.stdout.split()
    return int(code), int(maxrss_kb) / 1024, proc.stderr
