"""Tiny real inputs for the training tests: a WordLevel tokenizer and token shards with a learnable pattern.

Built with the ``tokenizers`` library and ``meditron.data.shards`` writers, the same formats the corpus stage produces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from meditron.data.shards import write_manifest, write_token_file

WORDS = [f"w{i}" for i in range(80)]
REPO = Path(__file__).resolve().parents[2]


def make_tokenizer(out_dir: Path):
    """A WordLevel tokenizer (``<unk> <s> </s> <pad>`` + 80 words) saved in HF layout; returns it."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", "<pad>", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out_dir)
    return tok


def _doc(rng: np.random.Generator, start: int) -> str:
    """A 'sentence' whose next word is mostly predictable (w_k → w_{k+1}): the loss can fall."""
    n = int(rng.integers(20, 60))
    words, k = [], start
    for _ in range(n):
        words.append(WORDS[k % len(WORDS)])
        k = k + 1 if rng.random() < 0.85 else int(rng.integers(0, len(WORDS)))
    return " ".join(words)


def make_shards(root: Path, num_docs: dict[str, int] | None = None, seed: int = 0, with_special: bool = False) -> Path:
    """Shards for sources ``a`` (2 files) and ``b``, plus a validation split of ``a``; tokenizer in ``root/tokenizer``."""
    from meditron.tokenizer import add_special_tokens

    num_docs = num_docs or {"a": 120, "b": 60}
    tok = make_tokenizer(root / "tokenizer")
    add_special_tokens(tok)
    tok.save_pretrained(root / "tokenizer")
    rng = np.random.default_rng(seed)
    sources: dict = {}
    for name, n in num_docs.items():
        docs = []
        for i in range(n):
            text = _doc(rng, int(rng.integers(0, len(WORDS))))
            if with_special and i % 5 == 0:
                text = f"{text} [bib_ref] w1 w2 [/bib_ref]"
            docs.append(tok.encode(text, add_special_tokens=False) + [tok.eos_token_id])
        files = []
        total_tokens = 0
        chunks = [docs[: n // 2], docs[n // 2 :]] if name == "a" else [docs]
        for j, chunk in enumerate(chunks):
            rel = f"train/{name}/{j:05d}.ds"
            t, _ = write_token_file(root / rel, chunk, token_size=2)
            total_tokens += t
            files.append(rel)
        sources[name] = {"train": {"files": files, "num_tokens": total_tokens, "num_docs": n}}
    val_docs = [tok.encode(_doc(rng, i), add_special_tokens=False) + [tok.eos_token_id] for i in range(20)]
    t, d = write_token_file(root / "validation/a/00000.ds", val_docs, token_size=2)
    sources["a"]["validation"] = {"files": ["validation/a/00000.ds"], "num_tokens": t, "num_docs": d}
    write_manifest(
        root,
        {
            "token_size": 2,
            "tokenizer": "tokenizer",
            "eos_id": tok.eos_token_id,
            "vocab_size": len(tok),
            "sources": sources,
        },
    )
    return root


def write_config(path: Path, out_dir: Path, shards: Path, **train) -> Path:
    """A YAML run config training ``tiny-llama`` on ``shards``."""
    import yaml

    t = {
        "shards_dir": str(shards),
        "steps": 10,
        "seq_len": 32,
        "global_batch_size": 4,
        "micro_batch_size": 1,
        "lr": 3e-3,
        "min_lr": 3e-4,
        "warmup_steps": 2,
        "eval_every": 5,
        "eval_batches": 1,
        "tensorboard": False,
        "checkpoint": {"every_steps": 5, "keep_last": 5},
    }
    for k, v in train.items():
        if isinstance(v, dict) and isinstance(t.get(k), dict):
            t[k] = {**t[k], **v}
        else:
            t[k] = v
    cfg = {"name": "t", "out_dir": str(out_dir), "seed": 7, "model": {"preset": "tiny-llama"}, "train": t}
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def run_cli(args: list[str], nproc: int = 1, timeout: int = 240, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m meditron ...`` or ``torchrun --nproc-per-node N -m meditron ...`` with one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    if nproc == 1:
        cmd = [sys.executable, "-m", "meditron", *args]
    else:
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
            "--master-port", str(_free_port()), "-m", "meditron", *args,
        ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def run_pretrain_here(config: Path, resume: bool = False) -> dict:
    """``meditron pretrain`` in this process (one thread, like the CLI runs): a reference without a launch's start-up."""
    import torch

    from meditron.config import load_config
    from meditron.run import RunDir
    from meditron.train.pretrain import run_pretrain

    cfg = load_config(config)
    run = RunDir.from_config(cfg)
    run.start(cfg, "pretrain")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_pretrain(cfg, run, resume=resume)
    finally:
        torch.set_num_threads(threads)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_log(run_root: Path) -> list[dict]:
    path = run_root / "logs" / "train.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
