"""What one rank holds after the trainer's real ``parallelize()``, learnt without GPUs and without memory.

The model is built as the trainer's non-zero ranks build it (:func:`meditron.train.model.empty_model`: parameters on
the meta device), on a fake process group of the target size (torch's ``fake`` backend with ``FakeStore``: every
collective returns at once without data, the way torchtitan's memory estimator simulates a cluster from one process),
with the trainer's ``(dp, tp)`` device mesh. ``parallelize()`` then applies tensor parallelism, activation
checkpointing and FSDP2 exactly as in training; the DTensors it leaves behind give rank 0's local shard of every
parameter (FSDP2 chunks dim 0 like ``torch.chunk``: rank 0's chunk is the largest, i.e. the padded per-rank size).

A ``mixed_precision: bf16`` run on GPU gets FSDP2's ``MixedPrecisionPolicy``; the plan targets GPUs, so the fake rank
claims a CUDA device for that decision only (the mesh stays on CPU) and reads the policy back from the FSDP state.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from meditron.train.config import ParallelConfig

_BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}


@dataclass(frozen=True)
class ModuleShard:
    """Elements of a module's parameters on rank 0: the local FSDP shard, the all-gathered (TP-local) size, and the
    global size (no sharding at all)."""

    local: int
    unsharded: int
    tensors: int
    full: int


@dataclass(frozen=True)
class ShardReport:
    """Rank 0's shards after ``parallelize()`` for one ``(dp, tp)`` mesh, per kind of module."""

    dp: int
    tp: int
    layer: ModuleShard  # one decoder layer (all layers are checked to be alike)
    embedding: ModuleShard
    final_norm: ModuleShard
    head: ModuleShard  # zero when tied to the embedding (FSDP sees one parameter)
    param_bytes: int  # bytes per element of the sharded (master) parameters
    compute_bytes: int  # bytes per element of the all-gathered parameters (FSDP param_dtype)
    reduce_bytes: int  # bytes per element of the gradient reduce-scatter (FSDP reduce_dtype)
    activation_checkpointing: bool
    num_layers: int  # decoder layers of the model that was built
    flops_params: int  # the trainer's N of 6·N (all parameters but the input embedding, unless tied)

    @property
    def global_params(self) -> int:
        """Every parameter once (no sharding)."""
        return self.num_layers * self.layer.full + self.embedding.full + self.final_norm.full + self.head.full


@contextlib.contextmanager
def fake_process_group(world_size: int) -> Iterator[None]:
    """A process group of ``world_size`` simulated ranks in this process (this process is rank 0)."""
    from torch.testing._internal.distributed.fake_pg import FakeStore

    if dist.is_initialized():
        raise RuntimeError("meditron plan needs a process without a process group (it simulates one)")
    dist.init_process_group(backend="fake", store=FakeStore(), rank=0, world_size=world_size)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _module_shard(params: list[nn.Parameter]) -> ModuleShard:
    local = unsharded = 0
    for p in params:  # global DTensor shapes: p.numel() is the whole parameter
        tensor = p.to_local() if hasattr(p, "to_local") else p
        local += tensor.numel()
        mesh = getattr(p, "device_mesh", None)
        names = getattr(mesh, "mesh_dim_names", None) or ()
        tp = mesh.size(names.index("tp")) if "tp" in names else 1
        unsharded += p.numel() // tp
    return ModuleShard(local=local, unsharded=unsharded, tensors=len(params), full=sum(p.numel() for p in params))


def _shard_of(module: nn.Module | None, skip: set[int] | None = None) -> ModuleShard:
    if module is None:
        return ModuleShard(0, 0, 0, 0)
    params = [p for p in module.parameters() if id(p) not in (skip or set())]
    return _module_shard(params)


def measure_shards(hf_config, world: int, tp: int, pcfg: ParallelConfig, num_layers: int | None = None) -> ShardReport:
    """Build ``hf_config`` on the meta device and apply the real ``parallelize()`` on a fake ``(world/tp, tp)`` mesh.

    ``world == 1`` is the trainer's single process: no process group, the plain model (nothing sharded).
    ``num_layers``: build that many decoder layers instead of the config's (a quick probe of a layout: the layers
    are alike, so one layer's shards hold for all).
    """
    from meditron.train.model import empty_model
    from meditron.train.parallelize import DistEnv, decoder_layers, parallelize

    pcfg = pcfg.model_copy(update={"tp": tp, "compile": False})
    with contextlib.ExitStack() as stack:
        env = DistEnv(mixed_precision=pcfg.mixed_precision)
        if world > 1:
            stack.enter_context(fake_process_group(world))
            from torch.distributed.device_mesh import init_device_mesh

            mesh = init_device_mesh("cpu", (world // tp, tp), mesh_dim_names=("dp", "tp"))
            env = DistEnv(world_size=world, device=torch.device("cuda", 0), mesh=mesh, dp_size=world // tp, tp=tp,
                          mixed_precision=pcfg.mixed_precision)
        if num_layers is not None:
            hf_config = copy.deepcopy(hf_config)
            hf_config.num_hidden_layers = num_layers
        with torch.device("meta"):
            model = empty_model(hf_config)
        layers = decoder_layers(model)  # before parallelize(): FSDP2 renames the classes (FSDPLlamaDecoderLayer)
        parallelize(model, env, pcfg)
        return _report(model, layers, env, pcfg)


def _num_params(model: nn.Module) -> int:
    """The trainer's own count for its FLOPs (one definition: ``Trainer.flops_per_token`` uses it too)."""
    from meditron.train.trainer import _num_params as trainer_count

    return trainer_count(model)


def _report(model: nn.Module, layers: list[nn.Module], env, pcfg: ParallelConfig) -> ShardReport:
    shards = {_shard_of(layer) for layer in layers}
    if len(shards) != 1:
        raise ValueError(f"decoder layers are not alike after parallelize(): {sorted(shards, key=str)}")
    embedding = model.get_input_embeddings()
    head = model.get_output_embeddings()
    tied = head is not None and head.weight is embedding.weight
    inner = getattr(model, "model", None)
    norm = getattr(inner, "norm", None)
    param_dtype = next(model.parameters()).dtype
    compute, reduce = param_dtype, param_dtype
    state = model._get_fsdp_state() if hasattr(model, "_get_fsdp_state") else None
    if state is not None:
        policy = state._mp_policy
        compute = policy.param_dtype or param_dtype
        reduce = policy.reduce_dtype or compute
    elif pcfg.mixed_precision == "bf16":
        compute = torch.bfloat16  # one process: bf16 autocast (the trainer's DistEnv.autocast)
    return ShardReport(
        dp=env.dp_size,
        tp=env.tp,
        layer=shards.pop(),
        embedding=_shard_of(embedding),
        final_norm=_shard_of(norm),
        head=ModuleShard(0, 0, 0, 0) if tied else _shard_of(head),
        param_bytes=_BYTES[param_dtype],
        compute_bytes=_BYTES[compute],
        reduce_bytes=_BYTES[reduce],
        activation_checkpointing=bool(getattr(layers[0], "gradient_checkpointing", False)),
        num_layers=len(layers),
        flops_params=_num_params(model),
    )
