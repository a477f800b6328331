"""Per-rank memory of a training step: sharded states from the real ``parallelize()``, activations from a formula.

States (the ranks' FSDP2 shards, :mod:`meditron.train.plan.shards`): master parameters and gradients in the
parameters' dtype, AdamW's two moments in the same dtype plus its ``step`` scalar per tensor (4 B; torch's AdamW).
Transients of FSDP2: the root module (embeddings, final norm, LM head) stays all-gathered from forward to backward,
two decoder layers are all-gathered at a time (the one computing and the one prefetched), and one layer's unsharded
gradient exists in the compute dtype and, for the reduce-scatter, in the reduce dtype. With gradient accumulation
the trainer turns the reduce-scatter off on all but the last micro-batch (``set_requires_gradient_sync``), and FSDP2
then keeps every parameter's *unsharded* gradient in the reduce dtype until the step (``unsharded_accumulated_grad``);
with ``parallel.reduce_grads: per_micro_batch`` it reduce-scatters every micro-batch and keeps none. Under pipeline
parallelism torch's schedule also keeps every layer of the stage gathered after each micro-batch's backward
(``set_reshard_after_backward(False)``), so the stage's layers count as gathered, not two.

Activations per decoder layer and micro-batch (bytes; ``b`` micro-batch, ``s`` sequence, ``h`` hidden, ``h_kv`` the
K/V width, ``f`` MLP width, ``a`` heads, ``t`` tensor-parallel degree, ``e`` bytes of the compute dtype), after the
itemisation of Korthikanti et al. 2022 (arXiv 2205.05198, §4.1) redone for a Llama block with flash/SDPA attention
(no ``a·s²`` score matrix is stored: the kernel keeps its output and the log-sum-exp), SwiGLU and RMSNorm, no dropout:

* each RMSNorm (2 per layer): its input cast to fp32, the normalised value and the output (the next matmul's input)
  in ``e``, and the fp32 rsqrt per token: ``b·s·(h·(4 + 2e) + 4)``;
* attention: Q, K, V after RoPE and the attention output, split over TP: ``e·b·s·(2h + 2h_kv)/t + 4·b·a·s/t``;
* SwiGLU MLP: gate (SiLU input), SiLU output, up, and their product: ``4·e·b·s·f/t``.

With activation checkpointing only each layer's input is kept (``e·b·s·h``) and one layer is recomputed at a time.
Under 1F1B pipelining the first stage holds ``pp`` micro-batches in flight (Narayanan et al. 2021, §2.2). The loss
adds the fused LM-head chunk (``meditron.train.loss``) or, unfused, the fp32 logits; see docs/SCALING.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from meditron.train.plan.arch import Architecture
from meditron.train.plan.shards import ShardReport


@dataclass(frozen=True)
class StageSplit:
    """One pipeline stage: how many decoder layers, and whether it holds the embeddings / final norm + LM head."""

    index: int
    layers: int
    embedding: bool
    head: bool


def pipeline_stages(num_layers: int, pp: int) -> list[StageSplit]:
    """What each pipeline rank holds, from the trainer's own split (:func:`meditron.train.pipeline.stage_layer_ranges`):
    equal shares of the decoder layers, the embedding on the first stage, the final norm and LM head on the last."""
    from meditron.train.pipeline import stage_layer_ranges

    ranges = stage_layer_ranges(num_layers, pp)
    return [StageSplit(index=k, layers=len(r), embedding=k == 0, head=k == pp - 1) for k, r in enumerate(ranges)]


@dataclass(frozen=True)
class Workload:
    """What one rank computes per step."""

    micro_batch: int
    seq_len: int
    micro_batches: int  # per step and rank (gradient accumulation)
    pp: int
    fused_head: bool
    device_type: str = "cuda"
    reduce_per_micro_batch: bool = False  # parallel.reduce_grads: no unsharded gradients kept between micro-batches


def _norm_bytes(tokens: int, h: int, e: int) -> int:
    return tokens * (h * (4 + 2 * e) + 4)


def layer_activation_bytes(arch: Architecture, micro: int, seq: int, tp: int, e: int) -> int:
    """Bytes autograd keeps for one decoder layer and micro-batch (no checkpointing); formula in the module doc."""
    tokens = micro * seq
    h, h_kv, f = arch.hidden, arch.kv_hidden, arch.ffn
    attention = e * tokens * (2 * h + 2 * h_kv) // tp + 4 * micro * (arch.heads // tp) * seq
    return 2 * _norm_bytes(tokens, h, e) + attention + 4 * e * tokens * f // tp


def loss_bytes(arch: Architecture, work: Workload, e: int) -> int:
    """The LM head's loss: the fused chunked path (head-weight gradient + one chunk of logits) or the fp32 logits."""
    from meditron.train.loss import _chunk_rows

    tokens, h, vocab = work.micro_batch * work.seq_len, arch.hidden, arch.vocab
    fp32_copy = 4 if e != 4 else 0
    if work.fused_head:
        rows = min(tokens, _chunk_rows(tokens, vocab, h, torch.device(work.device_type)))
        return tokens * h * e + vocab * h * (4 + (e if e != 4 else 0)) + rows * vocab * (e + fp32_copy)
    return tokens * h * e + tokens * vocab * (4 + (e if e != 4 else 0))


def activation_bytes(arch: Architecture, stage: StageSplit, work: Workload, tp: int, e: int, ckpt: bool) -> dict:
    """Peak activation bytes of one stage's rank: stored × micro-batches in flight, + recompute, + the loss."""
    tokens = work.micro_batch * work.seq_len
    layer = layer_activation_bytes(arch, work.micro_batch, work.seq_len, tp, e)
    stored = stage.layers * (tokens * arch.hidden * e if ckpt else layer)
    if stage.embedding:
        stored += tokens * 8  # the int64 token ids the embedding's backward reads
    if stage.head:
        stored += _norm_bytes(tokens, arch.hidden, e)
    in_flight = min(work.pp - stage.index, work.micro_batches) if work.pp > 1 else 1
    return {
        "per_layer": layer,
        "stored": stored * in_flight,
        "micro_batches_in_flight": in_flight,
        "recompute": layer if ckpt else 0,
        "loss": loss_bytes(arch, work, e) if stage.head else 0,
    }


def stage_memory(arch: Architecture, shards: ShardReport, stage: StageSplit, work: Workload,
                 overhead_bytes: int) -> dict:
    """Per-rank bytes of one pipeline stage, by kind; ``total`` is their sum (the planned peak)."""
    local = stage.layers * shards.layer.local
    unsharded = stage.layers * shards.layer.unsharded
    tensors = stage.layers * shards.layer.tensors
    root_unsharded = 0
    for part, present in ((shards.embedding, stage.embedding), (shards.final_norm, stage.head),
                          (shards.head, stage.head)):
        if present:
            local, unsharded, tensors = local + part.local, unsharded + part.unsharded, tensors + part.tensors
            root_unsharded += part.unsharded
    sharded = shards.dp > 1 or shards.tp > 1
    pb, cb, rb = shards.param_bytes, shards.compute_bytes, shards.reduce_bytes
    layer_full = shards.layer.unsharded
    # torch's pipeline schedule backs every micro-batch but the step's last with set_reshard_after_backward(False)
    # (pipelining/stage.py, backward_maybe_with_nosync): after a backward every layer of the stage stays gathered
    gathered_layers = stage.layers if work.pp > 1 and work.micro_batches > 1 else min(2, stage.layers)
    gathered = (root_unsharded + gathered_layers * layer_full) * cb + layer_full * (cb + (rb if rb != cb else 0))
    act = activation_bytes(arch, stage, work, shards.tp, cb, shards.activation_checkpointing)
    memory = {
        "parameters": local * pb,
        "gradients": local * pb,
        "optimizer": 2 * local * pb + 4 * tensors,
        "gathered_parameters": gathered if sharded else (local * cb if cb != pb else 0),
        "accumulated_gradients": unsharded * rb if sharded and work.micro_batches > 1
        and not work.reduce_per_micro_batch else 0,
        "activations": act["stored"] + act["recompute"],
        "loss": act["loss"],
        "overhead": overhead_bytes,
    }
    memory["total"] = sum(memory.values())
    return {"stage": asdict(stage), "local_params": local, "param_tensors": tensors, "bytes": memory,
            "activation_detail": act}
