"""Token shards frame each document the way the base tokenizer does: ``[BOS] text [EOS]`` with a Llama/Mistral
SentencePiece tokenizer (it adds BOS), ``text [EOS]`` with a tokenizer that adds none; ``corpus.tokenization``
overrides it and the choice is recorded for the pretraining stage's check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document

from meditron.corpus.config import CorpusConfig
from meditron.corpus.tokenization import ShardTokenization, prepare_tokenizer
from meditron.corpus.writers import ShardWriter
from meditron.data.shards import TokenFile
from meditron.errors import ConfigError
from meditron.tokenizer import load_tokenizer
from tests.testing import SHARED_DATA, requires_shared_data

AIDREAMS = SHARED_DATA.parent / "models" / "aidreams260K-hf"
SPM_32K = SHARED_DATA / "tokenizers" / "tokenizer.model.v1"
TEXTS = [
    "Sepsis is a life-threatening organ dysfunction caused by a dysregulated host response to infection.",
    "Metformin remains first-line therapy [bib_ref] ADA 2023 [/bib_ref] for type 2 diabetes.",
    "a",
    "HbA1c of 7.2% — émoji 🤖 and “quotes”.\n\nNew paragraph.",
    "Table 1 [table] age | n [/table] shows the cohort.",
]


def write_shard(tmp_path: Path, tokenizer: str, **tokenization):
    """Tokenize TEXTS through prepare_tokenizer + ShardWriter (what the shards stage runs); returns (file, prep)."""
    cfg = CorpusConfig(tokenizer=tokenizer, tokenization=tokenization)
    prep = prepare_tokenizer(source=cfg.tokenizer, settings=cfg.tokenization, shards_dir=tmp_path / "shards")
    writer = ShardWriter(
        shards_dir=tmp_path / "shards", tokenization=prep, ledger_dir=str(tmp_path / "ledger"),
        counts_dir=tmp_path / "counts", replay_dir=tmp_path / "replay", replay_sources=[], batch_size=2,
    )
    docs = [Document(text=t, id=f"d{i}", metadata={"source": "papers", "split": "train"}) for i, t in enumerate(TEXTS)]
    list(writer.run(iter(docs)))
    return TokenFile.open(tmp_path / "shards" / "train" / "papers" / "00000.ds", prep.token_size), prep


def documents(f: TokenFile) -> list[list[int]]:
    ends = [int(e) for e in f.doc_ends]
    return [f.tokens[a:b].tolist() for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def assert_framed(f: TokenFile, tok, bos: bool, eos: bool) -> None:
    """Each document is exactly [BOS] + its text's tokens + [EOS]; BOS appears at document starts and nowhere else."""
    docs = documents(f)
    assert len(docs) == len(TEXTS)
    for doc, text in zip(docs, TEXTS, strict=True):
        body = tok.encode(text, add_special_tokens=False)
        assert doc == [tok.bos_token_id] * bos + body + [tok.eos_token_id] * eos
    starts = np.concatenate([[0], f.doc_ends[:-1]]).astype(int)
    bos_positions = np.flatnonzero(np.asarray(f.tokens) == tok.bos_token_id)
    assert bos_positions.tolist() == (starts.tolist() if bos else [])
    assert int((np.asarray(f.tokens) == tok.eos_token_id).sum()) == (len(TEXTS) if eos else 0)


@requires_shared_data
@pytest.mark.parametrize("source", [AIDREAMS, AIDREAMS / "tokenizer.model", SPM_32K], ids=["dir", "model", "32k"])
def test_llama_sentencepiece_documents_start_with_bos(tmp_path, source):
    f, prep = write_shard(tmp_path, str(source))
    tok = load_tokenizer(tmp_path / "shards" / "tokenizer")
    assert_framed(f, tok, bos=True, eos=True)
    assert len(documents(f)) == 5 and int((np.asarray(f.tokens) == 1).sum()) == 5  # BOS id 1, once per document
    assert {k: prep.record[k] for k in ("bos", "eos", "bos_id", "eos_id", "adds_bos", "bos_setting")} == {
        "bos": True, "eos": True, "bos_id": 1, "eos_id": 2, "adds_bos": True, "bos_setting": "auto",
    }  # fmt: skip
    assert prep.record["source"] == str(source) and prep.record["vocab_size"] == len(tok)


def test_quickstart_tokenizer_adds_bos_so_documents_do_too(tmp_path):
    f, prep = write_shard(tmp_path, "sample:tokenizer")
    assert_framed(f, load_tokenizer(tmp_path / "shards" / "tokenizer"), bos=True, eos=True)
    assert prep.record["adds_bos"] is True and prep.record["vocab_size"] == 4108
    # what the preparation stage saves is what the shard writer, replay selector and report read back
    assert ShardTokenization.load(prep.save(tmp_path / "tokenization.json")) == prep
    assert prep.manifest_fields() == {"token_size": 2, "tokenizer": "tokenizer", "eos_id": prep.record["eos_id"],
                                      "tokenization": prep.record, "vocab_size": 4108}


def test_tokenizer_without_bos_template_gives_eos_only(tmp_path):
    from tests.data.test_tokenizer import train_bpe_json

    path = train_bpe_json(tmp_path / "tokenizer.json")
    f, prep = write_shard(tmp_path, str(path))
    tok = load_tokenizer(tmp_path / "shards" / "tokenizer")
    assert tok.bos_token_id is not None and prep.record["adds_bos"] is False
    assert_framed(f, tok, bos=False, eos=True)


@requires_shared_data
def test_settings_override_the_tokenizer(tmp_path):
    f, prep = write_shard(tmp_path / "no_bos", str(AIDREAMS), bos=False)
    tok = load_tokenizer(tmp_path / "no_bos" / "shards" / "tokenizer")
    assert_framed(f, tok, bos=False, eos=True)
    assert (prep.record["bos"], prep.record["bos_setting"], prep.record["adds_bos"]) == (False, False, True)
    f, prep = write_shard(tmp_path / "no_eos", str(AIDREAMS), eos=False)
    assert_framed(f, tok, bos=True, eos=False)
    with pytest.raises(ConfigError, match=r"puts no token between documents.*corpus\.tokenization\.eos=true"):
        write_shard(tmp_path / "none", str(AIDREAMS), bos=False, eos=False)


def test_bos_true_needs_a_bos_token(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.train_from_iterator(TEXTS * 20, trainer=trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "</s>"]))
    tk.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ConfigError, match=r"corpus\.tokenization\.bos is true but .* has no BOS token"):
        write_shard(tmp_path / "x", str(tmp_path / "tokenizer.json"), bos=True)
    from meditron.corpus.pipeline import check_corpus

    cfg = CorpusConfig(tokenizer=str(tmp_path / "tokenizer.json"), tokenization={"bos": True}, replay_share=0,
                       sources=[{"name": "papers", "kind": "jsonl", "paths": [str(tmp_path)]}])
    with pytest.raises(ConfigError, match=r"corpus\.tokenization\.bos is true but .* has no BOS token"):
        check_corpus(cfg)  # before any stage runs (on a cluster: at submission, not in the first job)
    f, prep = write_shard(tmp_path / "y", str(tmp_path / "tokenizer.json"))
    assert prep.record["bos"] is False and prep.record["bos_id"] is None
    assert_framed(f, load_tokenizer(tmp_path / "y" / "shards" / "tokenizer"), bos=False, eos=True)
