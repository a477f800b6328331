"""Packing several tokenized conversations into one training sequence without attention leaking between them.

Each packed row carries ``position_ids`` that restart at 0 for every example and ``seq_ids`` (the example's slot in
the row, -1 on padding). ``block_causal_mask`` turns ``seq_ids`` into a 4-D additive mask (0 where a token may
attend: same example and not in the future; the dtype's minimum elsewhere), which Hugging Face models take as is with
the eager and SDPA attention; with flash-attention the restarting ``position_ids`` alone select the varlen path.
So a packed row gives each example the same logits it gets alone (a test checks this to 1e-5 in fp32).

Packing is best-fit decreasing over the examples' lengths: deterministic, O(n log n), and nearly as tight as optimal
for many short QA examples. It is computed once; the per-epoch shuffle then permutes packed rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import torch

from .chat_template import IGNORE_INDEX, TokenizedExample


def pack_best_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Group example indices into bins of total length ≤ ``capacity``: best-fit decreasing, deterministic.

    Longest first, each into the open bin with the least room that still fits it (ties: the oldest bin). The open
    bins are kept sorted by free room, so 160K MedMCQA examples pack in about a second.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (free room, bin index), sorted
    for i in order:
        n = int(lengths[i])
        if n > capacity:
            raise ValueError(f"example {i} has {n} tokens, more than the sequence length {capacity}")
        k = bisect.bisect_left(free, (n, -1))
        if k < len(free):
            room, b = free.pop(k)
            bins[b].append(i)
            if room - n > 0:
                bisect.insort(free, (room - n, b))
        else:
            bins.append([i])
            if capacity - n > 0:
                bisect.insort(free, (capacity - n, len(bins) - 1))
    return [sorted(b) for b in bins]


def concat_examples(
    examples: Sequence[TokenizedExample], pad_id: int, length: int | None = None
) -> dict[str, np.ndarray]:
    """One row from ``examples``: ids, labels, restarting position ids, and seq ids (-1 on padding up to ``length``)."""
    total = sum(len(e) for e in examples)
    length = total if length is None else length
    if total > length:
        raise ValueError(f"{total} tokens do not fit in {length}")
    input_ids = np.full(length, pad_id, dtype=np.int64)
    labels = np.full(length, IGNORE_INDEX, dtype=np.int64)
    position_ids = np.zeros(length, dtype=np.int64)
    seq_ids = np.full(length, -1, dtype=np.int64)
    at = 0
    for k, e in enumerate(examples):
        n = len(e)
        input_ids[at : at + n] = e.input_ids
        labels[at : at + n] = e.labels
        position_ids[at : at + n] = np.arange(n)
        seq_ids[at : at + n] = k
        at += n
    position_ids[at:] = np.arange(length - at)  # padding: its own run of positions, attended by nothing real
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "seq_ids": seq_ids}


def block_causal_mask(seq_ids: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[B, L]`` seq ids → ``[B, 1, L, L]`` additive mask: a token sees earlier tokens of its own example only.

    Padding (seq id -1) sees itself, so no softmax row is empty (no NaN); nothing real attends to padding.
    """
    _, length = seq_ids.shape
    same = seq_ids[:, :, None] == seq_ids[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=seq_ids.device).tril()
    allowed = same & causal
    allowed |= torch.eye(length, dtype=torch.bool, device=seq_ids.device)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=seq_ids.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def collate(
    samples: Sequence[dict[str, np.ndarray]], pad_id: int, *, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Stack samples (right-padded to the longest) into model inputs with the block-causal ``attention_mask``.

    Returns ``input_ids``, ``labels``, ``position_ids``, ``attention_mask`` (4-D additive, dtype ``dtype``).
    """
    length = max(len(s["input_ids"]) for s in samples)
    rows = []
    for s in samples:
        n = len(s["input_ids"])
        pad = length - n
        seq_ids = s.get("seq_ids", np.zeros(n, dtype=np.int64))
        position_ids = s.get("position_ids", np.arange(n, dtype=np.int64))
        rows.append(
            (
                np.concatenate([s["input_ids"], np.full(pad, pad_id, dtype=np.int64)]),
                np.concatenate([s["labels"], np.full(pad, IGNORE_INDEX, dtype=np.int64)]),
                np.concatenate([position_ids, np.arange(pad, dtype=np.int64)]),
                np.concatenate([seq_ids, np.full(pad, -1, dtype=np.int64)]),
            )
        )
    ids, labels, pos, seq = (torch.from_numpy(np.stack(col)) for col in zip(*rows, strict=True))
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "attention_mask": block_causal_mask(seq, dtype)}
