"""corpus.markup: the spelling the JATS cleaner writes is the one the tokenizer adds, in every stage."""

from __future__ import annotations

from meditron.corpus.config import CorpusConfig, MarkupConfig, TokenizationConfig
from meditron.corpus.tokenization import prepare_tokenizer
from meditron.sample import SAMPLE_DIR
from meditron.tokenizer import add_special_tokens, load_tokenizer, missing_special_tokens


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
