"""Packed SFT samples through the shared Trainer: the same loss as the examples unpacked (no attention leakage)."""

from __future__ import annotations

import pytest
import torch

from meditron.data.loader import collate
from meditron.data.sft import SFTSource, build_examples, tokenize_example
from meditron.train.config import FinetuneConfig, ModelConfig
from meditron.train.model import load_full_model
from meditron.train.sft import ensure_boolean_mask_attention
from meditron.train.trainer import Trainer
from tests.fixtures.synthetic_qa import build_tokenizer, write_medqa


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tok = build_tokenizer()
    examples, _ = build_examples("medqa", write_medqa(tmp_path_factory.mktemp("p") / "train.jsonl", 9, seed=4))
    tokenized = [tokenize_example(tok, e) for e in examples]
    packed = SFTSource(tokenized, seq_len=560, seed=0, packing=True, pad_id=tok.pad_token_id)
    single = SFTSource(tokenized, seq_len=560, seed=0, packing=False, pad_id=tok.pad_token_id)
    assert packed.num_units == 3 and single.num_units == 9  # 3 examples of ~180 tokens per 560-token row
    return tok, packed, single


def _losses(tok, packed, single, tmp_path, attn: str, guard: bool) -> tuple[float, float]:
    def factory():
        model = load_full_model(ModelConfig(preset="tiny-llama", overrides={"attn_implementation": attn}), tok, 0)
        assert model.config._attn_implementation == attn
        return ensure_boolean_mask_attention(model) if guard else model

    trainer = Trainer(
        model_factory=factory,
        tokenizer=tok,
        train_data=packed,
        cfg=FinetuneConfig(steps=1, global_batch_size=1, tensorboard=False, seq_len=560),
        checkpoint_dir=tmp_path / "ckpt",
        log_path=tmp_path / "log.jsonl",
    )
    trainer.setup()
    trainer.model.eval()
    rows = collate([packed[i] for i in range(packed.num_units)])
    alone = collate([single[i] for i in range(single.num_units)])
    assert int((rows["labels"][:, 1:] != -100).sum()) == int((alone["labels"][:, 1:] != -100).sum())
    with torch.no_grad():
        return trainer._forward_loss(rows).item(), trainer._forward_loss(alone).item()


def test_packed_rows_give_the_unpacked_loss(sources, tmp_path):
    packed_loss, alone_loss = _losses(*sources, tmp_path, "sdpa", guard=True)
    assert packed_loss == pytest.approx(alone_loss, rel=1e-5)


def test_eager_attention_is_switched_to_sdpa(sources, tmp_path):
    """With eager attention the trainer's boolean mask is added to the scores and masks nothing (not even the future);
    finetuning's model loader switches such models to SDPA, which gives the reference losses again."""
    reference = _losses(*sources, tmp_path / "sdpa", "sdpa", guard=True)
    leaky = _losses(*sources, tmp_path / "raw", "eager", guard=False)
    guarded = _losses(*sources, tmp_path / "guarded", "eager", guard=True)
    assert all(abs(x - r) > 5e-4 * r for x, r in zip(leaky, reference, strict=True))
    assert guarded == pytest.approx(reference, rel=1e-5)
