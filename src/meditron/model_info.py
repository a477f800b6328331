"""A model's maximum context, read one way for every stage (pretraining, finetuning, evaluation, serving).

Neutral ground: it needs only a config (an HF directory, its ``config.json``, a config object or a dict) and optionally
a tokenizer, so ``train``, ``eval`` and ``serve`` all import it from here (``meditron.train.model`` re-exports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PretrainedConfig, PreTrainedTokenizerBase

from meditron.errors import InputError

#: HF config fields that hold a model's maximum context, in the order they are looked up (Llama/Mistral/Qwen, GPT-2,
#: Falcon/MPT-style, ChatGLM-style).
_CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "max_seq_len", "n_ctx")
#: ``model_max_length`` at or above this is transformers' "not set" sentinel, not a context.
_UNSET_MODEL_MAX_LENGTH = 10**12


@dataclass(frozen=True)
class ModelContext:
    """A model's maximum context and where it was read; ``sliding_window`` when each layer only attends that far back
    (Mistral v0.1: 4,096 of 32,768)."""

    max_context: int | None
    source: str
    sliding_window: int | None = None
    key: str | None = None  # the config field it came from (None: the tokenizer or unknown)

    def note(self) -> str | None:
        """A line worth printing when the sliding window is shorter than the context."""
        if self.sliding_window and self.max_context and self.sliding_window < self.max_context:
            return (
                f"the model attends to the last {self.sliding_window} tokens in each layer (sliding_window) of a "
                f"{self.max_context}-token context"
            )
        return None


def _config_dict(model: str | Path | PretrainedConfig | dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The config as a dict, and how to name it in messages."""
    import json

    if isinstance(model, PretrainedConfig):
        name = getattr(model, "name_or_path", "")
        return model.to_dict(), f"the model config ({name})" if name else "the model config"
    if isinstance(model, dict):
        return model, "the model config"
    path = Path(model)
    path = path / "config.json" if path.is_dir() else path
    if not path.is_file():
        raise InputError("no config.json: cannot read the model's maximum context", path=str(path))
    return json.loads(path.read_text(encoding="utf-8")), str(path)


def read_model_context(
    model: str | Path | PretrainedConfig | dict[str, Any], tokenizer: PreTrainedTokenizerBase | None = None
) -> ModelContext:
    """The maximum context of ``model`` (an HF directory, its ``config.json``, a config object or dict).

    ``config.json`` decides (``max_position_embeddings`` and its other spellings, in the text config of multimodal
    models too); the tokenizer's ``model_max_length`` is used only when the config names none and the tokenizer sets
    a real value. One helper for every stage, so training, evaluation and serving agree on the number.
    """
    data, label = _config_dict(model)
    configs = [data, *(data[k] for k in ("text_config", "llm_config") if isinstance(data.get(k), dict))]
    window = None
    for cfg in configs:
        if isinstance(cfg.get("sliding_window"), int) and cfg.get("use_sliding_window", True) is not False:
            window = cfg["sliding_window"]
        for key in _CONTEXT_FIELDS:
            if isinstance(cfg.get(key), int) and cfg[key] > 0:
                return ModelContext(int(cfg[key]), f"{key} in {label}", window, key)
    length = getattr(tokenizer, "model_max_length", None)
    if isinstance(length, int) and 0 < length < _UNSET_MODEL_MAX_LENGTH:
        return ModelContext(length, "tokenizer model_max_length", window)
    return ModelContext(None, "unknown", window)


def model_max_context(
    model: str | Path | PretrainedConfig | dict[str, Any], tokenizer: PreTrainedTokenizerBase | None = None
) -> int | None:
    """The model's maximum context in tokens (None when neither its config nor its tokenizer says)."""
    return read_model_context(model, tokenizer).max_context
