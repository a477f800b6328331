"""Parallelism, applied once and apart from the loop: process group, device mesh, TP plan, FSDP2, checkpointing, compile.

The same code runs from one CPU process (no process group: the plain model) to many GPUs under ``torchrun``:

* mesh ``(pp, dp, tp)``: tensor parallelism inside a group of ``tp`` ranks, FSDP2 sharding across the ``dp`` groups,
  pipeline stages across the ``pp`` groups (``pipeline.py`` splits the model; each stage is parallelised here);
* TP uses the model's own ``base_model_tp_plan`` (``colwise``/``rowwise`` per projection) with DTensor;
* FSDP2 ``fully_shard`` wraps each decoder layer, then the root (embeddings, final norm, LM head);
* on GPU with ``mixed_precision: bf16`` parameters are cast to bf16 for compute, gradients reduced in fp32;
* activation checkpointing (HF's non-reentrant implementation keeps parameter names unchanged) and per-layer
  ``torch.compile`` are options.

Weights: every rank builds an empty skeleton; after sharding, rank 0's full state dict is broadcast and each rank keeps
its shard (:func:`materialize`), so a checkpoint is read once per job.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from meditron.errors import ConfigError
from meditron.train.config import ParallelConfig


@dataclass
class DistEnv:
    """Who this process is: ranks, device, mesh. ``mesh`` is None in a single process without torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    mesh: Any = None
    dp_rank: int = 0
    dp_size: int = 1
    tp: int = 1
    pp: int = 1
    pp_rank: int = 0
    mixed_precision: str = "fp32"

    @property
    def distributed(self) -> bool:
        return self.mesh is not None

    @property
    def grad_scale(self) -> float:
        """FSDP averages gradients over the dp ranks; losses already normalised globally are scaled back by this.

        (A divide factor of 1 would avoid the scaling but needs ``PREMUL_SUM``, which gloo lacks.)
        """
        return float(self.dp_size) if self.distributed else 1.0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_reduce(self, value: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """Reduce over all ranks (a no-op in one process). TP ranks hold identical data, so sums use the dp group."""
        if not self.distributed:
            return value
        reduce_op = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op]
        moved = value.to(self.device)  # NCCL reduces device tensors only
        dist.all_reduce(moved, op=reduce_op)
        return moved.to(value.device)

    def all_reduce_dp(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over the data-parallel ranks only (each TP group counts its batch once)."""
        if not self.distributed or self.dp_size == 1:
            return value
        moved = value.to(self.device)
        dist.all_reduce(moved, op=dist.ReduceOp.SUM, group=self.mesh["dp"].get_group())
        return moved.to(value.device)

    def all_reduce_pp(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over the pipeline ranks only (a value only the last stage holds reaches every stage)."""
        if not self.distributed or self.pp == 1:
            return value
        moved = value.to(self.device)
        dist.all_reduce(moved, op=dist.ReduceOp.SUM, group=self.mesh["pp"].get_group())
        return moved.to(value.device)

    def broadcast_object(self, obj: Any) -> Any:
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast where no FSDP mixed-precision policy does the casting (single process)."""
        if self.mixed_precision == "bf16" and not self.distributed:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def init_distributed(pcfg: ParallelConfig) -> DistEnv:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` set) and build the ``(pp, dp, tp)`` mesh."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() and pcfg.backend != "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    mp = pcfg.mixed_precision
    if world == 1 and "RANK" not in os.environ:
        if pcfg.tp != 1 or pcfg.pp != 1:
            key, n = ("tp", pcfg.tp) if pcfg.tp != 1 else ("pp", pcfg.pp)
            raise ConfigError(f"train.parallel.{key}={n} needs that many processes: launch with torchrun")
        return DistEnv(device=device, mixed_precision=mp)
    backend = pcfg.backend if pcfg.backend != "auto" else ("nccl" if use_cuda else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    rank, world = dist.get_rank(), dist.get_world_size()
    tp, pp = pcfg.tp, pcfg.pp
    if world % (tp * pp):
        raise ConfigError(f"train.parallel.tp={tp} × pp={pp} = {tp * pp} does not divide the {world} processes")
    dp = world // (tp * pp)
    if pcfg.dp_shard not in (-1, dp):
        raise ConfigError(f"train.parallel.dp_shard={pcfg.dp_shard} but world {world} / (tp {tp} × pp {pp}) = {dp}")
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (pp, dp, tp), mesh_dim_names=("pp", "dp", "tp"))
    return DistEnv(
        rank=rank,
        world_size=world,
        local_rank=local_rank,
        device=device,
        mesh=mesh,
        dp_rank=mesh["dp"].get_local_rank(),
        dp_size=dp,
        tp=tp,
        pp=pp,
        pp_rank=mesh["pp"].get_local_rank(),
        mixed_precision=mp,
    )


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks: modules whose class is in the model's ``_no_split_modules`` (HF's own list)."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise ConfigError(f"cannot find the decoder layers of {type(model).__name__} (no _no_split_modules match)")
    return layers


def _tp_plan(model: nn.Module, tp: int) -> dict[str, Any]:
    """Per-layer DTensor plan from the model's ``base_model_tp_plan`` (keys ``layers.*.<path>``)."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    config = model.config
    plan = getattr(config, "base_model_tp_plan", None) or {}
    if not plan:
        raise ConfigError(f"{type(model).__name__} has no base_model_tp_plan: tensor parallelism is not available")
    for name in ("num_attention_heads", "num_key_value_heads", "intermediate_size"):
        value = getattr(config, name, None)
        if value is not None and value % tp:
            raise ConfigError(f"train.parallel.tp={tp} does not divide the model's {name}={value}")
    styles = {"colwise": ColwiseParallel, "rowwise": RowwiseParallel}
    layer_plan: dict[str, Any] = {}
    for key, style in plan.items():
        if not key.startswith("layers.*."):
            continue
        if style not in styles:
            raise ConfigError(f"tensor-parallel style {style!r} of {key} is not supported (colwise, rowwise)")
        layer_plan[key[len("layers.*.") :]] = styles[style]()
    return layer_plan


def parallelize(model: nn.Module, env: DistEnv, pcfg: ParallelConfig) -> nn.Module:
    """Apply TP → activation checkpointing → compile → FSDP2, in that order (torchtitan's order)."""
    layers = decoder_layers(model)
    if env.distributed and env.tp > 1:
        from torch.distributed.tensor.parallel import parallelize_module

        plan = _tp_plan(model, env.tp)
        for layer in layers:
            parallelize_module(layer, env.mesh["tp"], plan)
    if pcfg.activation_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers ≥ 5.x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if pcfg.compile:
        for layer in layers:
            layer.compile()
    if env.distributed:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        kwargs: dict[str, Any] = {"mesh": env.mesh["dp"]}
        if env.mixed_precision == "bf16" and env.device.type == "cuda":
            kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        for layer in layers:
            fully_shard(layer, **kwargs)
        fully_shard(model, **kwargs)
    return model


def materialize(
    model: nn.Module, full_state_dict: dict[str, torch.Tensor] | None, env: DistEnv, strict: bool = True
) -> None:
    """Allocate the (sharded) parameters on the device and fill them from rank 0's full state dict.

    ``strict=False`` lets a pipeline stage take only its own keys of the whole model's state dict (``pipeline.py``
    checks beforehand that every key of the stage is in it).
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    model.to_empty(device=env.device)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name in buffers:
                buf.copy_(buffers[name])
    if not env.distributed:
        assert full_state_dict is not None
        model.load_state_dict(full_state_dict, strict=False)
        model.tie_weights()
        return
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True, strict=strict)
    set_model_state_dict(model, full_state_dict if env.is_main else {}, options=options)


def set_gradient_sync(model: nn.Module, enabled: bool) -> None:
    """Turn FSDP's gradient reduce-scatter on or off for the next backward. Off (all but the last micro-batch of a
    step under ``parallel.reduce_grads: per_step``), FSDP2 accumulates every parameter's unsharded gradient until the
    next backward with it on."""
    if hasattr(model, "set_requires_gradient_sync"):
        model.set_requires_gradient_sync(enabled)


def shutdown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()
