"""Model loading: HF directories of three families and presets; vocabulary always matches the tokenizer."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

from meditron.errors import ConfigError, InputError
from meditron.train.config import ModelConfig
from meditron.train.model import build_config, load_full_model
from meditron.train.schedule import lr_at, warmup_steps_for
from tests.train.helpers import make_shards

SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    root = make_shards(tmp_path_factory.mktemp("shards"), num_docs={"a": 4, "b": 2})
    return AutoTokenizer.from_pretrained(root / "tokenizer")


@pytest.mark.parametrize(
    "config_cls,tied",
    [(LlamaConfig, False), (MistralConfig, False), (Qwen2Config, True)],
    ids=["llama", "mistral", "qwen2"],
)
def test_hf_dir_gets_special_token_rows_initialised_to_the_mean(tmp_path, tokenizer, config_cls, tied):
    base_vocab = 84  # the tokenizer's words, without the 12 special tokens
    torch.manual_seed(0)
    original = AutoModelForCausalLM.from_config(config_cls(vocab_size=base_vocab, tie_word_embeddings=tied, **SMALL))
    original.save_pretrained(tmp_path / "base")
    model = load_full_model(ModelConfig(path=str(tmp_path / "base")), tokenizer, seed=1)
    emb = model.get_input_embeddings().weight
    assert len(tokenizer) == 96 and emb.shape[0] == 96 and model.config.vocab_size == 96
    old = original.get_input_embeddings().weight
    torch.testing.assert_close(emb[:base_vocab], old, rtol=0, atol=0)
    torch.testing.assert_close(emb[base_vocab:], old.mean(0, keepdim=True).expand(12, -1), rtol=0, atol=0)
    head = model.get_output_embeddings().weight
    if tied:
        assert head.data_ptr() == emb.data_ptr()
    else:
        old_head = original.get_output_embeddings().weight
        torch.testing.assert_close(head[base_vocab:], old_head.mean(0, keepdim=True).expand(12, -1), rtol=0, atol=0)
    ids = torch.tensor([tokenizer.encode("w1 w2 [bib_ref] w3", add_special_tokens=False)])
    assert tokenizer.convert_ids_to_tokens(ids[0].tolist())[2] == "[bib_ref]"
    with torch.no_grad():
        plain = torch.tensor([[5, 6, 7, 8]])
        torch.testing.assert_close(model(plain).logits[..., :base_vocab], original(plain).logits, rtol=0, atol=1e-6)
        assert torch.isfinite(model(ids).logits).all()


def test_preset_vocab_follows_the_tokenizer_and_is_seeded(tokenizer):
    a = load_full_model(ModelConfig(preset="tiny-llama"), tokenizer, seed=5)
    b = load_full_model(ModelConfig(preset="tiny-llama"), tokenizer, seed=5)
    assert a.get_input_embeddings().weight.shape == (96, 64)
    assert a.config.num_hidden_layers == 2 and a.config.num_key_value_heads == 2 and a.config.intermediate_size == 172
    assert a.config.eos_token_id == tokenizer.eos_token_id
    torch.testing.assert_close(a.lm_head.weight, b.lm_head.weight, rtol=0, atol=0)
    over = build_config(ModelConfig(preset="tiny-llama", overrides={"num_hidden_layers": 3}), tokenizer)
    assert over.num_hidden_layers == 3


def test_model_errors_name_the_problem(tmp_path, tokenizer):
    with pytest.raises(ConfigError, match="tiny-llama"):
        build_config(ModelConfig(preset="nope"), tokenizer)
    with pytest.raises(InputError, match="no config.json"):
        build_config(ModelConfig(path=str(tmp_path)), tokenizer)
    with pytest.raises(ConfigError, match="model.path"):
        build_config(ModelConfig(), tokenizer)


def test_cosine_schedule_with_warmup_and_floor():
    kw = dict(lr=1.0, min_lr=0.1, warmup_steps=4, total_steps=15)
    assert [lr_at(s, **kw) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(9, **kw) == pytest.approx(0.55)  # half-way through the decay
    assert lr_at(14, **kw) == pytest.approx(0.1) and lr_at(50, **kw) == pytest.approx(0.1)
    assert lr_at(9, kind="linear", **kw) == pytest.approx(0.55)
    assert warmup_steps_for(100, 2000, 0.1) == 10 and warmup_steps_for(100, 7, None) == 7
