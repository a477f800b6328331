"""The finetuning data source the trainer indexes: ``source[i]`` for any global sample index, epoch by epoch.

Units are single examples (no packing) or packed rows. A packed row is ``seq_len`` tokens (padding: ``seq_id`` -1,
label -100); an unpacked sample is its example's exact length, and the trainer's collate right-pads each micro-batch
to its longest sample (dynamic padding), so short QA sets never pay for a 2048-token window. Index ``i`` falls in epoch ``i // num_units`` and picks
``perm_epoch[i % num_units]`` where ``perm_epoch`` is a permutation seeded by ``(seed, epoch)``: the order depends only
on the seed, so a resumed run, or a run on another number of ranks, reads exactly the same examples at each step
(the trainer splits global indices ``[step*G, (step+1)*G)`` over ranks). ``steps_for`` gives the number of optimiser
steps for a number of epochs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from meditron.special_tokens import IGNORE_INDEX

from .chat_template import TokenizedExample
from .packing import concat_examples, pack_best_fit


class SFTSource:
    """Indexable, deterministic: ``source[i] -> {"input_ids", "labels", "position_ids", "seq_ids"}`` (numpy int64)."""

    def __init__(
        self,
        examples: Sequence[TokenizedExample],
        *,
        seq_len: int,
        seed: int,
        packing: bool = False,
        pad_id: int = 0,
    ):
        if not examples:
            raise ValueError("no finetuning examples")
        self.examples = list(examples)
        self.seq_len, self.seed, self.packing, self.pad_id = seq_len, seed, packing, pad_id
        too_long = [e.id for e in self.examples if len(e) > seq_len]
        if too_long:
            raise ValueError(f"{len(too_long)} examples exceed seq_len {seq_len} (first: {too_long[0]})")
        if packing:
            self.units = pack_best_fit([len(e) for e in self.examples], seq_len)
        else:
            self.units = [[i] for i in range(len(self.examples))]
        self.length = seq_len if packing else max(len(e) for e in self.examples)  # the longest sample
        self._perms: dict[int, np.ndarray] = {}

    @property
    def num_units(self) -> int:
        return len(self.units)

    def steps_for(self, epochs: float, global_batch_size: int) -> int:
        """Optimiser steps to see every unit ``epochs`` times (rounded up to a whole last batch)."""
        return max(1, math.ceil(epochs * self.num_units / global_batch_size))

    def permutation(self, epoch: int) -> np.ndarray:
        perm = self._perms.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_units)
            self._perms = {epoch: perm}  # keep one: indices arrive in order
        return perm

    def unit_at(self, index: int) -> list[int]:
        """Example indices (into ``self.examples``) of global sample ``index``."""
        if index < 0:
            raise IndexError(index)
        epoch, pos = divmod(index, self.num_units)
        return self.units[int(self.permutation(epoch)[pos])]

    def __len__(self) -> int:
        return self.num_units

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        members = [self.examples[k] for k in self.unit_at(index)]
        return concat_examples(members, self.pad_id, self.seq_len if self.packing else None)

    def stats(self) -> dict[str, float | int]:
        lengths = np.array([len(e) for e in self.examples])
        label_tokens = int(sum(int((e.labels != IGNORE_INDEX).sum()) for e in self.examples))
        out: dict[str, float | int] = {
            "num_examples": len(self.examples),
            "num_units": self.num_units,
            "num_tokens": int(lengths.sum()),
            "num_label_tokens": label_tokens,
            "max_len": int(lengths.max()),
            "mean_len": round(float(lengths.mean()), 1),
        }
        if self.packing:  # share of the packed rows' tokens that are real (not padding)
            out["fill"] = round(float(lengths.sum()) / (self.num_units * self.seq_len), 4)
        return out
