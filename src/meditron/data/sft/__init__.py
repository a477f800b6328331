"""Supervised finetuning data: official benchmark training files and users' chat JSONL → ChatML token sequences.

``builders`` read the files, ``guard`` drops examples that overlap a benchmark test item, ``chat_template`` renders and
masks (loss on assistant tokens only), ``packing`` packs without cross-example attention, ``dataset`` serves the
trainer epoch by epoch, and ``prepare`` runs them in that order from the ``finetune`` config.
"""

from .builders import build_examples
from .chat_template import (
    CHATML_TEMPLATE,
    CHATML_TEMPLATE_BOS,
    IGNORE_INDEX,
    chatml_template,
    install_chat_template,
    tokenize_example,
    tokenize_examples,
    tokenize_messages,
)
from .dataset import SFTSource
from .guard import ContaminationGuard, guard_examples
from .packing import block_causal_mask, collate, pack_best_fit
from .prepare import NoExampleLeft, prepare_sft_data
from .records import BuildReport, ChatExample

__all__ = [
    "CHATML_TEMPLATE",
    "CHATML_TEMPLATE_BOS",
    "IGNORE_INDEX",
    "NoExampleLeft",
    "BuildReport",
    "ChatExample",
    "ContaminationGuard",
    "SFTSource",
    "block_causal_mask",
    "build_examples",
    "chatml_template",
    "collate",
    "guard_examples",
    "install_chat_template",
    "pack_best_fit",
    "prepare_sft_data",
    "tokenize_example",
    "tokenize_examples",
    "tokenize_messages",
]
