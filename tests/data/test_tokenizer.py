"""The tokenizer loader: SentencePiece conversion is exact, special tokens are single ids, save/load round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from meditron.data.tokenizer import ALL_SPECIAL_TOKENS, add_special_tokens, load_tokenizer, save_tokenizer
from meditron.errors import InputError
from tests.testing import SHARED_DATA, requires_shared_data

SPM = SHARED_DATA / "tokenizers" / "tokenizer.model.v1"
TEXTS = [
    "Hello world, the patient's HbA1c was 7.2%.",
    "  leading spaces\nnew line  x\t\ttabs",
    "émoji 🤖 中文 — “quotes”",
    "a  b   c    d",
    "",
]


def train_bpe_json(path: Path) -> Path:
    """A small real BPE tokenizer.json trained here (no download), with </s> as EOS."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    tk.train_from_iterator(["the patient was given aspirin and recovered"] * 50 + TEXTS, trainer=trainer)
    tk.save(str(path))
    return path


@requires_shared_data
def test_sentencepiece_conversion_encodes_like_sentencepiece():
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    tok = load_tokenizer(SPM)
    assert len(tok) == 32000 and tok.eos_token == "</s>" and tok.eos_token_id == 2 and tok.bos_token_id == 1
    jats = sorted((SHARED_DATA / "pubmed" / "jats").glob("*.nxml"))[0].read_text(encoding="utf-8")[:20000]
    for text in [*TEXTS, jats]:
        assert tok.encode(text, add_special_tokens=False) == sp.encode(text)
        assert tok.decode(tok.encode(text, add_special_tokens=False)) == sp.decode(sp.encode(text))


@requires_shared_data
def test_special_tokens_single_ids_and_saved_roundtrip(tmp_path):
    tok = load_tokenizer(SPM)
    assert add_special_tokens(tok) == 12
    assert len(tok) == 32012
    ids = [tok.encode(t, add_special_tokens=False) for t in ALL_SPECIAL_TOKENS]
    assert ids == [[32000 + i] for i in range(12)]
    assert 32000 in tok.encode("cited [bib_ref] Title, Smith [/bib_ref].", add_special_tokens=False)
    save_tokenizer(tok, tmp_path / "tok")
    for reloaded in (load_tokenizer(tmp_path / "tok"), load_tokenizer(tmp_path / "tok" / "tokenizer.json")):
        assert len(reloaded) == 32012 and reloaded.eos_token_id == 2
        assert add_special_tokens(reloaded) == 0
        assert reloaded.encode("[table] x [/table]", add_special_tokens=False) == tok.encode(
            "[table] x [/table]", add_special_tokens=False
        )


def test_tokenizer_json_and_directory(tmp_path):
    path = train_bpe_json(tmp_path / "tokenizer.json")
    tok = load_tokenizer(path)
    assert tok.eos_token == "</s>" and tok.eos_token_id == 2
    base = len(tok)
    assert add_special_tokens(tok) == 12 and len(tok) == base + 12
    for t in ALL_SPECIAL_TOKENS:
        assert len(tok.encode(t, add_special_tokens=False)) == 1
    assert add_special_tokens(tok) == 0 and len(tok) == base + 12
    save_tokenizer(tok, tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    assert len(again) == base + 12 and again.encode("[fig]", add_special_tokens=False) == tok.encode("[fig]")


def test_bad_paths_name_the_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_tokenizer(tmp_path / "missing" / "tokenizer.model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "empty")
    bad = tmp_path / "broken.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="broken.model"):
        load_tokenizer(bad)
