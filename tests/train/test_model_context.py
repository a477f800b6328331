"""``model_max_context``: one reading of a model's maximum context for every stage (config first, tokenizer only as
a fallback), with Mistral's sliding window noted."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from transformers import LlamaConfig, MistralConfig

from meditron.errors import ConfigError, InputError
from meditron.model_info import model_max_context, read_model_context
from meditron.train.model import check_seq_len
from tests.corpus.test_shard_tokenization import AIDREAMS
from tests.testing import requires_shared_data


@requires_shared_data
def test_real_model_dir_and_its_config_file():
    assert model_max_context(AIDREAMS) == 128
    assert model_max_context(AIDREAMS / "config.json") == 128
    ctx = read_model_context(AIDREAMS)
    assert (ctx.source, ctx.sliding_window, ctx.note()) == (
        f"max_position_embeddings in {AIDREAMS / 'config.json'}", None, None
    )


def test_config_objects_other_spellings_and_sliding_window():
    assert model_max_context(LlamaConfig(max_position_embeddings=4096)) == 4096
    mistral = read_model_context(MistralConfig(max_position_embeddings=32768, sliding_window=4096))
    assert (mistral.max_context, mistral.sliding_window) == (32768, 4096)
    assert mistral.note() == (
        "the model attends to the last 4096 tokens in each layer (sliding_window) of a 32768-token context"
    )
    qwen = read_model_context({"max_position_embeddings": 32768, "sliding_window": 4096, "use_sliding_window": False})
    assert qwen.sliding_window is None and qwen.note() is None
    assert model_max_context({"n_positions": 1024}) == 1024  # GPT-2
    assert model_max_context({"text_config": {"max_position_embeddings": 8192}}) == 8192  # multimodal


def test_tokenizer_is_only_a_fallback():
    tok = SimpleNamespace(model_max_length=512)
    assert model_max_context({"max_position_embeddings": 2048}, tok) == 2048
    assert read_model_context({}, tok).source == "tokenizer model_max_length"
    assert model_max_context({}, tok) == 512
    assert model_max_context({}, SimpleNamespace(model_max_length=int(1e30))) is None  # transformers' "unset"
    assert model_max_context({}) is None


def test_check_seq_len_names_both_numbers_and_the_key(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "max_position_embeddings": 64}))
    assert check_seq_len(64, "finetune.seq_len", tmp_path).max_context == 64
    with pytest.raises(ConfigError) as err:
        check_seq_len(65, "finetune.seq_len", tmp_path)
    assert str(err.value) == (
        f"finetune.seq_len=65 is above the model's maximum context of 64 tokens (max_position_embeddings in "
        f"{tmp_path / 'config.json'}): set finetune.seq_len to 64 or less"
    )
    assert check_seq_len(10**6, "train.seq_len", {}).max_context is None  # unknown context: nothing to refuse
    with pytest.raises(InputError, match="no config.json"):
        model_max_context(tmp_path / "missing")
