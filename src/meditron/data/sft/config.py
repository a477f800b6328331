"""The data half of the ``finetune`` section: which files to train on and how they become token sequences.

It lives here, below ``train``, because the SFT data code (``prepare``, ``cache``) reads it; ``train.config``'s
``FinetuneConfig`` adds the optimiser and schedule on top of it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from meditron._base import ConfigPath, StrictModel


class SFTDataConfig(StrictModel):
    """One finetuning dataset: a benchmark training file in its official layout, or users' chat JSONL."""

    kind: Literal["medqa", "medmcqa", "pubmedqa", "chat"]
    path: ConfigPath
    cot: bool = Field(default=False, description="Chain-of-thought variant: explanation before 'the answer is X'")
    limit: int | None = Field(default=None, ge=1, description="Keep the first N examples of the file")


class SFTDataSection(StrictModel):
    """What the finetuning data depends on: the files, the sequence length, packing and the contamination guard.

    The guard drops training examples sharing ``guard_threshold`` of their word ``guard_ngram``-grams with a test item
    of the benchmarks under ``guard_benchmarks_dir`` (MEDITRON: 80%, 8-grams).
    """

    datasets: list[SFTDataConfig] = []
    seq_len: int = 2048
    packing: bool = Field(default=False, description="Pack several examples per sequence (no cross-attention)")
    guard_benchmarks_dir: ConfigPath | None = Field(default=None, description="Benchmark test files to guard against")
    guard_ngram: int = Field(default=8, ge=1)
    guard_threshold: float = Field(default=0.8, gt=0, le=1)
