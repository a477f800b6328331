"""The model the trainer starts from: any HF causal LM from a local directory (or hub id), or a fresh one from a preset.

Vocabulary, embedding and tokenizer must always agree (MEDITRON shipped a tokenizer whose special tokens did not
match its embedding, meditron #8), so loading always ends with :func:`match_vocabulary`: when the tokenizer holds
more tokens than the embedding has rows, the input embedding (and an untied LM head) grow and each new row is the mean
of the old rows — a neutral start for tokens the model has never seen (``[bib_ref]``, ``<|im_start|>``...).

Under ``torchrun`` only rank 0 reads the weights (:func:`load_full_model`); the other ranks build an empty skeleton
(:func:`empty_model`) and receive their shards by broadcast after parallelisation (see ``parallelize.py``), so a 70B
model is read from disk once per job, not once per GPU.

:func:`check_seq_len` refuses a training ``seq_len`` above the model's maximum context, read by
:func:`meditron.model_info.read_model_context` (the one place evaluation and serving read it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from meditron.errors import ConfigError, InputError
from meditron.model_info import ModelContext, read_model_context
from meditron.train.config import ModelConfig

#: Fresh-model presets: HF config fields. ``vocab_size`` is always set from the tokenizer.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny-llama": {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 172,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
    "small-llama": {
        "model_type": "llama",
        "hidden_size": 256,
        "intermediate_size": 688,
        "num_hidden_layers": 4,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
    "llama-2-7b": {
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
    "llama-2-70b": {
        "model_type": "llama",
        "hidden_size": 8192,
        "intermediate_size": 28672,
        "num_hidden_layers": 80,
        "num_attention_heads": 64,
        "num_key_value_heads": 8,
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
}


def _is_local(path: str) -> bool:
    return Path(path).exists() or path.startswith(("/", ".", "~"))


def build_config(model_cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    """The HF config of the model to train, with ``vocab_size`` at least ``len(tokenizer)``.

    Deterministic from the model config and tokenizer alone, so every rank builds the same skeleton.
    """
    if model_cfg.preset:
        if model_cfg.preset not in PRESETS:
            raise ConfigError(f"model.preset {model_cfg.preset!r} is unknown (presets: {', '.join(sorted(PRESETS))})")
        fields = {**PRESETS[model_cfg.preset], **model_cfg.overrides}
        model_type = fields.pop("model_type")
        fields["vocab_size"] = len(tokenizer)
        _set_special_ids(fields, tokenizer)
        config = AutoConfig.for_model(model_type, **fields)
    elif model_cfg.path:
        path = str(model_cfg.path)
        if _is_local(path) and not (Path(path) / "config.json").exists():
            raise InputError("not an HF model directory (no config.json)", path=path)
        trust = _trust_remote_code(model_cfg, path)
        try:
            config = AutoConfig.from_pretrained(path, trust_remote_code=trust, local_files_only=_is_local(path))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read the model config: {e}", path=path) from None
        for key, value in model_cfg.overrides.items():
            setattr(config, key, value)
        config.vocab_size = max(int(config.vocab_size), len(tokenizer))
    else:
        raise ConfigError("set model.path (an HF model directory) or model.preset (e.g. 'tiny-llama')")
    _set_dtype(config, torch.float32)
    return config


def _set_dtype(config: PretrainedConfig, dtype: torch.dtype) -> None:
    """transformers 5 calls it ``dtype``, 4.x ``torch_dtype`` (and warns on the old name)."""
    setattr(config, "dtype" if "dtype" in dir(config) else "torch_dtype", dtype)


def _set_special_ids(fields: dict[str, Any], tokenizer: PreTrainedTokenizerBase) -> None:
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            fields.setdefault(name, value)


def _trust_remote_code(model_cfg: ModelConfig, path: str) -> bool:
    """Remote code runs only when the user opted in AND the model's config asks for it (``auto_map``)."""
    if not model_cfg.trust_remote_code:
        return False
    config_file = Path(path) / "config.json"
    if config_file.exists():
        import json

        return "auto_map" in json.loads(config_file.read_text(encoding="utf-8"))
    return True


def load_full_model(model_cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase, seed: int) -> PreTrainedModel:
    """The complete fp32 model on CPU, with its vocabulary matched to ``tokenizer``. Rank 0 (or a single process)."""
    config = build_config(model_cfg, tokenizer)
    if model_cfg.preset:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.tie_weights()
    else:
        path = str(model_cfg.path)
        base_config = AutoConfig.from_pretrained(
            path, trust_remote_code=_trust_remote_code(model_cfg, path), local_files_only=_is_local(path)
        )
        for key, value in model_cfg.overrides.items():
            setattr(base_config, key, value)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path,
                config=base_config,
                dtype=torch.float32,
                trust_remote_code=_trust_remote_code(model_cfg, path),
                local_files_only=_is_local(path),
            )
        except (OSError, ValueError) as e:
            raise InputError(f"cannot load the model weights: {e}", path=path) from None
        match_vocabulary(model, config.vocab_size)
    _set_dtype(model.config, torch.float32)
    return model


def empty_model(config: PretrainedConfig) -> PreTrainedModel:
    """A skeleton with parameters on the meta device and real (computed) buffers, e.g. rotary ``inv_freq``.

    Parameters are materialised after sharding; buffers are not part of the checkpoint, so they must be right here.
    """
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.tie_weights()  # from_config leaves a tied LM head untied in transformers 5; FSDP must see one parameter
    return model


@torch.no_grad()
def match_vocabulary(model: PreTrainedModel, vocab_size: int) -> int:
    """Grow the embedding (and an untied LM head) to ``vocab_size`` rows; new rows = mean of old rows.

    Returns the number of rows added. Never shrinks: a model may carry padding rows beyond its tokenizer.
    """
    emb = model.get_input_embeddings()
    old = emb.weight.shape[0]
    if vocab_size <= old:
        return 0
    added = vocab_size - old
    new_emb = torch.nn.Embedding(vocab_size, emb.weight.shape[1], dtype=emb.weight.dtype, padding_idx=emb.padding_idx)
    new_emb.weight[:old] = emb.weight
    new_emb.weight[old:] = emb.weight.mean(dim=0, keepdim=True)
    model.set_input_embeddings(new_emb)
    head = model.get_output_embeddings()
    tied = getattr(model.config, "tie_word_embeddings", False)
    if head is not None:
        if tied:
            head.weight = new_emb.weight
        else:
            new_head = torch.nn.Linear(
                head.in_features, vocab_size, bias=head.bias is not None, dtype=head.weight.dtype
            )
            new_head.weight[:old] = head.weight
            new_head.weight[old:] = head.weight.mean(dim=0, keepdim=True)
            if head.bias is not None:
                new_head.bias[:old] = head.bias
                new_head.bias[old:] = head.bias.mean()
            model.set_output_embeddings(new_head)
    model.config.vocab_size = vocab_size
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().vocab_size = vocab_size
    return added


def check_seq_len(seq_len: int, key: str, model: str | Path | PretrainedConfig, tokenizer=None) -> ModelContext:
    """Refuse a training ``seq_len`` above the model's context, in one line naming both numbers and the key."""
    ctx = read_model_context(model, tokenizer)
    if ctx.max_context is not None and seq_len > ctx.max_context:
        raise ConfigError(
            f"{key}={seq_len} is above the model's maximum context of {ctx.max_context} tokens ({ctx.source}): "
            f"set {key} to {ctx.max_context} or less"
        )
    return ctx


def vocabulary_growth(model_cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """What loading does to the model's vocabulary: tokens the tokenizer has beyond the embedding rows, and how the
    new rows start (:func:`match_vocabulary`: the mean of the existing rows). Recorded in run.json and printed."""
    size = len(tokenizer)
    if model_cfg.preset:
        return {"embedding_rows": size, "rows_added": 0, "tokens_added": [],
                "init": f"fresh {model_cfg.preset} model: all {size} rows random"}
    path = str(model_cfg.path)
    config = AutoConfig.from_pretrained(
        path, trust_remote_code=_trust_remote_code(model_cfg, path), local_files_only=_is_local(path)
    )
    before = int(config.vocab_size)
    added = tokenizer.convert_ids_to_tokens(list(range(before, size))) if size > before else []
    head = "the LM head is tied to it" if getattr(config, "tie_word_embeddings", False) else "LM head rows likewise"
    return {
        "embedding_rows_before": before,
        "embedding_rows": max(before, size),
        "rows_added": len(added),
        "tokens_added": added,
        "init": f"mean of the {before} existing embedding rows ({head})" if added else "none added",
    }


def vocabulary_note(stage: str, growth: dict[str, Any]) -> str:
    """One line for the console: which tokens the model gained and how their embedding rows were initialised."""
    if not growth["rows_added"]:
        if "embedding_rows_before" not in growth:  # a fresh model
            return f"{stage}: {growth['init']} (MEDITRON's special tokens included)"
        return (
            f"{stage}: the model's embedding already has a row for each of the tokenizer's {growth['embedding_rows']} "
            "tokens (MEDITRON's special tokens included): no row added"
        )
    names = growth["tokens_added"]
    shown = " ".join(names) if len(names) <= 12 else " ".join(names[:12]) + f" … (+{len(names) - 12})"
    return (
        f"{stage}: added {growth['rows_added']} tokens to the model's vocabulary ({shown}), embedding "
        f"{growth['embedding_rows_before']} → {growth['embedding_rows']} rows, new rows = {growth['init']}"
    )
