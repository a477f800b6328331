"""``meditron plan``: will this config fit this cluster, and how long will it take? Answered before renting it.

A layout is ``(tp, pp, activation checkpointing, gradient reduce-scatter per step or per micro-batch)`` on ``nodes × gpus_per_node`` GPUs; ``dp = world / (tp × pp)``.
It is refused, in one line, when it cannot run (a degree that does not divide the heads, the KV heads, the MLP width,
the layers or the GPUs; a global batch that does not split; per-GPU memory over the budget), with the nearest layout
that fits: tensor-parallel degrees that divide the heads and the GPUs of a node, pipeline degrees that divide the
layers, with and without activation checkpointing, reducing gradients per step or per micro-batch (``pp`` 1 only),
nearest first (distance in powers of two of each degree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from meditron.errors import ConfigError
from meditron.train.config import TrainConfig
from meditron.train.plan.arch import Architecture
from meditron.train.plan.estimate import communication_bytes, throughput
from meditron.train.plan.memory import Workload, pipeline_stages, stage_memory
from meditron.train.plan.shards import ShardReport, measure_shards

GB = 1e9
#: A100 dense bf16 peak (NVIDIA datasheet); the paper's GPUs.
DEFAULT_GPU_TFLOPS = 312.0
#: Decoder layers built to probe a candidate layout of the search.
PROBE_LAYERS = 2
#: The paper's model FLOPs utilisation for MEDITRON-70B (arXiv 2311.16079, §4.2).
DEFAULT_MFU = 0.42


@dataclass(frozen=True)
class Cluster:
    nodes: int
    gpus_per_node: int
    gpu_memory_gb: float | None = None
    gpu_tflops: float = DEFAULT_GPU_TFLOPS
    mfu: float = DEFAULT_MFU
    overhead_gb: float = 3.0

    @property
    def world(self) -> int:
        return self.nodes * self.gpus_per_node


@dataclass(frozen=True)
class Layout:
    tp: int
    pp: int
    activation_checkpointing: bool
    reduce_per_micro_batch: bool = False  # parallel.reduce_grads: per_micro_batch (True) or per_step

    @property
    def reduce_grads(self) -> str:
        return "per_micro_batch" if self.reduce_per_micro_batch else "per_step"

    def describe(self) -> str:
        ckpt = "on" if self.activation_checkpointing else "off"
        return f"tp={self.tp}, pp={self.pp}, activation checkpointing {ckpt}, gradients reduced {self.reduce_grads}"

    def flags(self, stage: str) -> str:
        section = "train" if stage == "pretrain" else "finetune"
        return (f"--set {section}.parallel.tp={self.tp} --set {section}.parallel.pp={self.pp} --set "
                f"{section}.parallel.activation_checkpointing={str(self.activation_checkpointing).lower()} --set "
                f"{section}.parallel.reduce_grads={self.reduce_grads}")


def layout_problem(arch: Architecture, section: TrainConfig, layout: Layout, cluster: Cluster,
                   prefix: str = "train") -> str | None:
    """Why ``layout`` cannot run at all (before memory), or None. ``prefix``: the config section, for messages."""
    tp, pp, world, key = layout.tp, layout.pp, cluster.world, f"{prefix}.parallel.tp"
    for name, value in (("num_attention_heads", arch.heads), ("num_key_value_heads", arch.kv_heads),
                        ("intermediate_size", arch.ffn)):
        if value % tp:
            return f"{key}={tp} does not divide the model's {name}={value}"
    if pp > 1 and layout.reduce_per_micro_batch:
        return f"{prefix}.parallel.reduce_grads=per_micro_batch is not available with pp={pp}"
    if arch.layers % pp:
        return f"{prefix}.parallel.pp={pp} does not divide the model's num_hidden_layers={arch.layers}"
    if world % (tp * pp):
        return f"tp × pp = {tp * pp} does not divide the {world} GPUs ({cluster.nodes} nodes × {cluster.gpus_per_node})"
    dp = world // (tp * pp)
    if section.parallel.dp_shard not in (-1, dp):
        return f"{prefix}.parallel.dp_shard={section.parallel.dp_shard} but GPUs / (tp × pp) = {dp}"
    if section.global_batch_size % (section.micro_batch_size * dp):
        return (f"{prefix}.global_batch_size {section.global_batch_size} is not a multiple of micro_batch_size "
                f"{section.micro_batch_size} × data-parallel ranks {dp}")
    return None


class _ShardCache:
    """``measure_shards`` per (tp, dp, checkpointing, depth). The configured layout is built whole; candidate layouts
    of the search are probed with :data:`PROBE_LAYERS` decoder layers (the layers are alike; seconds saved each)."""

    def __init__(self, arch: Architecture, section: TrainConfig):
        self.arch, self.section, self.seen = arch, section, {}

    def get(self, layout: Layout, dp: int, probe: bool = False) -> ShardReport:
        depth = min(PROBE_LAYERS, self.arch.layers) if probe else None
        key = (layout.tp, dp, layout.activation_checkpointing, depth)
        if key not in self.seen:
            pcfg = self.section.parallel.model_copy(update={"activation_checkpointing": layout.activation_checkpointing})
            self.seen[key] = measure_shards(self.arch.config, layout.tp * dp, layout.tp, pcfg, num_layers=depth)
        return self.seen[key]


def evaluate(arch: Architecture, section: TrainConfig, layout: Layout, cluster: Cluster, cache: _ShardCache,
             steps: int | None, probe: bool = False) -> dict[str, Any]:
    """Memory per stage, communication, FLOPs and time of a layout that passes :func:`layout_problem`."""
    from meditron.train.metrics import flops_per_token

    dp = cluster.world // (layout.tp * layout.pp)
    shards = cache.get(layout, dp, probe)
    micro = section.global_batch_size // (section.micro_batch_size * dp)
    work = Workload(micro_batch=section.micro_batch_size, seq_len=section.seq_len, micro_batches=micro,
                    pp=layout.pp, fused_head=section.parallel.fused_lm_head_loss and _fusable(arch),
                    reduce_per_micro_batch=layout.reduce_per_micro_batch)
    overhead = int(cluster.overhead_gb * GB)
    stages = pipeline_stages(arch.layers, layout.pp)
    memory = [stage_memory(arch, shards, s, work, overhead) for s in stages]
    comm = [communication_bytes(arch, shards, s, work, layout.pp) for s in stages]
    worst = max(range(len(stages)), key=lambda k: memory[k]["bytes"]["total"])
    total_params = shards.global_params + (arch.layers - shards.num_layers) * shards.layer.full
    flops_params = shards.flops_params + (arch.layers - shards.num_layers) * shards.layer.full
    fpt = flops_per_token(flops_params, arch.layers, arch.hidden, section.seq_len)
    perf = throughput(fpt, section.global_batch_size * section.seq_len, cluster.world,
                      cluster.gpu_tflops * 1e12, cluster.mfu, steps)
    budget = cluster.gpu_memory_gb * GB if cluster.gpu_memory_gb else None
    return {
        "layout": {"tp": layout.tp, "pp": layout.pp, "dp": dp,
                   "activation_checkpointing": shards.activation_checkpointing, "reduce_grads": layout.reduce_grads,
                   "world": cluster.world},
        "workload": {"micro_batch": work.micro_batch, "seq_len": work.seq_len, "accumulation": micro,
                     "global_batch": section.global_batch_size, "fused_lm_head_loss": work.fused_head},
        "dtypes": {"parameters": shards.param_bytes, "compute": shards.compute_bytes, "reduce": shards.reduce_bytes},
        "parameters": {"total": total_params, "flops_counted": flops_params},
        "stages": memory,
        "worst_stage": worst,
        "peak_bytes": memory[worst]["bytes"]["total"],
        "fits": budget is None or memory[worst]["bytes"]["total"] <= budget,
        "communication": comm[worst],
        "flops_per_token": fpt,
        "pipeline_bubble": (layout.pp - 1) / (micro + layout.pp - 1),
        "throughput": perf,
    }


def _fusable(arch: Architecture) -> bool:
    from meditron.train.lm_head import PLAIN_HEAD_FAMILIES

    return arch.config.model_type in PLAIN_HEAD_FAMILIES and not getattr(arch.config, "mlp_bias", False)


def candidate_layouts(arch: Architecture, section: TrainConfig, cluster: Cluster, wanted: Layout) -> list[Layout]:
    """Layouts that can run, nearest to ``wanted`` first: TP among divisors of heads ∩ GPUs per node, PP among
    divisors of the layers, checkpointing as asked before the other way."""
    tps = [t for t in _divisors(cluster.gpus_per_node) if arch.heads % t == 0]
    pps = _divisors(arch.layers)
    found = []
    for tp in tps:
        for pp in pps:
            for ckpt in (wanted.activation_checkpointing, not wanted.activation_checkpointing):
                for per_micro in (wanted.reduce_per_micro_batch, not wanted.reduce_per_micro_batch):
                    layout = Layout(tp, pp, ckpt, per_micro)
                    if layout != wanted and layout_problem(arch, section, layout, cluster) is None:
                        found.append(layout)

    def distance(layout: Layout) -> tuple[float, int, int]:
        d = abs(math.log2(layout.tp / wanted.tp)) + abs(math.log2(layout.pp / wanted.pp))
        d += 0.5 if layout.activation_checkpointing != wanted.activation_checkpointing else 0
        d += 0.5 if layout.reduce_per_micro_batch != wanted.reduce_per_micro_batch else 0
        return (d, -layout.tp, layout.pp)

    return sorted(found, key=distance)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def nearest_fitting(arch, section, cluster, wanted, cache, steps, limit: int = 12) -> tuple[Layout, dict] | None:
    """The first of :func:`candidate_layouts` whose memory fits the budget (at most ``limit`` evaluated)."""
    for layout in candidate_layouts(arch, section, cluster, wanted)[:limit]:
        result = evaluate(arch, section, layout, cluster, cache, steps, probe=True)
        if result["fits"]:
            return layout, result
    return None


def refuse(reason: str, found: tuple[Layout, dict] | None, stage: str) -> ConfigError:
    """The one-line error: why, and the nearest layout that fits (or that none was found)."""
    if found is None:
        return ConfigError(f"plan: {reason}; no layout of tp, pp, activation checkpointing and reduce_grads fits: add GPUs or "
                           "lower micro_batch_size / seq_len")
    layout, result = found
    return ConfigError(f"plan: {reason}; nearest layout that fits: {layout.describe()} "
                       f"({result['peak_bytes'] / GB:.1f} GB per GPU; {layout.flags(stage)})")
