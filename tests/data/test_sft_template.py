"""ChatML rendering and the answer-only loss mask: what training sees is what apply_chat_template renders."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from meditron.data.sft import IGNORE_INDEX, ChatExample, chatml_template, install_chat_template, tokenize_example
from meditron.errors import ConfigError
from meditron.tokenizer import add_special_tokens, load_tokenizer
from tests.fixtures.synthetic_qa import build_tokenizer
from tests.testing import SHARED_DATA, requires_shared_data

CONV = [
    {"role": "system", "content": "You are a medical doctor. Select one correct answer from A to D."},
    {"role": "user", "content": "Question: Which drug reverses opioid overdose?\nOptions:\nA. naloxone\nB. aspirin"},
    {"role": "assistant", "content": "The answer is A."},
    {"role": "user", "content": "Why?"},
    {"role": "assistant", "content": "Naloxone is an opioid receptor antagonist.\nTherefore, the answer is A."},
]


@pytest.fixture(scope="module")
def bpe_tok():
    return build_tokenizer()


@pytest.fixture(scope="module")
def sp_tok():
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    tok = load_tokenizer(SHARED_DATA / "tokenizers" / "tokenizer.model.v1")
    add_special_tokens(tok)
    return install_chat_template(tok)


def _tokenizers(request):
    return [request.getfixturevalue("bpe_tok")] + ([request.getfixturevalue("sp_tok")] if SHARED_DATA.exists() else [])


def test_rendered_example_equals_apply_chat_template(request, tmp_path):
    for tok in _tokenizers(request):
        ex = tokenize_example(tok, ChatExample("c", "chat", CONV, ""))
        expected = tok.apply_chat_template(CONV, tokenize=True, return_dict=True)["input_ids"]
        assert ex.input_ids.tolist() == list(expected)
        # The saved tokenizer carries the template: inference renders the same ids after a save/load round trip.
        tok.save_pretrained(tmp_path / "tok")
        reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
        assert reloaded.chat_template == chatml_template(tok)
        again = reloaded.apply_chat_template(CONV, tokenize=True, return_dict=True)["input_ids"]
        assert list(again) == ex.input_ids.tolist()
        # The generation prompt at inference is a token prefix of the training example (no boundary merges).
        prompt = reloaded.apply_chat_template(CONV[:2], add_generation_prompt=True, tokenize=True, return_dict=True)
        assert ex.input_ids[: len(prompt["input_ids"])].tolist() == list(prompt["input_ids"])


def test_rendered_text_is_chatml(bpe_tok):
    text = bpe_tok.apply_chat_template(CONV[:3], tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a medical doctor. Select one correct answer from A to D.<|im_end|>\n"
        "<|im_start|>user\nQuestion: Which drug reverses opioid overdose?\nOptions:\nA. naloxone\nB. aspirin<|im_end|>\n"
        "<|im_start|>assistant\nThe answer is A.<|im_end|>\n"
    )


def test_loss_mask_covers_exactly_the_assistant_tokens(request):
    for tok in _tokenizers(request):
        ex = tokenize_example(tok, ChatExample("c", "chat", CONV, ""))
        im_start, im_end = tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
        ids, labels = ex.input_ids, ex.labels
        assert ((labels == IGNORE_INDEX) | (labels == ids)).all()
        # Expected mask from the structure: tokens after "<|im_start|>assistant\n" up to and including <|im_end|>.
        expected = np.zeros(len(ids), dtype=bool)
        header = tok.encode("<|im_start|>assistant\n", add_special_tokens=False)
        starts = [i + len(header) for i in range(len(ids)) if ids[i : i + len(header)].tolist() == header]
        assert len(starts) == 2
        for s in starts:
            end = s + int(np.argmax(ids[s:] == im_end))
            expected[s : end + 1] = True
        assert ((labels != IGNORE_INDEX) == expected).all()
        learned = [tok.decode(ids[s : s + int(np.argmax(ids[s:] == im_end)) + 1]) for s in starts]
        assert learned == [CONV[2]["content"] + "<|im_end|>", CONV[4]["content"] + "<|im_end|>"]
        assert im_start not in labels[labels != IGNORE_INDEX]


def test_template_needs_chatml_tokens():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    with pytest.raises(ConfigError, match="add_special_tokens"):
        install_chat_template(PreTrainedTokenizerFast(tokenizer_object=raw))


@requires_shared_data
def test_sentencepiece_answer_tokens_decode_to_the_answer(sp_tok):
    ex = tokenize_example(sp_tok, ChatExample("c", "chat", CONV[:3], ""))
    assert sp_tok.decode(ex.labels[ex.labels != IGNORE_INDEX]) == "The answer is A.<|im_end|>"


def test_every_example_starts_with_exactly_one_bos_when_the_tokenizer_adds_it(request):
    """The 32k SentencePiece tokenizer adds BOS: its ChatML writes ``<s>`` first, so every example (and every packed
    example) starts with exactly one BOS, never learned; the quickstart's byte-level BPE adds none and gets none."""
    from meditron.data.sft import tokenize_examples
    from meditron.data.sft.packing import concat_examples
    from meditron.tokenizer import adds_special_tokens

    seen = []
    for tok in _tokenizers(request):
        adds_bos = adds_special_tokens(tok)[0]
        seen.append(adds_bos)
        text = tok.apply_chat_template(CONV, tokenize=False)
        assert text.startswith("<s><|im_start|>system\n" if adds_bos else "<|im_start|>system\n")
        body = text.removeprefix("<s>") if adds_bos else text
        ex = tokenize_example(tok, ChatExample("c", "chat", CONV, ""))
        assert ex.input_ids.tolist() == [tok.bos_token_id] * adds_bos + tok.encode(body, add_special_tokens=False)
        assert ex.labels[0] == IGNORE_INDEX
        packed = concat_examples(tokenize_examples(tok, [ChatExample(f"c{i}", "chat", CONV, "") for i in range(3)]), 0)
        starts = np.flatnonzero(np.diff(packed["seq_ids"], prepend=-1))
        assert (packed["input_ids"] == tok.bos_token_id).sum() == (3 if adds_bos else 0)
        if adds_bos:
            assert packed["input_ids"][starts].tolist() == [tok.bos_token_id] * 3
    assert seen == ([False, True] if SHARED_DATA.exists() else [False])
