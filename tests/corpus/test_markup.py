"""corpus.markup: the spelling the JATS cleaner writes is the one the tokenizer adds, in every stage."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from meditron.config import load_config
from meditron.corpus.config import CorpusConfig, MarkupConfig, TokenizationConfig
from meditron.corpus.pipeline import run_corpus
from meditron.corpus.tokenization import prepare_tokenizer
from meditron.data.shards import TokenShards
from meditron.run import RunDir
from meditron.sample import SAMPLE_DIR
from meditron.tokenizer import add_special_tokens, load_tokenizer, missing_special_tokens
from meditron.train.pretrain import resolve_tokenizer


def test_upper_case_markers_are_single_tokens_and_lower_ones_are_not_added(tmp_path):
    markers = MarkupConfig(case="upper").special_tokens
    assert markers == ("[BIB_REF]", "[/BIB_REF]", "[FIG_REF]", "[/FIG_REF]", "[FIG]", "[/FIG]", "[TABLE]", "[/TABLE]",
                       "[FORMULA]", "[/FORMULA]")
    prepared = prepare_tokenizer(source=str(SAMPLE_DIR / "tokenizer"), settings=TokenizationConfig(),
                                 shards_dir=tmp_path, markers=markers)
    tok = load_tokenizer(prepared.tokenizer_json.parent)
    vocab = tok.get_vocab()
    assert all(m in vocab for m in markers) and "[fig_ref]" not in vocab
    ids = tok.encode("[FIG_REF]Figure 3: Flow of participants[/FIG_REF]", add_special_tokens=False)
    assert ids[0] == vocab["[FIG_REF]"] and ids[-1] == vocab["[/FIG_REF]"]
    # pretraining and finetuning add the same markers (cfg.corpus.markup): nothing new, ids unchanged
    assert missing_special_tokens(tok, markers) == []
    size = len(tok)
    assert add_special_tokens(tok, markers) == 0 and len(tok) == size


def test_default_markup_is_lower_case_as_before():
    assert CorpusConfig().markup.special_tokens[:2] == ("[bib_ref]", "[/bib_ref]")
    assert CorpusConfig().markup.caption_words == 12


@pytest.mark.slow
def test_upper_case_corpus_shards_are_accepted_by_pretraining(tmp_path):
    """The corpus writes [FIG_REF]… and saves a tokenizer with those markers; pretraining adds the same ones, so its
    check that the model's tokenizer is the shards' one passes, and each marker is one id in the shards."""
    cfg_path = tmp_path / "upper.yaml"
    cfg_path.write_text(yaml.safe_dump({"name": "upper", "out_dir": str(tmp_path), "corpus": {
        "tokenizer": "sample:tokenizer",
        "sources": [{"name": "papers", "kind": "jats", "paths": ["sample:pubmed/jats"]}],
        "language": {"enabled": False}, "decontamination": {"enabled": False},
        "markup": {"case": "upper"},
    }}))
    cfg = load_config(cfg_path)
    run = RunDir.from_config(cfg).create()
    run_corpus(cfg, run)
    shards = TokenShards(run.shards)
    tok, record = resolve_tokenizer(cfg, shards)
    assert record["fingerprint"] == shards.tokenization["fingerprint"]
    ids = np.concatenate([f.tokens for s in ("train", "validation") for f in shards.files("papers", s)])
    vocab = tok.get_vocab()
    assert (ids == vocab["[FIG_REF]"]).sum() == (ids == vocab["[/FIG_REF]"]).sum() >= 8  # one reference per paper
    assert "[fig_ref]" not in vocab and "[FIG_REF]Figure 1: " in tok.decode(ids.tolist())
