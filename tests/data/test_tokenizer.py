"""The tokenizer loader: SentencePiece conversion is exact and adds BOS like Llama, special tokens are single ids,
save/load round-trips, and a tokenizer's identity (vocabulary fingerprint, BOS/EOS convention) is stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from meditron.errors import InputError
from meditron.tokenizer import (
    ALL_SPECIAL_TOKENS,
    add_special_tokens,
    adds_special_tokens,
    describe_tokenizer,
    load_tokenizer,
    save_tokenizer,
    vocabulary_fingerprint,
)
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


AIDREAMS = SHARED_DATA.parent / "models" / "aidreams260K-hf"
SPM_FILES = [SPM, AIDREAMS / "tokenizer.model"]


@requires_shared_data
@pytest.mark.parametrize("path", SPM_FILES, ids=["32k-v1", "aidreams512"])
def test_sentencepiece_model_adds_bos_like_llama(path, tmp_path):
    """A ``.model`` encodes as Llama-2/Mistral do: BOS (id 1) first, no EOS; saved and reloaded it still does, and the
    ``.model`` file is kept beside ``tokenizer.json``."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(path))
    tok = load_tokenizer(path)
    assert tok("a")["input_ids"] == [1, *sp.encode("a")]
    for text in TEXTS[:4]:
        assert tok.encode(text) == [1, *sp.encode(text)]
    assert adds_special_tokens(tok) == (True, False)
    add_special_tokens(tok)
    save_tokenizer(tok, tmp_path / "tok")
    assert (tmp_path / "tok" / "tokenizer.model").read_bytes() == path.read_bytes()
    again = load_tokenizer(tmp_path / "tok")
    assert again.encode("Sepsis [table] x") == tok.encode("Sepsis [table] x") and again.encode("x")[0] == 1
    assert describe_tokenizer(again) == describe_tokenizer(tok)


@requires_shared_data
def test_identity_of_the_same_tokenizer_from_its_dir_and_its_model_file():
    """The aidreams HF directory (LlamaTokenizer from tokenizer.json) and its ``tokenizer.model`` are one tokenizer:
    equal fingerprints and conventions, so shards made with either fit the model; the 32k tokenizer is another."""
    ids = []
    for source in (AIDREAMS, AIDREAMS / "tokenizer.model", SPM):
        tok = load_tokenizer(source)
        assert add_special_tokens(tok) == 12
        ids.append(describe_tokenizer(tok))
    assert ids[0] == ids[1]
    assert ids[0].to_dict() == {
        "vocab_size": 524, "fingerprint": ids[0].fingerprint, "bos_id": 1, "eos_id": 2, "adds_bos": True,
        "adds_eos": False,
    }  # fmt: skip
    assert ids[2].vocab_size == 32012 and ids[2].fingerprint != ids[0].fingerprint
    assert ids[0].short() == f"vocab 524, fingerprint {ids[0].fingerprint}, BOS 1 (added), EOS 2"


def test_convention_read_from_behaviour(tmp_path):
    """A tokenizer.json without a post-processor adds nothing; the same one with a BOS template adds BOS. The
    fingerprint depends on the vocabulary only."""
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    plain = load_tokenizer(train_bpe_json(tmp_path / "tokenizer.json"))
    assert adds_special_tokens(plain) == (False, False)
    backend = plain.backend_tokenizer
    backend.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    framed = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")
    assert adds_special_tokens(framed) == (True, False)
    assert vocabulary_fingerprint(framed) == vocabulary_fingerprint(plain)
    add_special_tokens(plain)
    assert vocabulary_fingerprint(plain) != vocabulary_fingerprint(framed)


# --- a folder with a SentencePiece tokenizer.model is read as SentencePiece encodes (docs/DATA.md) ------------------

LEADING = [" Aspirin inhibits cyclooxygenase.", "  Iron deficiency anaemia.\nNext step?"]


@requires_shared_data
def test_folder_with_tokenizer_model_encodes_like_sentencepiece(tmp_path):
    """aidreams' transformers-5 tokenizer.json does not double the ▁ before a leading space; meditron's loader reads
    the folder rebuilt on its tokenizer.model: raw SentencePiece's ids, the folder's vocabulary, BOS habit and token
    ids, and a save of it that plain ``AutoTokenizer`` loads to the same ids."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    sp = spm.SentencePieceProcessor(model_file=str(AIDREAMS / "tokenizer.model"))
    ours, folder = load_tokenizer(AIDREAMS), AutoTokenizer.from_pretrained(AIDREAMS, local_files_only=True)
    for text in [*TEXTS, *LEADING]:
        assert ours.encode(text) == [1, *sp.encode(text)], text
    assert [folder.encode(t) == [1, *sp.encode(t)] for t in LEADING] == [False, False]
    assert describe_tokenizer(ours) == describe_tokenizer(folder) and ours.model_max_length == 128
    add_special_tokens(ours)
    ours.chat_template = "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}"
    ours.save_pretrained(tmp_path / "saved")
    plain = AutoTokenizer.from_pretrained(tmp_path / "saved", local_files_only=True)
    chat = "<|im_start|>user\n Hi<|im_end|>\n"
    assert plain.encode(chat) == ours.encode(chat) == [1, 522, *sp.encode("user\n Hi"), 523, *sp.encode("\n")]
    for text in LEADING:
        assert plain.encode(text) == [1, *sp.encode(text)]


@requires_shared_data
def test_folder_rebuild_keeps_added_tokens_pad_template_and_no_bos_habit(tmp_path):
    """A folder whose tokenizer adds no BOS, with MEDITRON's tokens, a pad token and a template (transformers'
    ``LlamaTokenizer.from_pretrained`` of the 32k .model): rebuilt, it keeps all of them and encodes as SentencePiece."""
    import shutil

    import sentencepiece as spm
    from transformers import AutoTokenizer, LlamaTokenizer

    shutil.copyfile(SPM, tmp_path / "tokenizer.model")
    src = LlamaTokenizer.from_pretrained(tmp_path)
    add_special_tokens(src)
    src.pad_token, src.chat_template = "[table]", "{% for m in messages %}{{ m.content }}{% endfor %}"
    src.save_pretrained(tmp_path)
    folder, ours = AutoTokenizer.from_pretrained(tmp_path), load_tokenizer(tmp_path)
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    assert describe_tokenizer(ours) == describe_tokenizer(folder) and adds_special_tokens(ours) == (False, False)
    assert (ours.pad_token, ours.chat_template) == ("[table]", folder.chat_template)
    assert ours.encode(" a  b\t\tc [fig] d") == [*sp.encode(" a  b\t\tc "), 32004, *sp.encode(" d")]
    assert folder.encode(" a  b\t\tc [fig] d") != ours.encode(" a  b\t\tc [fig] d")


@requires_shared_data
def test_folder_keeps_its_tokenizer_json_when_tokenizer_model_is_another(tmp_path, caplog):
    """A tokenizer.model that is not the folder's vocabulary (the 32k one beside aidreams' tokenizer.json), or not
    SentencePiece at all (Llama-3's tiktoken file), is not used: the folder's tokenizer.json is, unchanged."""
    import shutil

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(AIDREAMS / name, tmp_path / name)
    shutil.copyfile(SPM, tmp_path / "tokenizer.model")
    with caplog.at_level("WARNING"):
        tok = load_tokenizer(tmp_path)
    assert "is not the vocabulary of the tokenizer beside it" in caplog.text
    assert len(tok) == 512 and tok.encode(LEADING[0]) == [1, *tok.encode(LEADING[0][1:], add_special_tokens=False)]
    (tmp_path / "tokenizer.model").write_text("IQ== 0\nIg== 1\n")  # tiktoken's format
    assert len(load_tokenizer(tmp_path)) == 512


def test_one_bos_exactly_when_the_tokenizer_adds_bos(tmp_path):
    """``one_bos``/``one_bos_text``: a missing BOS is added and a doubled one collapsed for a BOS-adding tokenizer;
    a tokenizer that adds none is left as it is."""
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from meditron.tokenizer import one_bos, one_bos_text

    path = train_bpe_json(tmp_path / "tokenizer.json")
    plain, backend = load_tokenizer(path), load_tokenizer(path).backend_tokenizer
    backend.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    framed = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")
    x = framed.encode("the patient", add_special_tokens=False)
    assert one_bos(framed, x) == one_bos(framed, [1, *x]) == one_bos(framed, [1, 1, *x]) == [1, *x]
    assert one_bos(plain, [1, 1, *x]) == [1, 1, *x] and one_bos(plain, x) == x
    assert one_bos_text(framed, "<s><s>hi") == one_bos_text(framed, "hi") == "<s>hi"
    assert one_bos_text(plain, "hi") == "hi"
