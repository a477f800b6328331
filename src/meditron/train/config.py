"""Typed configs of the ``train`` (continued pretraining) and ``finetune`` stages and of the model they start from."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from meditron._base import ConfigPath, ConfigPathText, StrictModel
from meditron.data.sft.config import SFTDataSection


class ModelConfig(StrictModel):
    """Where the base model comes from: a local HF directory (or hub id when online), or a fresh model from a preset."""

    path: ConfigPathText | None = Field(default=None, description="Local HF directory or hub id of a causal LM")
    preset: str | None = Field(default=None, description="Fresh random model from a named preset, e.g. 'tiny-llama'")
    overrides: dict[str, Any] = Field(default_factory=dict, description="HF config fields overriding the preset")
    tokenizer: ConfigPathText | None = Field(default=None, description="Tokenizer path; default: the corpus shards' tokenizer")
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.path and self.preset:
            raise ValueError("set either model.path or model.preset, not both")
        return self


class ParallelConfig(StrictModel):
    dp_shard: int = Field(default=-1, description="FSDP2 shard degree; -1 = all ranks not used by TP")
    tp: int = Field(default=1, ge=1, description="Tensor-parallel degree (DTensor)")
    pp: int = Field(default=1, ge=1, description="Pipeline-parallel degree (torch.distributed.pipelining)")
    pp_schedule: Literal["1f1b", "interleaved_1f1b"] = Field(
        default="1f1b", description="Pipeline schedule; interleaved_1f1b runs pp_virtual_stages stages per rank"
    )
    pp_virtual_stages: int = Field(
        default=1, ge=1, description="Pipeline stages per rank: 1 for 1f1b, 2 or more for interleaved_1f1b"
    )
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    reduce_grads: Literal["per_step", "per_micro_batch"] = Field(
        default="per_step",
        description="When FSDP2 reduce-scatters gradients under accumulation: per_step keeps every parameter's "
        "unsharded gradient between micro-batches (one reduce-scatter per step; memory = the whole model's gradients "
        "in the reduce dtype); per_micro_batch reduce-scatters each micro-batch (no unsharded gradients kept; one "
        "reduce-scatter per micro-batch). `meditron plan` shows both",
    )
    mixed_precision: Literal["fp32", "bf16"] = "fp32"
    activation_checkpointing: bool = False
    compile: bool = False
    fused_lm_head_loss: bool = Field(
        default=True,
        description="Loss from the LM head's input and weight, chunk by chunk: no [tokens, vocab] logits (Llama, "
        "Mistral, Qwen families; others always use the logits)",
    )
    cpu_keep_freed_memory: bool = Field(
        default=True, description="CPU: large blocks from the heap, never trimmed (glibc mallopt): no page faults per step"
    )

    @model_validator(mode="after")
    def _pipeline_stages(self) -> ParallelConfig:
        interleaved = self.pp_schedule == "interleaved_1f1b"
        if interleaved and self.pp_virtual_stages < 2:
            raise ValueError("train.parallel.pp_schedule=interleaved_1f1b needs pp_virtual_stages >= 2 (stages per "
                             "rank); use pp_schedule 1f1b for one stage per rank")
        if not interleaved and self.pp_virtual_stages != 1:
            raise ValueError(f"train.parallel.pp_virtual_stages={self.pp_virtual_stages} needs pp_schedule "
                             f"interleaved_1f1b ({self.pp_schedule} runs one stage per rank)")
        if self.pp > 1 and self.reduce_grads != "per_step":
            raise ValueError(f"train.parallel.reduce_grads={self.reduce_grads} is not available with pp={self.pp}: the "
                             "pipeline schedule turns gradient sync off until a stage's last micro-batch itself")
        return self


class CheckpointConfig(StrictModel):
    every_steps: int = Field(default=100, ge=1)
    keep_last: int = Field(default=2, ge=1)
    dir: ConfigPath | None = Field(default=None, description="Default: <run>/checkpoints/<stage>")
    trust_unverified: bool = Field(default=False, description="Resume from a checkpoint without a valid manifest.json "
                                   "(damaged files load as wrong weights); set by --trust-checkpoint")


def horizon_problem(steps: int | None, schedule_steps: int | None, section: str) -> str | None:
    """Why ``schedule_steps`` cannot be the horizon of a run of ``steps`` steps (None when it can).

    A horizon shorter than the run is refused: the learning rate would sit at ``min_lr`` for the remaining steps,
    which a shorter ``steps`` does at less cost, so it is almost always a typo rather than a plan.
    """
    if schedule_steps is None or steps is None or schedule_steps >= steps:
        return None
    return (
        f"{section}.schedule_steps={schedule_steps} is below the {steps} steps trained: the learning rate would stay "
        f"at min_lr for the last {steps - schedule_steps} steps; set {section}.schedule_steps >= {steps} (MEDITRON: "
        "2x the steps) or leave it unset to end the schedule with the run"
    )


class DownstreamEvalConfig(StrictModel):
    """``train.downstream_eval``: benchmark accuracy of the live model while pretraining runs (paper Table 6).

    Every ``every_steps`` steps (and at the last step) the model being trained is scored in the paper's top-token mode
    by the evaluation stage's own code (``meditron.eval.downstream``): the same loaders, prompts, few-shot pools, seeded
    ``limit`` sample and scoring as ``meditron eval``, so a logged number equals what ``meditron eval`` gives for that
    step's checkpoint with the same settings (``eval.modes=[top_token]``, the same benchmarks, num_fewshot, seeds,
    limit, sample_seed, batch_size). Accuracies go to ``train.jsonl`` under ``downstream`` and to TensorBoard.
    """

    enabled: bool = False
    data_dir: ConfigPath | None = Field(default=None, description="Folder with the official benchmark files (recursive)")
    benchmarks: list[str] = Field(default=["medqa4", "medmcqa", "pubmedqa", "mmlu_medical"], min_length=1)
    mode: Literal["top_token"] = Field(
        default="top_token", description="Fixed: the paper's top-token mode (full-vocabulary argmax, Table 6)"
    )
    num_fewshot: int = Field(default=3, ge=0, description="Shots per question (MEDITRON: 3 for 7B, 5 for 70B)")
    seeds: list[int] = Field(default=[1234, 432, 32], min_length=1, description="Few-shot draws; accuracy = their mean")
    limit: int | None = Field(
        default=200, ge=1, description="A seeded sample of N items per benchmark, stratified as eval's --limit; "
        "null = every item"
    )
    sample_seed: int = Field(default=1234, description="Seed of the item sample (eval.sample_seed's counterpart)")
    every_steps: int = Field(default=500, ge=1, description="Evaluate every N optimiser steps (and at the last one)")
    batch_size: int = Field(default=8, ge=1, description="Rows per forward pass (eval.batch_size's counterpart)")

    @field_validator("benchmarks")
    @classmethod
    def _known_benchmarks(cls, value: list[str]) -> list[str]:
        from meditron.benchmarks.items import BENCHMARKS  # stdlib-only module: loading a config stays light

        unknown = [b for b in value if b not in BENCHMARKS]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; valid: {', '.join(BENCHMARKS)}")
        return value

    @model_validator(mode="after")
    def _needs_data(self) -> DownstreamEvalConfig:
        if self.enabled and self.data_dir is None:
            raise ValueError("downstream_eval.enabled needs downstream_eval.data_dir: the official benchmark files")
        return self


class TrainConfig(StrictModel):
    """The ``train`` section: continued pretraining. Optimiser fields are flat so ``--set train.lr=...`` works."""

    #: The config key messages name (``finetune`` in the subclass).
    SECTION: ClassVar[str] = "train"

    shards_dir: ConfigPath | None = Field(default=None, description="Token shards of the corpus stage; default <run>/shards")
    source_weights: dict[str, float] = Field(default_factory=dict, description="Blend weights; default: natural sizes")
    steps: int = Field(default=100, ge=1)
    seq_len: int = Field(default=2048, ge=8)
    global_batch_size: int = Field(default=8, ge=1, description="Sequences per optimiser step (all ranks, all micro-steps)")
    micro_batch_size: int = Field(default=1, ge=1, description="Sequences per rank per forward pass")
    lr: float = Field(default=3e-4, gt=0)
    min_lr: float = Field(default=3e-5, ge=0)
    warmup_steps: int = Field(default=2000, ge=0)
    warmup_ratio: float | None = Field(default=None, ge=0, le=1, description="If set, overrides warmup_steps")
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    schedule_steps: int | None = Field(
        default=None, ge=1, description="Steps the LR schedule spans (default: steps); training still stops at steps. "
        "MEDITRON: 2x steps, so the last LR stays high (paper Table 11)"
    )
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-5
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    max_nonfinite_in_a_row: int = Field(default=5, ge=1)
    log_every: int = 1
    eval_every: int = Field(default=50, ge=1)
    eval_batches: int = Field(default=4, ge=1)
    prefetch: int = Field(default=2, ge=0)
    parallel: ParallelConfig = ParallelConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    tensorboard: bool = True
    wandb: bool = False
    mlflow: bool = False
    mixture: str | None = Field(
        default=None,
        description="Train on this corpus.mixtures entry (<shards>/mixtures/<name>.json): only its sources, in its "
        "proportions; set by `meditron pretrain --mixture NAME`. Not with source_weights",
    )
    downstream_eval: DownstreamEvalConfig = DownstreamEvalConfig()

    @model_validator(mode="after")
    def _mixture_or_source_weights(self) -> TrainConfig:
        if self.mixture is not None and self.source_weights:
            raise ValueError(
                f"mixture {self.mixture!r} and source_weights {self.source_weights} both set the blend of sources: "
                "keep one (--set train.mixture=null to blend by source_weights; a mixture is a named corpus.mixtures entry)"
            )
        return self

    @model_validator(mode="after")
    def _horizon_covers_the_run(self) -> TrainConfig:
        problem = horizon_problem(self.steps, self.schedule_steps, self.SECTION)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _downstream_eval_needs_the_whole_model(self) -> TrainConfig:
        """The evaluator runs the live model's forward on every rank; a pipeline stage holds only some layers."""
        if self.downstream_eval.enabled and self.parallel.pp > 1:
            raise ValueError(
                f"{self.SECTION}.downstream_eval runs the whole model on each rank and cannot run under pipeline "
                f"parallelism ({self.SECTION}.parallel.pp={self.parallel.pp}): set pp=1 for this run, or score its "
                "checkpoints afterwards with `meditron eval --checkpoints RUN_DIR`"
            )
        return self


class FinetuneConfig(TrainConfig, SFTDataSection):
    """The ``finetune`` section: the pretraining engine with chat data, answer-only loss and the paper's SFT recipe.

    The number of steps follows from ``epochs`` × examples (packed rows when ``packing``) / ``global_batch_size``;
    ``steps`` only caps it. The data fields (datasets, packing, the contamination guard) are
    :class:`meditron.data.sft.config.SFTDataSection`'s.
    """

    SECTION: ClassVar[str] = "finetune"

    init_from: ConfigPathText | None = Field(
        default=None,
        description="HF directory to start from; default: pretraining's, hf/ in train.checkpoint.dir "
        "(<run>/checkpoints/pretrain/hf)",
    )
    epochs: float = Field(default=3, gt=0)
    steps: int | None = Field(default=None, ge=1, description="Cap on the steps; default: derived from epochs")
    lr: float = 2e-5
    min_lr: float = 2e-6
    warmup_steps: int = 0
    warmup_ratio: float | None = 0.1
    global_batch_size: int = 64
    seq_len: int = 2048

    @model_validator(mode="after")
    def _no_shard_blend(self) -> FinetuneConfig:
        """Finetuning reads chat datasets, not the corpus shards: a blend set here would be silently ignored."""
        for key, value in (("mixture", self.mixture), ("source_weights", self.source_weights),
                           ("shards_dir", self.shards_dir)):
            if value:
                raise ValueError(f"finetune.{key}={value!r} has no effect: finetuning reads finetune.datasets, not the "
                                 f"corpus shards; set train.{key} for pretraining and remove finetune.{key}")
        return self

    @model_validator(mode="after")
    def _no_downstream_eval(self) -> FinetuneConfig:
        if self.downstream_eval.enabled:
            raise ValueError(
                "finetune.downstream_eval is not available (in-training benchmark scores are a pretraining tool); "
                "evaluate the finetuned model with `meditron eval`"
            )
        return self
