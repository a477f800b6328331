"""Packing: best-fit bins, and no attention leakage — a packed row gives each example its own logits (fp32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import LlamaForCausalLM

from meditron.data.sft import IGNORE_INDEX, block_causal_mask, collate, pack_best_fit
from meditron.data.sft.chat_template import TokenizedExample
from meditron.data.sft.packing import concat_examples
from tests.fixtures.synthetic_qa import tiny_llama_config


def _examples(lengths, vocab=97, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k, n in enumerate(lengths):
        ids = rng.integers(3, vocab, n)
        labels = np.where(np.arange(n) >= n // 2, ids, IGNORE_INDEX)
        out.append(TokenizedExample(f"e{k}", ids.astype(np.int64), labels.astype(np.int64)))
    return out


def test_best_fit_decreasing_bins():
    assert pack_best_fit([5, 3, 8, 2, 4], 10) == [[2, 3], [0, 4], [1]]
    lengths = list(np.random.default_rng(1).integers(1, 60, 200))
    bins = pack_best_fit(lengths, 64)
    assert sorted(i for b in bins for i in b) == list(range(200))
    assert all(sum(lengths[i] for i in b) <= 64 for b in bins)
    assert len(bins) <= int(np.ceil(sum(lengths) / 64 * 1.25))
    with pytest.raises(ValueError, match="more than the sequence length"):
        pack_best_fit([65], 64)


def test_concat_layout():
    row = concat_examples(_examples([3, 2]), pad_id=0, length=7)
    assert row["position_ids"].tolist() == [0, 1, 2, 0, 1, 0, 1]
    assert row["seq_ids"].tolist() == [0, 0, 0, 1, 1, -1, -1]
    assert row["labels"][-2:].tolist() == [IGNORE_INDEX, IGNORE_INDEX] and row["input_ids"][-2:].tolist() == [0, 0]


def test_block_causal_mask():
    mask = block_causal_mask(torch.tensor([[0, 0, 1, 1, -1]]))
    allowed = (mask[0, 0] == 0).int().tolist()
    assert allowed == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 0, 1],
    ]


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("path", ["mask4d", "position_ids"])
def test_packed_logits_equal_single_examples(attn, path):
    """transformers' Llama takes the 4-D additive mask as is (eager and SDPA) and, without a mask, derives the same
    block-diagonal mask from restarting position ids: both give each example exactly its unpacked logits."""
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(97, max_position_embeddings=128, attn_implementation=attn)).eval()
    assert model.config._attn_implementation == attn
    examples = _examples([11, 7, 19, 5, 9, 13])
    bins = pack_best_fit([len(e) for e in examples], 32)
    assert max(len(b) for b in bins) >= 2  # the test really packs
    batch = collate([concat_examples([examples[i] for i in b], pad_id=0, length=32) for b in bins], pad_id=0)
    # Without a mask, transformers derives the blocks from restarting position ids only when no KV cache is made:
    # with the default use_cache=True the model creates one and the position-ids path silently attends across examples.
    kwargs = {"position_ids": batch["position_ids"], "use_cache": False}
    if path == "mask4d":
        kwargs["attention_mask"] = batch["attention_mask"]
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], **kwargs).logits
        worst = 0.0
        for row, b in enumerate(bins):
            at = 0
            for i in b:
                n = len(examples[i])
                alone = model(input_ids=torch.from_numpy(examples[i].input_ids)[None]).logits[0]
                worst = max(worst, (packed[row, at : at + n] - alone).abs().max().item())
                at += n
    assert worst <= 1e-5, worst


def test_collate_pads_variable_lengths():
    rows = [concat_examples(_examples([4]), 0), concat_examples(_examples([6], seed=1), 0)]
    batch = collate(rows, pad_id=0)
    assert batch["input_ids"].shape == (2, 6) and batch["attention_mask"].shape == (2, 1, 6, 6)
    assert batch["labels"][0, 4:].tolist() == [IGNORE_INDEX, IGNORE_INDEX]
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 3, 0, 1]


def test_position_ids_alone_leak_when_the_model_makes_a_cache():
    """Why the SFT batches carry an explicit 4-D mask: in training mode with the default ``use_cache=True``,
    transformers builds a KV cache and then ignores restarting position ids, so examples would see each other."""
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(97, max_position_embeddings=128)).eval()
    a, b = _examples([6, 6])
    row = collate([concat_examples([a, b], pad_id=0)], pad_id=0)
    with torch.no_grad():
        leaky = model(input_ids=row["input_ids"], position_ids=row["position_ids"]).logits[0, 6:]
        alone = model(input_ids=torch.from_numpy(b.input_ids)[None]).logits[0]
        masked = model(
            input_ids=row["input_ids"], position_ids=row["position_ids"], attention_mask=row["attention_mask"]
        )
    assert (leaky - alone).abs().max().item() > 1e-3
    assert (masked.logits[0, 6:] - alone).abs().max().item() <= 1e-5
