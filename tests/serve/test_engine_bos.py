"""The server's prompts start with exactly one BOS when the model's tokenizer adds one, and with none otherwise:
chat rendered by the template (which writes the BOS) and tokenized without special tokens, a template saved without
BOS, and raw completions prompts. The engine reads the context and the tokenizer as every stage does."""

from __future__ import annotations

from pathlib import Path

import pytest

from meditron.data.sft import CHATML_TEMPLATE
from meditron.serve.engine import TransformersEngine
from tests.serve import sp_models

MESSAGES = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": " Epinephrine dose?"}]


@pytest.fixture(scope="module")
def aidreams_engine(tmp_path_factory):
    if not sp_models.AIDREAMS.is_dir():
        pytest.skip(f"{sp_models.AIDREAMS} is absent (real pretrained model)")
    engine = TransformersEngine(str(sp_models.aidreams_meditron(tmp_path_factory.mktemp("am") / "m")), max_workers=1)
    yield engine
    engine.pool.shutdown()


def test_sentencepiece_chat_and_prompts_start_with_one_bos(aidreams_engine):
    import sentencepiece as spm

    e, tok = aidreams_engine, aidreams_engine.tokenizer
    sp = spm.SentencePieceProcessor(model_file=str(sp_models.AIDREAMS / "tokenizer.model"))
    im_start, im_end = tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    ids, stops = e.encode_chat(MESSAGES)
    nl = sp.encode("\n")  # after a special token, SentencePiece (and llama.cpp) start a new ▁-prefixed piece
    assert ids == [1, im_start, *sp.encode("system\nAnswer briefly."), im_end, *nl,
                   im_start, *sp.encode("user\n Epinephrine dose?"), im_end, *nl,
                   im_start, *sp.encode("assistant\n")] and stops == []
    template = tok.chat_template
    try:
        tok.chat_template = CHATML_TEMPLATE  # saved before BOS-first ChatML: still exactly one BOS
        assert e.encode_chat(MESSAGES)[0] == ids
    finally:
        tok.chat_template = template
    assert e.encode_prompt(" Aspirin") == [1, *sp.encode(" Aspirin")]
    assert e.encode_prompt("<s> Aspirin") == [1, *sp.encode(" Aspirin")]  # a BOS typed in the prompt is not doubled
    assert e.context_length == 128  # model_max_context: max_position_embeddings of aidreams


def test_quickstart_style_tokenizer_gets_no_bos(tiny_model: Path):
    e = TransformersEngine(str(tiny_model), max_workers=1)
    try:
        tok = e.tokenizer
        ids, _ = e.encode_chat(MESSAGES)
        text = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
        assert ids == tok(text, add_special_tokens=False).input_ids and tok.bos_token_id not in ids
        assert e.encode_prompt("Aspirin") == tok("Aspirin").input_ids and tok.bos_token_id not in e.encode_prompt("a")
        assert e.context_length == 256
    finally:
        e.pool.shutdown()
