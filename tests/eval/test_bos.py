"""Evaluation prompts start with exactly one BOS when the model's tokenizer adds one (Llama-2/Mistral SentencePiece),
and with none when it adds none (the quickstart's byte-level BPE), as lm-eval's HF backend tokenizes them: chat and
CoT prompts rendered with the template (which writes the BOS), and raw prompts (the tokenizer's default)."""

from __future__ import annotations

import pytest

from meditron.benchmarks.prompts import render_chat
from meditron.data.sft import CHATML_TEMPLATE
from meditron.eval.backends import make_lm
from tests.serve import sp_models

MESSAGES = [{"role": "system", "content": "Answer A or B."}, {"role": "user", "content": " Naloxone reverses?"}]
RAW = " Question: which drug reverses opioid overdose?\nAnswer:"


def _lm(model_dir):
    return make_lm("meditron", str(model_dir), base_url=None, batch_size=1, generative=True)


@sp_models.requires_aidreams
def test_sentencepiece_model_prompts_start_with_one_bos(tmp_path):
    import sentencepiece as spm

    lm = _lm(sp_models.aidreams_meditron(tmp_path / "aidreams-meditron"))
    tok = lm.tokenizer
    text = render_chat(tok, MESSAGES)
    assert text.startswith("<s><|im_start|>system\n") and not text.startswith("<s><s>")
    body = tok(text.removeprefix("<s>"), add_special_tokens=False).input_ids
    assert lm.tok_batch_encode([text])[0][0].tolist() == [1, *body]
    tok.chat_template = CHATML_TEMPLATE  # a template saved without BOS still gets exactly one
    assert render_chat(tok, MESSAGES) == text
    sp = spm.SentencePieceProcessor(model_file=str(sp_models.AIDREAMS / "tokenizer.model"))
    assert lm.tok_encode(RAW) == [1, *sp.encode(RAW)]  # raw CoT prompt: BOS, then SentencePiece's own ids
    assert lm.tok_batch_encode([RAW])[0][0].tolist() == [1, *sp.encode(RAW)]


def test_quickstart_tokenizer_prompts_have_no_bos(tiny_model):
    lm = _lm(tiny_model)
    tok = lm.tokenizer
    text = render_chat(tok, MESSAGES)
    assert text.startswith("<|im_start|>system\n")
    ids = lm.tok_batch_encode([text])[0][0].tolist()
    assert ids == tok(text, add_special_tokens=False).input_ids and tok.bos_token_id not in ids
    assert lm.tok_encode(RAW) == tok(RAW, add_special_tokens=False).input_ids


@pytest.mark.parametrize("backend", ["meditron", "hf"])
@sp_models.requires_aidreams
def test_eval_backends_read_the_tokenizer_as_every_stage(backend):
    """The HF backends get meditron's tokenizer (rebuilt on tokenizer.model), not transformers' tokenizer.json."""
    from meditron.tokenizer import load_tokenizer

    lm = make_lm(backend, str(sp_models.AIDREAMS), base_url=None, batch_size=1, generative=False)
    assert lm.tok_encode(RAW) == load_tokenizer(sp_models.AIDREAMS).encode(RAW)
