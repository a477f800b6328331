"""The in-place blocked cross-entropy equals ``F.cross_entropy``: loss, gradient, ignored labels, any block size."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from meditron.train import loss as loss_module
from meditron.train.loss import cross_entropy_sum


def _reference(logits: torch.Tensor, labels: torch.Tensor, scale: float) -> tuple[float, torch.Tensor]:
    x = logits.detach().clone().requires_grad_(True)
    value = F.cross_entropy(x, labels, ignore_index=-100, reduction="sum")
    (value * scale).backward()
    return value.item(), x.grad


@pytest.mark.parametrize("block_bytes", [4 * 97, 4 * 97 * 5, 512 * 1024])  # one row, 5 rows (ragged end), all
def test_loss_and_gradient_equal_cross_entropy(monkeypatch, block_bytes):
    monkeypatch.setattr(loss_module, "_CPU_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(loss_module, "_MIN_BLOCK_ROWS", 1)
    torch.manual_seed(0)
    logits = torch.randn(203, 97) * 4
    labels = torch.randint(0, 97, (203,))
    labels[::9] = -100
    expected_loss, expected_grad = _reference(logits, labels, scale=0.25)

    x = logits.detach().requires_grad_(True)
    out = x * 1.0  # a non-leaf, like the model's logits
    value = cross_entropy_sum(out, labels)
    (value * 0.25).backward()
    assert value.item() == pytest.approx(expected_loss, rel=1e-6)
    torch.testing.assert_close(x.grad, expected_grad, rtol=1e-5, atol=1e-7)


def test_all_labels_ignored_gives_zero_loss_and_gradient():
    x = torch.randn(6, 11, requires_grad=True)
    value = cross_entropy_sum(x * 1.0, torch.full((6,), -100))
    value.backward()
    assert value.item() == 0.0 and torch.count_nonzero(x.grad) == 0


def test_without_grad_it_is_cross_entropy_and_leaves_the_logits():
    logits = torch.randn(5, 7)
    labels = torch.tensor([0, 3, -100, 6, 1])
    before = logits.clone()
    with torch.no_grad():
        value = cross_entropy_sum(logits, labels)
    assert value.item() == pytest.approx(F.cross_entropy(before, labels, ignore_index=-100, reduction="sum").item())
    assert torch.equal(logits, before)


def test_a_model_step_matches_hf_loss():
    """Through a tiny Llama: the same loss and LM-head gradient as transformers' own loss."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    ids = torch.randint(0, 300, (2, 24))
    ref = model(input_ids=ids, labels=ids)
    n = (ids[:, 1:] != -100).sum()
    ref_grad = torch.autograd.grad(ref.loss, model.lm_head.weight)[0]
    logits = model(input_ids=ids).logits
    labels = F.pad(ids, (0, 1), value=-100)[:, 1:]
    ours = cross_entropy_sum(logits.flatten(0, 1), labels.flatten()) / n
    ours_grad = torch.autograd.grad(ours, model.lm_head.weight)[0]
    assert ours.item() == pytest.approx(ref.loss.item(), rel=1e-6)
    torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-5, atol=1e-7)
