"""Communication volume and time of a step, from the shards and the trainer's FLOP counter.

FLOPs per token are :func:`meditron.train.metrics.flops_per_token` of the parameters the trainer counts
(:func:`meditron.train.trainer._num_params`: all but the input embedding): ``6·N + 12·L·h·s`` (PaLM, appendix B),
model FLOPs only — recomputation by activation checkpointing is not counted, as in the paper's MFU. Time per step is
``FLOPs per token × tokens per step / (GPUs × peak × MFU)``.

Bytes sent per rank and step assume ring collectives (NCCL's default for large messages): an all-gather or a
reduce-scatter of ``N`` bytes over ``d`` ranks sends ``N·(d-1)/d`` per rank, an all-reduce ``2·N·(d-1)/d``.
"""

from __future__ import annotations

from meditron.train.plan.arch import Architecture
from meditron.train.plan.memory import StageSplit, Workload
from meditron.train.plan.shards import ShardReport


def communication_bytes(arch: Architecture, shards: ShardReport, stage: StageSplit, work: Workload, pp: int) -> dict:
    """Bytes one rank of ``stage`` sends per optimiser step, by collective."""
    dp, tp, cb, rb = shards.dp, shards.tp, shards.compute_bytes, shards.reduce_bytes
    root = (shards.embedding.unsharded if stage.embedding else 0) + (
        shards.final_norm.unsharded + shards.head.unsharded if stage.head else 0
    )
    layers = stage.layers * shards.layer.unsharded
    ring = (dp - 1) / dp
    # layers are gathered for forward and again for backward (reshard_after_forward); the root once per micro-batch
    all_gather = work.micro_batches * (2 * layers + root) * cb * ring
    # once per step (only the last micro-batch syncs gradients), or per micro-batch with reduce_grads: per_micro_batch
    reduce_scatter = (work.micro_batches if work.reduce_per_micro_batch else 1) * (layers + root) * rb * ring
    activation = work.micro_batch * work.seq_len * arch.hidden * cb
    # without sequence parallelism: 2 all-reduces forward (attention and MLP outputs), 2 backward, 2 more on recompute
    per_layer = 4 + (2 if shards.activation_checkpointing else 0)
    tp_all_reduce = work.micro_batches * stage.layers * per_layer * activation * 2 * (tp - 1) / tp
    sends = int(not stage.head) + int(not stage.embedding) if pp > 1 else 0  # activations forward, gradients back
    pp_p2p = work.micro_batches * sends * activation
    out = {"fsdp_all_gather": all_gather, "fsdp_reduce_scatter": reduce_scatter, "tp_all_reduce": tp_all_reduce,
           "pp_send": pp_p2p}
    out = {k: int(v) for k, v in out.items()}
    out["total"] = sum(out.values())
    return out


def throughput(flops_per_token: float, tokens_per_step: int, world: int, peak_flops: float, mfu: float,
               steps: int | None) -> dict:
    """Time per step, tokens per second (all GPUs and per GPU) and days for ``steps`` at ``mfu`` of ``peak_flops``."""
    step_s = flops_per_token * tokens_per_step / (world * peak_flops * mfu)
    out = {
        "tokens_per_step": tokens_per_step,
        "step_seconds": step_s,
        "tokens_per_second": tokens_per_step / step_s,
        "tokens_per_second_per_gpu": tokens_per_step / step_s / world,
        "steps": steps,
        "total_tokens": tokens_per_step * steps if steps else None,
        "days": steps * step_s / 86400 if steps else None,
        "gpu_hours": steps * step_s * world / 3600 if steps else None,
    }
    return out
