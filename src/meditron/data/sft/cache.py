"""A cache of the tokenized finetuning set, so a resumed run (or every other rank) does not tokenize again.

Rendering and tokenizing is the slow part of SFT data preparation (PubMedQA-A: ~200K examples of ~500 tokens, minutes
of CPU). The result is saved once as flat arrays under ``<cache_dir>/<key>/`` and reloaded in seconds. The key hashes
everything the arrays depend on: each input file (path, size, modification time), the dataset options, the guard
settings and benchmark files, ``seq_len``, the tokenizer (vocabulary, merges, added tokens) and its chat template, and
the source of the code that builds the prompts (``meditron.data.sft`` and ``meditron.benchmarks.prompts``). A directory is
written under a temporary name and renamed when complete, so a crash mid-write never leaves a half cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from .chat_template import TokenizedExample
from .config import SFTDataSection

CACHE_VERSION = 1


def _stat(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _code_digest() -> str:
    import meditron.benchmarks.prompts as prompts

    h = hashlib.sha256()
    files = sorted(Path(__file__).parent.glob("*.py")) + [Path(prompts.__file__)]
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def cache_key(cfg: SFTDataSection, tok: PreTrainedTokenizerBase) -> str:
    """A hex digest of everything the tokenized examples depend on."""
    parts: dict[str, Any] = {
        "version": CACHE_VERSION,
        "datasets": [{**d.model_dump(mode="json"), "file": _stat(Path(d.path))} for d in cfg.datasets],
        "seq_len": cfg.seq_len,
        "tokenizer": hashlib.sha256(tok.backend_tokenizer.to_str().encode()).hexdigest(),
        "chat_template": tok.chat_template,
        "code": _code_digest(),
        "guard": None,
    }
    if cfg.guard_benchmarks_dir:
        root = Path(cfg.guard_benchmarks_dir)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        parts["guard"] = {
            "dir": str(root),
            "ngram": cfg.guard_ngram,
            "threshold": cfg.guard_threshold,
            "files": [_stat(p) for p in files],
        }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def save(directory: Path, examples: list[TokenizedExample], report: dict[str, Any]) -> Path:
    """Write ``examples`` and the data report to ``directory`` (atomically: temp dir, then rename)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    lengths = np.array([len(e) for e in examples], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    np.save(tmp / "input_ids.npy", np.concatenate([e.input_ids for e in examples]).astype(np.int32))
    np.save(tmp / "labels.npy", np.concatenate([e.labels for e in examples]).astype(np.int32))
    np.save(tmp / "offsets.npy", offsets)
    (tmp / "ids.json").write_text(json.dumps([e.id for e in examples]), encoding="utf-8")
    (tmp / "report.json").write_text(json.dumps(report), encoding="utf-8")  # last: marks the cache complete
    try:
        os.replace(tmp, directory)
    except OSError:  # another rank or run finished the same cache first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def load(directory: Path) -> tuple[list[TokenizedExample], dict[str, Any]] | None:
    """The cached examples and report, or None when ``directory`` holds no complete cache."""
    if not (directory / "report.json").exists():
        return None
    input_ids = np.load(directory / "input_ids.npy", mmap_mode="r")  # int32, read on demand: no copy in memory
    labels = np.load(directory / "labels.npy", mmap_mode="r")
    offsets = np.load(directory / "offsets.npy")
    ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
    report = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    examples = [
        TokenizedExample(ex_id, input_ids[a:b], labels[a:b])
        for ex_id, a, b in zip(ids, offsets[:-1], offsets[1:], strict=True)
    ]
    return examples, report
