"""Global batches → this rank's micro-batches, prepared ahead of time by a background thread.

The contract (docs/ARCHITECTURE.md): step ``s`` consumes global sample indices ``[s·G, (s+1)·G)``. Data-parallel rank
``r`` of ``D`` takes the contiguous slice ``[s·G + r·G/D, s·G + (r+1)·G/D)`` and cuts it into micro-batches of ``m``.
The order of samples therefore never depends on ``D``: resuming on another world size consumes the same tokens.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from meditron.errors import ConfigError
from meditron.special_tokens import IGNORE_INDEX


class SampleSource(Protocol):
    """What the trainer reads: ``source[i]`` → dict of int64 numpy arrays (``input_ids``, ``labels``, ...)."""

    def __getitem__(self, i: int) -> dict[str, np.ndarray]: ...


def accumulation_steps(global_batch: int, micro_batch: int, dp_size: int) -> int:
    """Micro-batches per rank per step; the global batch must split evenly over ranks and micro-batches."""
    if global_batch % (micro_batch * dp_size):
        raise ConfigError(
            f"global_batch_size {global_batch} must be a multiple of micro_batch_size {micro_batch} × "
            f"data-parallel ranks {dp_size} (= {micro_batch * dp_size})"
        )
    return global_batch // (micro_batch * dp_size)


def rank_indices(step: int, global_batch: int, micro_batch: int, dp_rank: int, dp_size: int) -> list[list[int]]:
    """Global sample indices of each of this rank's micro-batches at ``step``."""
    accumulation_steps(global_batch, micro_batch, dp_size)
    per_rank = global_batch // dp_size
    start = step * global_batch + dp_rank * per_rank
    return [list(range(start + k, start + k + micro_batch)) for k in range(0, per_rank, micro_batch)]


#: Right-padding values: padded positions carry no loss and, being after every real token, are never attended to
#: by one under the causal mask — so outputs at real positions are exactly those of the unpadded sample.
PAD_VALUES = {"input_ids": 0, "labels": IGNORE_INDEX, "position_ids": 0, "seq_ids": -1, "attention_mask": 0}


def collate(samples: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack samples into int64 tensors, right-padding shorter ones to the longest of the micro-batch."""
    keys = samples[0].keys()
    length = max(len(s["input_ids"]) for s in samples)
    out: dict[str, torch.Tensor] = {}
    for k in keys:
        rows = []
        for i, s in enumerate(samples):
            if k not in s:
                raise ConfigError(f"sample {i} of a micro-batch lacks {k!r} (keys of the first: {sorted(keys)})")
            row = np.asarray(s[k], dtype=np.int64)
            if len(row) < length:
                if k not in PAD_VALUES:
                    raise ConfigError(f"cannot pad {k!r}: samples of one micro-batch differ in length")
                row = np.concatenate([row, np.full(length - len(row), PAD_VALUES[k], dtype=np.int64)])
            rows.append(row)
        out[k] = torch.from_numpy(np.stack(rows))
    return out


class PrefetchLoader:
    """Yields ``(step, [micro_batch, ...])`` for steps ``start_step, start_step+1, ...`` built by a daemon thread.

    ``prefetch`` steps are prepared ahead (0 = build in the calling thread). Time the trainer spends blocked in
    ``next()`` is the data wait reported in the metrics.
    """

    def __init__(
        self,
        source: SampleSource,
        *,
        global_batch: int,
        micro_batch: int,
        dp_rank: int,
        dp_size: int,
        start_step: int,
        end_step: int,
        prefetch: int = 2,
    ):
        self.source = source
        self.global_batch = global_batch
        self.micro_batch = micro_batch
        self.dp_rank = dp_rank
        self.dp_size = dp_size
        self.start_step = start_step
        self.end_step = end_step
        self.prefetch = prefetch
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def build(self, step: int) -> list[dict[str, torch.Tensor]]:
        return [
            collate([self.source[i] for i in idx])
            for idx in rank_indices(step, self.global_batch, self.micro_batch, self.dp_rank, self.dp_size)
        ]

    def _work(self) -> None:
        try:
            for step in range(self.start_step, self.end_step):
                batch = self.build(step)
                while not self._stop.is_set():
                    try:
                        self._queue.put((step, batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as e:  # surfaced in the trainer's thread
            self._queue.put(e)

    def __iter__(self) -> Iterator[tuple[int, list[dict[str, torch.Tensor]]]]:
        if self.prefetch == 0:
            for step in range(self.start_step, self.end_step):
                yield step, self.build(step)
            return
        self._thread = threading.Thread(target=self._work, name="meditron-prefetch", daemon=True)
        self._thread.start()
        try:
            for _ in range(self.start_step, self.end_step):
                item = self._queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
