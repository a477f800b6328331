"""Replay: general-domain documents sampled to a target share of the training tokens, deterministically.

Once every medical document is tokenized, the medical train token count ``M`` is known; with replay candidates
totalling ``A`` tokens, a share ``s`` needs ``R = s / (1 - s) · M`` tokens, so each candidate is kept when
``hash(seed, id) < R / A``. The decision depends only on the seed and the document id (not on order or task count),
and the expected share is exactly ``s``; the report gives the realised share. Kept candidates are copied token for
token into the shards (no second tokenization); every candidate reaches the ledger (kept, or dropped with reason
``replay-not-sampled``).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.counts import read_task_counts, write_task_counts
from meditron.corpus.ledger import LedgerWriter
from meditron.corpus.mixing.split import unit_hash
from meditron.corpus.shard_format import token_dtype
from meditron.corpus.tokenization import ShardTokenization
from meditron.corpus.writers.shards import ShardFile


def replay_probability(share: float, medical_tokens: int, candidate_tokens: int) -> float:
    if share <= 0 or candidate_tokens <= 0:
        return 0.0
    return min(1.0, share / (1.0 - share) * medical_tokens / candidate_tokens)


class ReplaySelector(PipelineStep):
    """Single task: reads the shard writer's counts, samples the replay candidates, writes their shards."""

    name = "🔁 Replay selection"
    type = "🔀 - MIXING"

    def __init__(
        self,
        *,
        share: float,
        seed: int,
        shard_counts_dir: str | Path,
        candidates_dir: str | Path,
        shards_dir: str | Path,
        token_size: int | Path,
        ledger_dir: str,
        counts_dir: str | Path,
    ):
        """``token_size``: bytes per token, or the file of the tokenizer preparation's decisions to read it from when
        the task runs (the preparation is an earlier stage)."""
        super().__init__()
        self.share, self.seed = share, seed
        self.shard_counts_dir = Path(shard_counts_dir)
        self.candidates_dir = Path(candidates_dir)
        self.shards_dir = Path(shards_dir)
        self._token_size = token_size
        self.ledger = LedgerWriter(ledger_dir, "replay")
        self.counts_dir = Path(counts_dir)

    @cached_property
    def token_size(self) -> int:
        t = self._token_size
        return t if isinstance(t, int) else ShardTokenization.load(t).token_size

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        medical = sum(
            entry["num_tokens"]
            for part in read_task_counts(self.shard_counts_dir)
            for splits in part.get("sources", {}).values()
            for split, entry in splits.items()
            if split == "train" and not entry.get("replay_candidates")
        )
        candidates = sorted(self.candidates_dir.glob("*/*/*.ds"))
        available = sum(self._train_tokens(p) for p in candidates)
        p = replay_probability(self.share, medical, available)
        out: dict[str, Any] = defaultdict(dict)
        with self.ledger as ledger:
            for path in candidates:
                split, source = path.parent.parent.name, path.parent.name
                selected = self._select(path, split, source, p, ledger)
                if selected is not None:
                    out[source][split] = selected
        summary = {
            "target_share": self.share,
            "medical_train_tokens": medical,
            "candidate_train_tokens": available,
            "probability": p,
            "sources": dict(out),
        }
        write_task_counts(self.counts_dir, 0, summary)
        return
        yield

    @staticmethod
    def _train_tokens(path: Path) -> int:
        if path.parent.parent.name != "train":
            return 0
        index = np.fromfile(str(path) + ".index", dtype="<u8")
        return int(index[-1]) if len(index) else 0

    def _select(self, path: Path, split: str, source: str, p: float, ledger: LedgerWriter) -> dict[str, Any] | None:
        tokens = np.memmap(path, dtype=token_dtype(self.token_size), mode="r") if path.stat().st_size else None
        ends = np.fromfile(str(path) + ".index", dtype="<u8")
        out: ShardFile | None = None
        with open(str(path) + ".ids", encoding="utf-8") as ids:
            start = 0
            for end, line in zip(ends, ids, strict=False):
                doc_id = line.rstrip("\n")
                doc = Document(text="", id=doc_id, metadata={"source": source, "split": split})
                if unit_hash(f"replay:{self.seed}:{doc_id}") < p:
                    if out is None:
                        out = ShardFile(self.shards_dir / split / source / path.name, self.token_size)
                    out.write(tokens[start:int(end)])
                    doc.metadata["num_tokens"] = int(end) - start
                else:
                    doc.metadata["drop_reason"] = "replay-not-sampled"
                ledger.write(doc, 0)
                start = int(end)
        if out is None:
            return None
        out.close()
        return {"files": [f"{split}/{source}/{path.name}"], "num_tokens": out.num_tokens, "num_docs": out.num_docs}
