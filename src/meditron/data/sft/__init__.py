"""Supervised finetuning data: official benchmark training files and users' chat JSONL → ChatML token sequences.

``builders`` read the files, ``guard`` drops examples that overlap a benchmark test item, ``chat_template`` renders and
masks (loss on assistant tokens only), ``packing`` packs without cross-example attention, ``dataset`` serves the
trainer epoch by epoch, and ``prepare`` runs them in that order from the ``finetune`` config.

The names below are imported on first use (PEP 562), so that reading the finetuning *config* section
(``meditron.data.sft.config``, part of every ``RunConfig``) does not import transformers and torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "build_examples": "builders",
    "CHATML_TEMPLATE": "chat_template",
    "CHATML_TEMPLATE_BOS": "chat_template",
    "IGNORE_INDEX": "chat_template",
    "chatml_template": "chat_template",
    "install_chat_template": "chat_template",
    "tokenize_example": "chat_template",
    "tokenize_examples": "chat_template",
    "tokenize_messages": "chat_template",
    "SFTSource": "dataset",
    "ContaminationGuard": "guard",
    "guard_examples": "guard",
    "block_causal_mask": "packing",
    "collate": "packing",
    "pack_best_fit": "packing",
    "NoExampleLeft": "prepare",
    "prepare_sft_data": "prepare",
    "BuildReport": "records",
    "ChatExample": "records",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
