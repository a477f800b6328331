"""The in-place blocked cross-entropy and the fused LM-head loss equal ``F.cross_entropy``: loss, gradients, ignored
labels, any block or chunk size, no-grad, bf16, tied weights; the head switch gives the hidden states."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from meditron.train import loss as loss_module
from meditron.train.lm_head import fusable_lm_head, hidden_states_from
from meditron.train.loss import cross_entropy_sum, linear_cross_entropy_sum


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


def _tiny_llama(**overrides):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    fields = dict(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    fields.update(overrides)
    return LlamaForCausalLM(LlamaConfig(**fields))


def test_a_model_step_matches_hf_loss():
    """Through a tiny Llama: the same loss and LM-head gradient as transformers' own loss."""
    model = _tiny_llama()
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


def _linear_reference(hidden, weight, labels, scale):
    h = hidden.detach().clone().requires_grad_(True)
    w = weight.detach().clone().requires_grad_(True)
    value = F.cross_entropy(F.linear(h, w), labels, ignore_index=-100, reduction="sum")
    (value * scale).backward()
    return value.item(), h.grad, w.grad


# chunks of one row, of 6 rows (ragged end: 203 = 33 × 6 + 5), of every row; CE blocks of 1 row inside chunks of 6
@pytest.mark.parametrize(("chunk_rows", "block_bytes"), [(1, 4 * 97), (6, 4 * 97), (1 << 20, 1 << 30)])
def test_fused_head_loss_and_gradients_equal_linear_then_cross_entropy(monkeypatch, chunk_rows, block_bytes):
    monkeypatch.setattr(loss_module, "_CPU_CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(loss_module, "_CPU_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(loss_module, "_MIN_BLOCK_ROWS", 1)
    torch.manual_seed(0)
    hidden, weight = torch.randn(203, 24), torch.randn(97, 24) * 0.5
    labels = torch.randint(0, 97, (203,))
    labels[::9] = -100
    labels[40:60] = -100  # a run of ignored rows (a prompt) inside a chunk
    expected_loss, expected_h, expected_w = _linear_reference(hidden, weight, labels, 0.25)

    h = hidden.clone().requires_grad_(True)
    w = weight.clone().requires_grad_(True)
    value = linear_cross_entropy_sum(h * 1.0, w, labels)
    (value * 0.25).backward()
    assert value.item() == pytest.approx(expected_loss, rel=1e-6)
    torch.testing.assert_close(h.grad, expected_h, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(w.grad, expected_w, rtol=1e-5, atol=1e-6)
    assert torch.count_nonzero(h.grad[labels == -100]) == 0  # ignored rows get no gradient at all


def test_fused_head_without_grad_and_with_every_label_ignored():
    torch.manual_seed(1)
    hidden, weight = torch.randn(50, 16), torch.randn(40, 16)
    labels = torch.randint(0, 40, (50,))
    labels[3] = -100
    with torch.no_grad():
        value = linear_cross_entropy_sum(hidden, weight, labels)
    expected = F.cross_entropy(hidden @ weight.t(), labels, ignore_index=-100, reduction="sum")
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)

    h = hidden.clone().requires_grad_(True)
    w = weight.clone().requires_grad_(True)
    value = linear_cross_entropy_sum(h, w, torch.full((50,), -100))
    value.backward()
    assert value.item() == 0.0
    assert torch.count_nonzero(h.grad) == 0 and torch.count_nonzero(w.grad) == 0


def test_fused_head_in_bf16_follows_autocast_semantics():
    """bf16 activations, fp32 weight: bf16 matmuls, fp32 softmax, fp32 weight gradient (as autocast's F.linear)."""
    torch.manual_seed(2)
    hidden = torch.randn(64, 32).to(torch.bfloat16)
    weight = torch.randn(50, 32) * 0.3
    labels = torch.randint(0, 50, (64,))
    h = hidden.clone().requires_grad_(True)
    w = weight.clone().requires_grad_(True)
    value = linear_cross_entropy_sum(h, w, labels)
    value.backward()
    ref_h = hidden.clone().requires_grad_(True)
    ref_w = weight.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = F.linear(ref_h, ref_w)
    expected = F.cross_entropy(logits.float(), labels, reduction="sum")
    expected.backward()
    assert value.dtype == torch.float32 and h.grad.dtype == torch.bfloat16 and w.grad.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-3)
    torch.testing.assert_close(h.grad.float(), ref_h.grad.float(), rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(w.grad, ref_w.grad, rtol=2e-2, atol=2e-2)


def test_fused_head_under_autocast_runs_the_matmuls_in_bf16_like_f_linear():
    torch.manual_seed(3)
    hidden, weight = torch.randn(64, 32), torch.randn(50, 32) * 0.3
    labels = torch.randint(0, 50, (64,))
    results = []
    for fused in (True, False):
        h = hidden.clone().requires_grad_(True)
        w = weight.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            if fused:
                value = linear_cross_entropy_sum(h, w, labels)
            else:
                value = F.cross_entropy(F.linear(h, w).float(), labels, reduction="sum")
        value.backward()
        results.append((value.item(), h.grad, w.grad))
    (fused_loss, fused_h, fused_w), (ref_loss, ref_h, ref_w) = results
    assert fused_h.dtype == torch.float32 and fused_w.dtype == torch.float32
    assert fused_loss == pytest.approx(ref_loss, rel=1e-3)  # both from bf16 logits; fp32 logits would differ more
    torch.testing.assert_close(fused_h, ref_h, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(fused_w, ref_w, rtol=2e-2, atol=2e-2)
    exact = F.cross_entropy(hidden @ weight.t(), labels, reduction="sum").item()
    assert fused_loss != pytest.approx(exact, rel=1e-6)  # the matmul really ran in bf16


@pytest.mark.parametrize("tied", [False, True])
def test_fused_head_through_a_model_matches_hf_loss_and_every_gradient(tied):
    """Model called whole with the head switched off, then the fused loss: HF's loss and all parameter gradients."""
    model = _tiny_llama(tie_word_embeddings=tied)
    ids = torch.randint(0, 300, (2, 24))
    labels = ids.clone()
    labels[0, :10] = -100  # an answer-only example
    ref = model(input_ids=ids, labels=labels)
    ref.loss.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    head = fusable_lm_head(model)
    assert head is model.lm_head
    with hidden_states_from(head):
        hidden = model(input_ids=ids).logits
    assert hidden.shape == (2, 24, 32)
    shifted = F.pad(labels, (0, 1), value=-100)[:, 1:]
    ours = linear_cross_entropy_sum(hidden.flatten(0, 1), head.weight, shifted.flatten()) / (shifted != -100).sum()
    ours.backward()
    assert ours.item() == pytest.approx(ref.loss.item(), rel=1e-6)
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], rtol=1e-5, atol=1e-6, msg=name)
    assert model(input_ids=ids).logits.shape == (2, 24, 300)  # the head is itself again after the block


def test_only_plain_heads_are_fused():
    from transformers import Gemma2Config, Gemma2ForCausalLM

    assert fusable_lm_head(_tiny_llama()) is not None
    gemma = Gemma2ForCausalLM(
        Gemma2Config(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
        )
    )
    assert fusable_lm_head(gemma) is None  # final logit soft-capping happens after its head
    model = _tiny_llama()
    model.lm_head = torch.nn.Linear(32, 300, bias=True)
    assert fusable_lm_head(model) is None
