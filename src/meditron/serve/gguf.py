"""Write a Llama-architecture HF directory as GGUF (f32, f16, q8_0) for llama.cpp, with the tokenizer and chat template.

Why our own writer: llama.cpp's ``convert_hf_to_gguf.py`` is not shipped in the ``gguf`` wheel. This follows its Llama
path: tensor names, the Q/K row permutation llama.cpp's RoPE expects (HF stores rotary halves, GGML interleaved
pairs), hyper-parameters, and the vocab as ``gpt2`` (byte-level BPE) or ``llama`` (SentencePiece) with token types,
merges, special ids, add-BOS/EOS flags and the chat template (the vocabulary is built in ``gguf_vocab.py``). Parity with the HF model is checked in llama.cpp itself by
``tests/serve/test_gguf_llamacpp.py`` (transformers' GGUF loader undoes permutation errors, so it cannot be the check).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from meditron.errors import InputError
from meditron.serve.gguf_vocab import build_vocab, load_hf_tokenizer

log = logging.getLogger(__name__)

GGUF_TYPES = ("f32", "f16", "q8_0")

def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF Llama → GGML row order for q_proj/k_proj: per head, (2, d/2) halves become (d/2, 2) interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _load_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise InputError("no config.json: not a Hugging Face model directory", path=str(model_dir))
    cfg = json.loads(path.read_text(encoding="utf-8"))
    arch = (cfg.get("architectures") or [""])[0]
    if cfg.get("model_type") not in ("llama", "mistral") or arch not in ("LlamaForCausalLM", "MistralForCausalLM"):
        raise InputError(
            f"GGUF export supports Llama-architecture models (LlamaForCausalLM), got model_type="
            f"{cfg.get('model_type')!r} architectures={cfg.get('architectures')!r}",
            path=str(path),
        )
    if cfg.get("attention_bias") or cfg.get("mlp_bias"):
        raise InputError("attention_bias/mlp_bias Llama variants are not supported by this GGUF writer", path=str(path))
    rope = cfg.get("rope_scaling") or {}
    params = cfg.get("rope_parameters") or {}
    rope_type = rope.get("rope_type", rope.get("type")) or params.get("rope_type", "default")
    if rope_type not in ("default", "linear"):
        raise InputError(f"rope scaling type {rope_type!r} is not supported by this GGUF writer", path=str(path))
    return cfg


def _rope(cfg: dict[str, Any]) -> tuple[float, float | None]:
    params = cfg.get("rope_parameters") or {}
    theta = float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    scaling = cfg.get("rope_scaling") or (params if params.get("rope_type") == "linear" else {})
    factor = scaling.get("factor") if scaling.get("rope_type", scaling.get("type")) == "linear" else None
    return theta, (float(factor) if factor else None)


def _iter_tensors(model_dir: Path):
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise InputError("no *.safetensors weights (export the HF directory first)", path=str(model_dir))
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():
                yield name, st.get_tensor(name).float().numpy()


_LAYER_MAP = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}
_TOP_MAP = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight"}


def gguf_tensor_name(hf_name: str) -> str | None:
    """The llama.cpp name of an HF Llama tensor; None for tensors llama.cpp does not use (rotary inv_freq)."""
    if hf_name in _TOP_MAP:
        return _TOP_MAP[hf_name]
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", hf_name)
    if m and m.group(2) in _LAYER_MAP:
        return f"blk.{m.group(1)}.{_LAYER_MAP[m.group(2)]}"
    if hf_name.endswith("rotary_emb.inv_freq"):
        return None
    raise InputError(f"unexpected tensor {hf_name!r} for a Llama model")


def _add_bos_eos(model_dir: Path) -> tuple[bool, bool]:
    """Whether the HF tokenizer adds BOS/EOS to plain text, measured rather than read from config flags."""
    tok = load_hf_tokenizer(model_dir)
    ids = tok("a").input_ids
    bos = tok.bos_token_id is not None and len(ids) > 0 and ids[0] == tok.bos_token_id
    eos = tok.eos_token_id is not None and len(ids) > 0 and ids[-1] == tok.eos_token_id
    return bos, eos


def _eos_ids(model_dir: Path, cfg: dict[str, Any]) -> list[int]:
    gen = model_dir / "generation_config.json"
    eos: Any = cfg.get("eos_token_id")
    if gen.is_file():
        eos = json.loads(gen.read_text(encoding="utf-8")).get("eos_token_id", eos)
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, list) else [eos])]


def write_gguf(model_dir: Path, out_file: Path, out_type: str = "f16", name: str | None = None) -> Path:
    """Convert ``model_dir`` (HF Llama) to one GGUF file of ``out_type`` (f32, f16 or q8_0)."""
    import gguf

    if out_type not in GGUF_TYPES:
        raise InputError(f"GGUF type {out_type!r} is not one of {', '.join(GGUF_TYPES)}")
    model_dir = Path(model_dir)
    cfg = _load_config(model_dir)
    n_head = int(cfg["num_attention_heads"])
    n_kv = int(cfg.get("num_key_value_heads") or n_head)
    hidden = int(cfg["hidden_size"])
    head_dim = int(cfg.get("head_dim") or hidden // n_head)
    n_vocab = int(cfg["vocab_size"])
    theta, linear_factor = _rope(cfg)
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[out_type]

    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.partial")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(name or model_dir.name)
    w.add_context_length(int(cfg.get("max_position_embeddings", 2048)))
    w.add_embedding_length(hidden)
    w.add_block_count(int(cfg["num_hidden_layers"]))
    w.add_feed_forward_length(int(cfg["intermediate_size"]))
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_rope_freq_base(theta)
    w.add_rope_dimension_count(head_dim)
    if head_dim != hidden // n_head:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if linear_factor:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(linear_factor)
    w.add_vocab_size(n_vocab)
    w.add_file_type(ftype)

    vocab = build_vocab(model_dir, n_vocab)
    w.add_tokenizer_model(vocab.model)
    w.add_tokenizer_pre(vocab.pre)
    w.add_token_list(vocab.tokens)
    w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    if vocab.add_space_prefix is not None:
        w.add_add_space_prefix(vocab.add_space_prefix)
    for note in vocab.divergences:
        log.warning("%s: llama.cpp will tokenize some texts differently from the HF tokenizer: %s", model_dir, note)
    special = gguf.SpecialVocab(model_dir, load_merges=vocab.model == "gpt2", n_vocab=n_vocab)
    bos, eos = _add_bos_eos(model_dir)
    special.add_special_token["bos"] = bos
    special.add_special_token["eos"] = eos
    special.add_to_gguf(w, quiet=True)
    eos_ids = _eos_ids(model_dir, cfg)
    if len(eos_ids) > 1:  # e.g. ChatML's <|im_end|> next to </s>: llama.cpp stops on end-of-generation tokens
        w.add_eot_token_id(eos_ids[-1])

    for hf_name, data in _iter_tensors(model_dir):
        gname = gguf_tensor_name(hf_name)
        if gname is None:
            continue
        if hf_name.endswith("q_proj.weight"):
            data = permute_qk(data, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = permute_qk(data, n_kv)
        data, qtype = _quantize(data, out_type)
        w.add_tensor(gname, data, raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out_file)
    log.info("wrote %s (%s)", out_file, out_type)
    return out_file


def _quantize(data: np.ndarray, out_type: str):
    """1-D tensors (norms) stay f32 as in llama.cpp; 2-D ones become f16 or q8_0 (f16 when rows don't fit 32-blocks)."""
    import gguf

    if data.ndim == 1 or out_type == "f32":
        return data.astype(np.float32), gguf.GGMLQuantizationType.F32
    if out_type == "q8_0" and data.shape[-1] % 32 == 0:
        return gguf.quants.quantize(data.astype(np.float32), gguf.GGMLQuantizationType.Q8_0), \
            gguf.GGMLQuantizationType.Q8_0
    return data.astype(np.float16), gguf.GGMLQuantizationType.F16
