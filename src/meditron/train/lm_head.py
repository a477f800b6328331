"""Let the fused loss stand in for the LM head: the model returns its final hidden states instead of logits.

HF causal LMs end with ``logits = self.lm_head(hidden_states)``; the trainer wants the loss of those logits, which
``meditron.train.loss.linear_cross_entropy_sum`` computes from the hidden states and the head's weight without ever
building the ``[tokens, vocab]`` tensor. ``hidden_states_from(head)`` makes the head an identity for the duration of
one forward call, so the model is still called as a whole: FSDP2's hooks on the root module (which unshard the
embeddings, the final norm and the head, and keep them unsharded until the backward pass) and tensor parallelism's
hooks on the blocks run as usual, and checkpoints, state-dict keys and the exported model do not change.

Only families whose forward does nothing to the logits after the head (no soft-capping, no logit scale) qualify;
other models keep the plain path. The 1-vs-2-process FSDP, TP and export tests run with the fused path on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

#: ``model_type``s whose ``*ForCausalLM.forward`` is ``logits = self.lm_head(hidden_states[:, keep])`` and nothing more
#: to the logits (checked in transformers 5.x sources).
PLAIN_HEAD_FAMILIES = frozenset({"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe"})


def fusable_lm_head(model: nn.Module) -> nn.Linear | None:
    """The model's LM head if the fused loss can replace it: a bias-free ``nn.Linear`` of a plain-head family."""
    if getattr(getattr(model, "config", None), "model_type", None) not in PLAIN_HEAD_FAMILIES:
        return None
    get = getattr(model, "get_output_embeddings", None)
    head = get() if callable(get) else None
    if type(head) is not nn.Linear or head.bias is not None:
        return None
    return head


def _identity(hidden_states: torch.Tensor) -> torch.Tensor:
    return hidden_states


@contextlib.contextmanager
def hidden_states_from(head: nn.Linear) -> Iterator[None]:
    """Within the block, ``head(x)`` returns ``x``: the model's ``.logits`` output holds the final hidden states."""
    head.forward = _identity  # an instance attribute shadows nn.Linear.forward; __call__ and its hooks still run
    try:
        yield
    finally:
        del head.forward
