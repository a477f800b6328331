"""Consolidate a sharded DCP checkpoint into a Hugging Face directory, with no conversion script in between.

MEDITRON's Megatron↔HF conversions broke repeatedly (Megatron-LLM #10, #17, #19, #24); here the checkpoint already
holds HF parameter names, its HF config and its tokenizer (``hf_meta/``), so consolidation is: build the HF model,
load the shards into it (any number of shards, one process, no process group), ``save_pretrained`` as safetensors.
``meditron export`` (the serving stage) calls :func:`consolidate_checkpoint` too, and adds a model card.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from meditron.errors import CheckpointError
from meditron.train.checkpoint import (
    HF_META,
    _single_process_quiet,
    find_latest_checkpoint,
    read_trainer_state,
    trusts_unverified,
    verify_or_refuse,
)
from meditron.train.model import _set_dtype
from meditron.train.safe_dcp import SafeFileSystemReader, SafeLoadPlanner

__all__ = ["consolidate_checkpoint", "find_latest_checkpoint", "load_checkpoint_model"]
log = logging.getLogger(__name__)


def load_checkpoint_model(checkpoint_dir: str | Path, dtype: torch.dtype = torch.float32, trust: bool | None = None):
    """(HF model on CPU with the checkpoint's weights, tokenizer, resolved checkpoint path).

    The checkpoint is verified against its manifest before any of it is read, and refused when it does not verify
    unless ``trust`` (default: ``--trust-checkpoint`` of the running command); its pickles never run code.
    """
    import torch.distributed.checkpoint as dcp
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    from meditron.tokenizer import load_tokenizer

    ckpt = find_latest_checkpoint(checkpoint_dir)
    if ckpt is None:
        raise CheckpointError(f"no complete checkpoint (step_XXXXXXX/ with .metadata) in {checkpoint_dir}")
    verify_or_refuse(ckpt, trusts_unverified() if trust is None else trust, warn=log.warning)
    meta = ckpt / HF_META
    if not (meta / "config.json").exists():
        raise CheckpointError(f"{ckpt} has no {HF_META}/config.json: it was not written by meditron's trainer")
    config = AutoConfig.from_pretrained(meta, local_files_only=True)
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.tie_weights()
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    model.to_empty(device="cpu")
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name in buffers:
                buf.copy_(buffers[name])
    reader = SafeFileSystemReader(str(ckpt))
    stored = {k[len("model.") :] for k in reader.read_metadata().state_dict_metadata if k.startswith("model.")}
    own = model.state_dict()
    missing = sorted(set(own) - stored - _tied_names(model))
    if missing:
        raise CheckpointError(f"{ckpt} lacks parameters of {type(model).__name__}: {missing[:5]}")
    target = {"model": {k: v for k, v in own.items() if k in stored}}
    try:
        with _single_process_quiet():
            dcp.load(target, storage_reader=reader, planner=SafeLoadPlanner(), no_dist=True)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"cannot read {ckpt}: {e}") from None
    model.tie_weights()
    model.to(dtype)
    _set_dtype(model.config, dtype)
    tokenizer = (
        load_tokenizer(meta)  # as every stage loads it (rebuilt on tokenizer.model when there is one)
        if (meta / "tokenizer_config.json").exists()
        else None
    )
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        raise CheckpointError(
            f"{ckpt}: tokenizer has {len(tokenizer)} tokens but the embedding only "
            f"{model.get_input_embeddings().weight.shape[0]} rows"
        )
    return model.eval(), tokenizer, ckpt


def _tied_names(model) -> set[str]:
    """Parameter names that share storage with another (tied LM head): loaded through their twin."""
    seen: dict[int, str] = {}
    tied = set()
    for name, p in model.state_dict(keep_vars=True).items():
        if id(p) in seen:
            tied.add(name)
        else:
            seen[id(p)] = name
    return tied


def consolidate_checkpoint(
    checkpoint_dir: str | Path, out_dir: str | Path, dtype: torch.dtype = torch.float32
) -> Path:
    """Write ``out_dir`` = safetensors + config + generation config + tokenizer (with its added tokens).

    ``checkpoint_dir`` may be one ``step_*`` checkpoint or a folder of them (the latest complete one is used).
    Loadable with ``AutoModelForCausalLM.from_pretrained(out_dir)``; its logits equal the trained model's.
    """
    model, tokenizer, ckpt = load_checkpoint_model(checkpoint_dir, dtype)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    meta = ckpt / HF_META
    if (meta / "generation_config.json").exists():
        from transformers import GenerationConfig

        GenerationConfig.from_pretrained(meta).save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    state, _ = read_trainer_state(ckpt)
    (out / "meditron_checkpoint.txt").write_text(f"{ckpt.resolve()}\nstep {state.step}\n", encoding="utf-8")
    return out
