"""SentencePiece-tokenizer Llama models for the GGUF tests, built the ways users build them: the real pretrained
``aidreams260K-hf`` (with and without MEDITRON's tokens added), and a tiny random Llama saved with the real 32k
Mistral SentencePiece tokenizer loaded three ways."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.testing import SHARED_DATA

AIDREAMS = SHARED_DATA.parent / "models" / "aidreams260K-hf"
SP_32K = SHARED_DATA / "tokenizers" / "tokenizer.model.v1"
requires_aidreams = pytest.mark.skipif(not AIDREAMS.is_dir(), reason=f"{AIDREAMS} is absent (real pretrained model)")
requires_sp32k = pytest.mark.skipif(not SP_32K.is_file(), reason=f"{SP_32K} is absent (real 32k tokenizer)")


def add_meditron_tokens(tok) -> None:
    """MEDITRON's 12 special tokens and the ChatML template (BOS first when ``tok`` adds BOS), as finetuning adds them."""
    from meditron.data.sft import install_chat_template
    from meditron.tokenizer import add_special_tokens

    add_special_tokens(tok)
    install_chat_template(tok)


def tiny_llama(out: Path, tok, *, seed: int = 0) -> Path:
    """A random tiny Llama whose embedding has one row per token of ``tok``, saved with ``tok`` to ``out``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      initializer_range=0.25)
    LlamaForCausalLM(cfg).save_pretrained(out)
    GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).save_pretrained(out)
    return out


def sp32k_meditron(out: Path, how: str = "meditron") -> Path:
    """Tiny Llama + the 32k tokenizer + MEDITRON's tokens. ``how``: ``meditron`` (our ``load_tokenizer(.model)``),
    ``from_pretrained`` (transformers' ``LlamaTokenizer.from_pretrained`` of a folder with ``tokenizer.model``)."""
    from transformers import LlamaTokenizer

    from meditron.tokenizer import load_tokenizer

    if how == "meditron":
        tok = load_tokenizer(SP_32K)
    else:
        src = out.parent / f"{out.name}-src"
        src.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SP_32K, src / "tokenizer.model")
        tok = LlamaTokenizer.from_pretrained(src)
    add_meditron_tokens(tok)
    tiny_llama(out, tok)
    if not (out / "tokenizer.model").exists():  # the export keeps the SentencePiece model beside tokenizer.json
        shutil.copyfile(SP_32K, out / "tokenizer.model")
    return out


def aidreams_meditron(out: Path) -> Path:
    """The real aidreams model with MEDITRON's tokens added (embedding rows appended), as finetuning leaves it."""
    from transformers import AutoModelForCausalLM

    from meditron.tokenizer import load_tokenizer

    tok = load_tokenizer(AIDREAMS)  # as pretraining and finetuning load it: rebuilt on tokenizer.model
    add_meditron_tokens(tok)
    model = AutoModelForCausalLM.from_pretrained(AIDREAMS, local_files_only=True)
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    shutil.copyfile(AIDREAMS / "tokenizer.model", out / "tokenizer.model")
    return out
