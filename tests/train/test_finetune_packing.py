"""Packed SFT samples through the shared Trainer: the same loss as the examples unpacked (no attention leakage)."""

from __future__ import annotations

import numpy as np
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


def _losses(tok, packed, single, tmp_path, attn: str | None = None) -> tuple[float, float]:
    def factory():
        if attn is not None:  # the model as configured, no switch: the trainer must mask correctly itself
            return load_full_model(ModelConfig(preset="tiny-llama", overrides={"attn_implementation": attn}), tok, 0)
        return ensure_boolean_mask_attention(load_full_model(ModelConfig(preset="tiny-llama"), tok, 0))

    trainer = Trainer(
        model_factory=factory,
        tokenizer=tok,
        train_data=packed,
        cfg=FinetuneConfig(steps=1, global_batch_size=1, tensorboard=False, seq_len=560),
        seed=1234,
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
    packed_loss, alone_loss = _losses(*sources, tmp_path)
    assert packed_loss == pytest.approx(alone_loss, rel=1e-5)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_trainer_masks_packed_rows_under_any_attention(sources, tmp_path, attn):
    packed_loss, alone_loss = _losses(*sources, tmp_path, attn=attn)
    assert packed_loss == pytest.approx(alone_loss, rel=1e-5)


def test_eager_attention_is_switched_to_sdpa(sources):
    """With eager attention the trainer's boolean mask is added to the scores and masks nothing (not even the future);
    finetuning's model loader switches such models to SDPA, which gives each packed example its own logits again."""
    from meditron.train.trainer import packed_causal_mask

    tok, packed, _ = sources
    row = collate([packed[0]])
    members = [packed.examples[k] for k in packed.unit_at(0)]
    inputs = {
        "input_ids": row["input_ids"],
        "position_ids": row["position_ids"],
        "attention_mask": packed_causal_mask(row["seq_ids"]),
        "use_cache": False,
    }
    model = load_full_model(ModelConfig(preset="tiny-llama", overrides={"attn_implementation": "eager"}), tok, 0)

    def worst_diff() -> float:
        with torch.no_grad():
            logits = model.eval()(**inputs).logits[0]
            worst, at = 0.0, 0
            for e in members:
                alone = model(input_ids=torch.as_tensor(np.asarray(e.input_ids))[None], use_cache=False).logits[0]
                worst = max(worst, (logits[at : at + len(e)] - alone).abs().max().item())
                at += len(e)
        return worst

    assert worst_diff() > 1e-2  # eager + boolean mask: leaks
    ensure_boolean_mask_attention(model)
    assert model.config._attn_implementation == "sdpa"
    assert worst_diff() <= 1e-5
