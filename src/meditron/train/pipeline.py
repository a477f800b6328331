"""Pipeline parallelism (``train.parallel.pp``): the decoder split into stages run by ``torch.distributed.pipelining``.

How, after torchtitan: every rank builds the empty HF skeleton, keeps the decoder layers of its stage(s) and deletes the
others, sets the input embedding (not the first stage) and the final norm and LM head (not the last stage) to ``None``,
and runs a stage forward that passes hidden states on. The kept modules stay where they were — the layers in a
``ModuleDict`` keyed by their index in the whole model — so every parameter keeps its fully qualified name
(``model.layers.7.mlp.up_proj.weight``). Each stage is then parallelised as a whole model is (TP, activation
checkpointing, FSDP2 in ``parallelize.py``) and filled from rank 0's weights. This rank's stages are presented to the
optimizer and the checkpointer as one module with the whole model's names (:class:`StagedModel`), so a DCP checkpoint
written at one PP degree is read at any other (or without PP), and ``meditron export`` consolidates it unchanged.

Schedules: ``1f1b`` (one stage per rank) and ``interleaved_1f1b`` (``pp_virtual_stages`` stages per rank,
rank ``r`` holding stages ``r, r + pp, ...``). A step's micro-batches (``global_batch_size / (micro_batch_size × dp)``)
are the schedule's micro-batches, and the loss is the trainer's: the sum of token losses of each micro-batch × the
same global scale, so gradients equal the unpipelined run's. The fused LM-head loss works here too: the last stage
returns the final hidden states and the loss function takes the head's weight.

Not supported (refused at start-up, one line each): models outside :data:`PIPELINE_FAMILIES` (the stage forward mirrors
their decoder forward), tied input/output embeddings (the two ends of the pipeline would share one matrix), layers not
divisible by ``pp × pp_virtual_stages``, fewer micro-batches than 1F1B needs. Micro-batches are right-padded to
``seq_len`` (padding carries no loss): the stages exchange fixed-shape activations.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from meditron.errors import ConfigError
from meditron.special_tokens import IGNORE_INDEX
from meditron.train.config import ParallelConfig
from meditron.train.loss import cross_entropy_sum, linear_cross_entropy_sum
from meditron.train.parallelize import DistEnv, materialize, parallelize

#: ``model_type``s whose decoder forward :func:`_stage_forward` reproduces (checked in transformers 5.x sources).
PIPELINE_FAMILIES = frozenset({"llama", "mistral", "qwen2", "qwen3"})


def stage_layer_ranges(num_layers: int, pp: int, virtual: int = 1) -> list[range]:
    """The decoder layers of each of the ``pp × virtual`` stages, in pipeline order (equal shares).

    Stage ``s`` runs on pipeline rank ``s % pp``; the first stage also holds the input embedding, the last the final
    norm and the LM head. Also the planner's source of truth for what a pipeline rank holds.
    """
    stages = pp * virtual
    if num_layers % stages:
        raise ConfigError(
            f"the model's {num_layers} layers do not split into train.parallel.pp={pp} × pp_virtual_stages={virtual} "
            f"= {stages} equal stages: choose pp × pp_virtual_stages dividing {num_layers}"
        )
    per = num_layers // stages
    return [range(s * per, (s + 1) * per) for s in range(stages)]


def rank_stage_indices(pp_rank: int, pp: int, virtual: int = 1) -> list[int]:
    """Stages of pipeline rank ``pp_rank`` (looped placement: ``r, r + pp, r + 2 pp, ...``)."""
    return [pp_rank + v * pp for v in range(virtual)]


def check_pipeline(config: Any, pcfg: ParallelConfig, n_microbatches: int) -> None:
    """Refuse, in one line, a model or layout the pipeline cannot run."""
    family = getattr(config, "model_type", None)
    if family not in PIPELINE_FAMILIES:
        raise ConfigError(f"train.parallel.pp={pcfg.pp}: pipeline parallelism supports the {sorted(PIPELINE_FAMILIES)} "
                          f"families, not {family!r}; set pp: 1 (FSDP/TP work for any model)")
    if getattr(config, "tie_word_embeddings", False):
        raise ConfigError(f"train.parallel.pp={pcfg.pp}: the model ties its LM head to its input embedding, which the "
                          "first and last pipeline stages cannot share; set pp: 1")
    stage_layer_ranges(int(config.num_hidden_layers), pcfg.pp, pcfg.pp_virtual_stages)
    if n_microbatches < pcfg.pp:
        raise ConfigError(
            f"train.parallel.pp_schedule={pcfg.pp_schedule} needs at least pp={pcfg.pp} micro-batches per step, got "
            f"{n_microbatches} (= global_batch_size / (micro_batch_size × dp)): raise global_batch_size or lower "
            "micro_batch_size"
        )
    rounds = max(1, n_microbatches // pcfg.pp)
    if pcfg.pp_schedule == "interleaved_1f1b" and n_microbatches % rounds:
        raise ConfigError(f"train.parallel.pp_schedule=interleaved_1f1b needs the {n_microbatches} micro-batches per "
                          f"step to be a multiple of {rounds} (micro-batches // pp): use a multiple of pp={pcfg.pp}")


# ---------------------------------------------------------------------------------------------------- stage modules
def split_stage(model: nn.Module, layers: range, *, first: bool, last: bool, hidden_out: bool = False) -> nn.Module:
    """Prune ``model`` (an HF causal LM, usually an empty skeleton) in place to one stage; names are kept.

    ``hidden_out``: the last stage returns the final hidden states instead of logits (fused LM-head loss).
    """
    inner = model.model
    inner.layers = nn.ModuleDict({str(i): inner.layers[i] for i in layers})
    if not first:
        inner.embed_tokens = None
    if not last:
        inner.norm = None
        model.lm_head = None
    model.meditron_hidden_out = hidden_out and last
    model.forward = types.MethodType(_stage_forward, model)  # an instance attribute: FSDP's hooks still run
    return model


def _stage_forward(
    self: nn.Module,
    x: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Token ids (first stage) or hidden states in → hidden states (or logits, last stage) out.

    The decoder part mirrors ``LlamaModel.forward`` (and Mistral's/Qwen's: a sliding-window mask where the config asks
    for one), with the layer type read at the layer's index in the whole model.
    """
    from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

    inner, config = self.model, self.config
    hidden = inner.embed_tokens(x) if inner.embed_tokens is not None else x
    if position_ids is None:
        position_ids = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
    mask_args = {"config": config, "inputs_embeds": hidden, "attention_mask": attention_mask, "cache": None,
                 "position_ids": position_ids}
    builders = {"full_attention": create_causal_mask, "sliding_attention": create_sliding_window_causal_mask}
    masks: dict[str, Any] = {}
    position_embeddings = inner.rotary_emb(hidden, position_ids=position_ids)
    for index, layer in inner.layers.items():
        kind = _layer_type(config, int(index))
        if kind not in masks:
            masks[kind] = builders[kind](**mask_args)
        hidden = layer(hidden, attention_mask=masks[kind], position_embeddings=position_embeddings,
                       position_ids=position_ids, use_cache=False)
    if inner.norm is not None:
        hidden = inner.norm(hidden)
    if self.lm_head is not None and not self.meditron_hidden_out:
        return self.lm_head(hidden)
    return hidden


def _layer_type(config: Any, index: int) -> str:
    kinds = getattr(config, "layer_types", None)
    if kinds:
        return kinds[index]
    if config.model_type == "mistral" and getattr(config, "sliding_window", None) is not None:
        return "sliding_attention"
    return "full_attention"


class StagedModel(nn.Module):
    """This rank's stages as one module whose parameters carry the whole model's names (for optimizer and DCP).

    It holds the stages' own submodules (embedding, layers, norm, head), so state dicts read and write the live
    (sharded) parameters; ``forward`` is the pipeline schedule's business, not this module's.
    """

    def __init__(self, parts: list[nn.Module], config: Any):
        super().__init__()
        self.config = config
        self.parts = parts  # a plain list: not registered, so no "parts.0." prefix
        for part in parts:
            _graft(self, part, containers={"model", "model.layers"})

    def train(self, mode: bool = True) -> StagedModel:
        for part in self.parts:
            part.train(mode)
        return super().train(mode)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a pipelined model runs through its schedule (meditron.train.pipeline.Pipeline)")


def _graft(dst: nn.Module, src: nn.Module, containers: set[str], prefix: str = "") -> None:
    """Link ``src``'s submodules into ``dst`` at the same paths; ``containers`` paths become fresh shared parents."""
    for name, child in src.named_children():
        if child is None:
            continue
        path = f"{prefix}{name}"
        if path in containers:
            if name not in dst._modules:
                dst.add_module(name, nn.ModuleDict() if isinstance(child, nn.ModuleDict) else nn.Module())
            _graft(dst._modules[name], child, containers, prefix=f"{path}.")
        elif name not in dst._modules:
            dst.add_module(name, child)
        elif any(True for _ in child.parameters()):
            raise RuntimeError(f"two pipeline stages hold {path}")  # a split bug, never a user error


# ---------------------------------------------------------------------------------------------------- the runner
class _StageLoss:
    """The schedule's loss: each micro-batch's token-loss sum × the step's global scale.

    The schedule also calls it while inferring tensor metadata (on placeholder data), so the unscaled sums are looked
    up afterwards from the losses the schedule reports for the step's real micro-batches.
    """

    def __init__(self, head: Callable[[], nn.Module | None]):
        self.head = head
        self.scale = 1.0
        self._raw: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        head = self.head()
        if head is not None:  # the last stage returned hidden states
            total = linear_cross_entropy_sum(output.flatten(0, 1), head.weight, labels.flatten())
        else:
            total = cross_entropy_sum(output.flatten(0, 1).float(), labels.flatten())
        scaled = total * self.scale
        self._raw[id(scaled)] = (scaled, total.detach().double())  # the tensor kept: its id stays unique
        return scaled

    def take(self, losses: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """Sum of the unscaled losses of ``losses`` (empty on stages other than the last: 0)."""
        total = torch.zeros((), dtype=torch.float64, device=device)
        for loss in losses:
            total += self._raw[id(loss)][1].to(device)
        self._raw.clear()
        return total


class Pipeline:
    """This rank's stages, their schedule and the view the optimizer and checkpoints use (``model``)."""

    def __init__(self, parts: list[nn.Module], stage_ids: list[int], num_stages: int, schedule: Any,
                 loss: _StageLoss, env: DistEnv, seq_len: int, model_inputs: Callable[..., dict[str, torch.Tensor]]):
        self.parts, self.stage_ids, self.num_stages = parts, stage_ids, num_stages
        self.schedule, self.loss, self.env, self.seq_len = schedule, loss, env, seq_len
        self.model_inputs = model_inputs
        self.model = StagedModel(parts, parts[0].config)

    def forward_backward(self, micro_batches: list[dict[str, torch.Tensor]], scale: float) -> torch.Tensor:
        """Run the schedule over the step's micro-batches; returns their token-loss sum (float64, on every stage)."""
        args, kwargs, target = self._whole_batch(micro_batches)
        self.loss.scale = scale
        losses: list[torch.Tensor] = []
        self.schedule.step(*args, target=target, losses=losses, return_outputs=False, **kwargs)
        return self.env.all_reduce_pp(self.loss.take(losses, self.env.device).reshape(1)).reshape(())

    @torch.no_grad()
    def loss_sum(self, micro_batches: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """Forward only (validation): the token-loss sum of the micro-batches, on every stage."""
        args, kwargs, target = self._whole_batch(micro_batches)
        self.loss.scale = 1.0
        losses: list[torch.Tensor] = []
        self.schedule.eval(*args, target=target, losses=losses, **kwargs)
        return self.env.all_reduce_pp(self.loss.take(losses, self.env.device).reshape(1)).reshape(())

    def num_params(self) -> int:
        """Parameters of the whole model in the 6·N FLOP term (the input embedding excluded), summed over stages."""
        emb = self.parts[0].model.embed_tokens if self.stage_ids[0] == 0 else None
        skip = {id(p) for p in emb.parameters()} if emb is not None else set()
        local = sum(p.numel() for p in self.model.parameters() if id(p) not in skip)
        return int(self.env.all_reduce_pp(torch.tensor([local], dtype=torch.float64)).item())

    def _whole_batch(self, micro_batches: list[dict[str, torch.Tensor]]) -> tuple[tuple, dict, torch.Tensor]:
        """Micro-batches padded to ``seq_len`` and stacked: the schedule splits them back, in the same order."""
        inputs: dict[str, list[torch.Tensor]] = {}
        targets = []
        for mb in micro_batches:
            mb = _pad_to(mb, self.seq_len)
            for key, value in self.model_inputs(mb).items():
                inputs.setdefault(key, []).append(value)
            targets.append(F.pad(mb["labels"], (0, 1), value=IGNORE_INDEX)[:, 1:].to(self.env.device))
        whole = {k: torch.cat(v) for k, v in inputs.items()}
        return (whole.pop("input_ids"),), whole, torch.cat(targets)


def _pad_to(mb: dict[str, torch.Tensor], length: int) -> dict[str, torch.Tensor]:
    """Right-pad a collated micro-batch to ``length`` with the loader's padding values (no loss, never attended)."""
    from meditron.data.loader import PAD_VALUES

    current = mb["input_ids"].shape[-1]
    if current > length:
        raise ConfigError(f"a micro-batch of {current} tokens exceeds train.seq_len={length}, the pipeline's fixed "
                          "activation length")
    if current == length:
        return mb
    return {k: F.pad(v, (0, length - current), value=PAD_VALUES.get(k, 0)) for k, v in mb.items()}


def build_pipeline(
    full: nn.Module | None,
    env: DistEnv,
    pcfg: ParallelConfig,
    *,
    n_microbatches: int,
    seq_len: int,
    fused_head: bool,
    model_inputs: Callable[..., dict[str, torch.Tensor]],
) -> Pipeline:
    """Split, parallelise and fill this rank's stages (rank 0 passes the full model) and build the schedule."""
    from torch.distributed.pipelining import PipelineStage

    from meditron.train.lm_head import fusable_lm_head
    from meditron.train.model import empty_model

    config = env.broadcast_object(full.config if full is not None else None)
    check_pipeline(config, pcfg, n_microbatches)
    ranges = stage_layer_ranges(int(config.num_hidden_layers), pcfg.pp, pcfg.pp_virtual_stages)
    full_sd = full.state_dict() if full is not None else None
    hidden_out = fused_head and full is not None and fusable_lm_head(full) is not None
    hidden_out = bool(env.broadcast_object(hidden_out))
    known = env.broadcast_object(sorted(full_sd) if full_sd is not None else None)
    stage_ids = rank_stage_indices(env.pp_rank, pcfg.pp, pcfg.pp_virtual_stages)
    parts, stages = [], []
    group = env.mesh["pp"].get_group()
    for s in stage_ids:
        part = split_stage(empty_model(config), ranges[s], first=s == 0, last=s == len(ranges) - 1,
                           hidden_out=hidden_out)
        missing = sorted(set(part.state_dict()) - set(known))
        if missing:
            raise ConfigError(f"pipeline stage {s} has parameters the model's weights lack: {missing[:3]}")
        parallelize(part, env, pcfg)
        materialize(part, dict(full_sd) if full_sd is not None else None, env, strict=False)  # DCP updates it
        parts.append(part)
        stages.append(PipelineStage(part, s, len(ranges), env.device, group=group))
    last = parts[-1] if stage_ids[-1] == len(ranges) - 1 else None
    loss = _StageLoss(lambda: last.lm_head if (last is not None and hidden_out) else None)
    schedule = _schedule(pcfg.pp_schedule, stages, n_microbatches, loss)
    return Pipeline(parts, stage_ids, len(ranges), schedule, loss, env, seq_len, model_inputs)


def _schedule(name: str, stages: list[Any], n_microbatches: int, loss: _StageLoss) -> Any:
    """The torch schedule; ``scale_grads=False``: the loss already carries the global normalisation."""
    from torch.distributed.pipelining import Schedule1F1B, ScheduleInterleaved1F1B

    if name == "interleaved_1f1b":
        return ScheduleInterleaved1F1B(stages, n_microbatches=n_microbatches, loss_fn=loss, scale_grads=False)
    return Schedule1F1B(stages[0], n_microbatches=n_microbatches, loss_fn=loss, scale_grads=False)
