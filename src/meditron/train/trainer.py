"""The training loop shared by pretraining and finetuning — read it top to bottom.

``Trainer(...).train(resume=...)`` does: build the model (rank 0 reads the weights) → parallelize → optimizer and
schedule → restore the latest checkpoint → for each step: this rank's micro-batches → forward → loss → backward →
clip → skip if non-finite → optimizer step → log → validation / checkpoint. Parallelism lives in ``parallelize.py``,
checkpoints in ``checkpoint.py``, metric sinks in ``metrics.py``; the loop has no branches on them.

Loss normalisation: each micro-batch contributes ``sum of token losses / label tokens of the whole global batch``, so
the loss and its gradient are the same for any world size and any number of micro-batches (the contract in
docs/ARCHITECTURE.md). Labels are aligned with ``input_ids`` (HF convention): position t predicts ``labels[t+1]``.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from meditron.data.loader import PrefetchLoader, SampleSource, accumulation_steps, collate, rank_indices
from meditron.errors import MeditronError
from meditron.special_tokens import IGNORE_INDEX
from meditron.train.checkpoint import CheckpointManager, TrainerState, find_latest_checkpoint
from meditron.train.config import TrainConfig
from meditron.train.cpu_memory import keep_freed_memory
from meditron.train.lm_head import fusable_lm_head, hidden_states_from
from meditron.train.loss import cross_entropy_sum, linear_cross_entropy_sum
from meditron.train.metrics import MetricsLogger, device_peak_flops, flops_per_token, truncate_jsonl
from meditron.train.parallelize import DistEnv, init_distributed, materialize, parallelize, set_gradient_sync
from meditron.train.schedule import (
    build_scheduler,
    restore_schedule,
    schedule_fields,
    schedule_horizon,
    warmup_steps_for,
)

log = logging.getLogger(__name__)


class TrainingDiverged(MeditronError):
    """Too many non-finite steps in a row: the run stops instead of training on NaNs (Megatron-LLM #33)."""


class Trainer:
    """Train a causal LM on an indexable sample source with FSDP2/TP, exact resume and sharded checkpoints.

    Args:
        model_factory: returns the complete fp32 model on CPU with its vocabulary matched to the tokenizer
            (e.g. ``lambda: load_full_model(cfg.model, tok, seed)``); called on rank 0 only.
        tokenizer: saved with every checkpoint and the HF export (with its added tokens and chat template).
        train_data: ``source[i] -> {"input_ids", "labels", optional "position_ids", "seq_ids"}`` (numpy int64).
        cfg: a ``TrainConfig`` (``FinetuneConfig`` works: it is one) — steps, batch, optimiser, parallel, checkpoint.
        seed: the run's seed (``RunConfig.seed``); the RNG of step ``s`` (dropout...) is seeded from it and ``s``.
        checkpoint_dir: where ``step_XXXXXXX/`` checkpoints go.
        log_path: the JSONL metrics file (``<run>/logs/train.jsonl``); TensorBoard goes to ``log_path.parent/tb_<stem>``.
        val_data: optional validation source, evaluated every ``cfg.eval_every`` steps and at the end.
        run_config: the resolved run config (JSON-safe dict), stored in each checkpoint.
        env: a ``DistEnv``; default: joined from the ``torchrun`` environment (or a single process).
        downstream_eval: ``evaluator(model, step) -> {name: accuracy}`` (``train.downstream_eval``), called on every
            rank every ``cfg.downstream_eval.every_steps`` steps and at the end; logged under ``downstream``.
    """

    def __init__(
        self,
        *,
        model_factory: Callable[[], PreTrainedModel],
        tokenizer: PreTrainedTokenizerBase,
        train_data: SampleSource,
        cfg: TrainConfig,
        seed: int,
        checkpoint_dir: Path,
        log_path: Path,
        val_data: SampleSource | None = None,
        val_size: int | None = None,
        run_config: dict[str, Any] | None = None,
        env: DistEnv | None = None,
        run_name: str = "meditron",
        downstream_eval: Callable[[torch.nn.Module, int], dict[str, float]] | None = None,
    ):
        self.cfg = cfg
        self.seed = seed
        self.tokenizer = tokenizer
        self.model_factory = model_factory
        self.train_data = train_data
        self.val_data = val_data
        self.val_size = val_size if val_size is not None else (len(val_data) if val_data is not None else 0)
        self.run_config = run_config
        self.env = env or init_distributed(cfg.parallel)
        self.checkpoints = CheckpointManager(checkpoint_dir, self.env, keep_last=cfg.checkpoint.keep_last,
                                             trust_unverified=cfg.checkpoint.trust_unverified)
        self.log_path = Path(log_path)
        self.run_name = run_name
        self.downstream_eval = downstream_eval
        self.accumulation = accumulation_steps(cfg.global_batch_size, cfg.micro_batch_size, self.env.dp_size)
        self.state = TrainerState()
        self.model: torch.nn.Module | None = None
        self._stop_signal: int | None = None

    # ---------------------------------------------------------------- setup
    def setup(self, resume: bool = False) -> None:
        """Model → parallelize → optimizer/schedule → (resume). Separate from ``train`` so tests can add hooks."""
        env, cfg = self.env, self.cfg
        if env.device.type == "cpu" and cfg.parallel.cpu_keep_freed_memory:
            keep_freed_memory()
        full = self.model_factory() if (env.is_main or not env.distributed) else None
        self.pipeline = None
        if env.pp > 1:  # pipeline stages (train/pipeline.py); the rest of the set-up sees their StagedModel
            from meditron.train.pipeline import build_pipeline

            self.pipeline = build_pipeline(
                full, env, cfg.parallel, n_microbatches=self.accumulation, seq_len=cfg.seq_len,
                fused_head=cfg.parallel.fused_lm_head_loss, model_inputs=self._model_inputs,
            )  # fmt: skip
            model = self.pipeline.model
            del full
        elif env.distributed:
            from meditron.train.model import empty_model

            config = env.broadcast_object(full.config if full is not None else None)
            model = empty_model(config)
            parallelize(model, env, cfg.parallel)
            materialize(model, full.state_dict() if full is not None else None, env)
            del full
        else:
            model = full.to(env.device)
            parallelize(model, env, cfg.parallel)
        self.model = model
        self.hf_config = model.config
        # The loss takes the LM head's input and weight (no [tokens, vocab] logits); other families keep the logits.
        self.fused_head = fusable_lm_head(model) if cfg.parallel.fused_lm_head_loss and not self.pipeline else None
        # Weight decay on matrices only (projections, embeddings); not on norm weights and biases (Megatron, HF).
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            [
                {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
            ],
            lr=cfg.lr,
            betas=tuple(cfg.betas),
            eps=cfg.eps,
            # one fused kernel per step (CPU and CUDA); DTensor parameters of tensor parallelism keep foreach.
            **({"foreach": True} if env.tp > 1 else {"fused": True}),
        )
        horizon = schedule_horizon(cfg.steps, cfg.schedule_steps, cfg.SECTION)  # the LR curve may outlast the run
        self.warmup_steps = warmup_steps_for(horizon, cfg.warmup_steps, cfg.warmup_ratio)
        self.scheduler = build_scheduler(
            self.optimizer,
            lr=cfg.lr,
            min_lr=cfg.min_lr,
            warmup_steps=self.warmup_steps,
            total_steps=horizon,
            kind=cfg.schedule,
        )
        self.flops_per_token = flops_per_token(
            self.pipeline.num_params() if self.pipeline else _num_params(model),
            int(getattr(model.config, "num_hidden_layers", 0)),
            int(getattr(model.config, "hidden_size", 0)),
            cfg.seq_len,
        )
        self.peak_flops = device_peak_flops(env.device)
        self.resumed_from: Path | None = None
        existing = find_latest_checkpoint(self.checkpoints.dir)
        if existing is not None and not resume:
            self._report(
                f"{self.checkpoints.dir} has checkpoints (latest {existing.name}); starting from step 0 and replacing "
                "them as the run goes. Pass --resume to continue instead.",
                logging.WARNING,
            )
        configured_schedule = schedule_fields(self.scheduler)
        if resume:  # the newest checkpoint that verifies against its manifest; skipped ones are reported
            loaded = self.checkpoints.load_latest(model, self.optimizer, self.scheduler, report=self._warn)
            if loaded is None:
                self._report(f"--resume: no complete checkpoint in {self.checkpoints.dir}; starting from step 0")
            else:
                self.state, self.resumed_from = loaded
                self._report(f"resumed from {self.resumed_from} (step {self.state.step})")
                note = restore_schedule(self.scheduler, configured_schedule, steps=cfg.steps,
                                        explicit=cfg.schedule_steps is not None, section=cfg.SECTION)  # fmt: skip
                if note:
                    self._report(note, logging.WARNING)
        if env.is_main:
            if self.state.step == 0 and not resume:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self.log_path.write_text("", encoding="utf-8")
            else:
                truncate_jsonl(self.log_path, self.state.step)

    # ---------------------------------------------------------------- the loop
    def train(self, resume: bool = False) -> dict[str, Any]:
        """Run until ``cfg.steps`` (or a stop signal); returns a summary (losses, tokens, last checkpoint)."""
        if self.model is None:
            self.setup(resume)
        cfg, env, state = self.cfg, self.env, self.state
        metrics = MetricsLogger(
            self.log_path,
            active=env.is_main,
            tensorboard_dir=(self.log_path.parent / f"tb_{self.log_path.stem}") if cfg.tensorboard else None,
            wandb=cfg.wandb,
            mlflow=cfg.mlflow,
            run_name=self.run_name,
            config=self.run_config,
        )
        loader = PrefetchLoader(
            self.train_data,
            global_batch=cfg.global_batch_size,
            micro_batch=cfg.micro_batch_size,
            dp_rank=env.dp_rank,
            dp_size=env.dp_size,
            start_step=state.step,
            end_step=cfg.steps,
            prefetch=cfg.prefetch,
        )
        previous_handlers = self._install_signal_handlers()
        first_loss = last_loss = val_loss = None
        last_checkpoint: Path | None = None
        stopped = "completed"
        data_wait_total = step_time_total = 0.0
        try:
            batches = iter(loader)
            while state.step < cfg.steps:
                t0 = time.perf_counter()
                step, micro_batches = next(batches)
                data_wait = time.perf_counter() - t0
                assert step == state.step, f"loader at step {step}, trainer at {state.step}"
                out = self.train_step(step, micro_batches)
                state.step += 1
                state.tokens_seen += out["tokens"]
                elapsed = time.perf_counter() - t0
                data_wait_total += data_wait
                step_time_total += elapsed
                record = self._step_record(out, elapsed, data_wait)
                if first_loss is None and math.isfinite(out["loss"]):
                    first_loss = out["loss"]
                if math.isfinite(out["loss"]):
                    last_loss = out["loss"]
                if self.val_data is not None and (state.step % cfg.eval_every == 0 or state.step == cfg.steps):
                    val_loss = self.evaluate()
                    record["val_loss"] = val_loss
                if self.downstream_eval is not None and (
                    state.step % cfg.downstream_eval.every_steps == 0 or state.step == cfg.steps
                ):
                    record["downstream"] = self.downstream_eval(self.model, state.step)
                metrics.log(state.step, record, echo=state.step % max(1, cfg.log_every) == 0)
                if out["skipped"] and state.nonfinite_in_a_row >= cfg.max_nonfinite_in_a_row:
                    raise TrainingDiverged(
                        f"{state.nonfinite_in_a_row} steps in a row had a non-finite loss or gradient "
                        f"(steps {state.step - state.nonfinite_in_a_row + 1}..{state.step}); stopping. "
                        f"Lower train.lr, check the data, or resume from {find_latest_checkpoint(self.checkpoints.dir)}"
                    )
                preempted = self._signal_received()
                if state.step % cfg.checkpoint.every_steps == 0 or state.step == cfg.steps or preempted:
                    last_checkpoint = self.save()
                if preempted:
                    stopped = f"signal {signal.Signals(preempted).name}"
                    self._report(f"stopping on {stopped}: checkpoint {last_checkpoint}", logging.WARNING)
                    break
        finally:
            loader.close()
            self._restore_signal_handlers(previous_handlers)
            metrics.close()
        return {
            "steps": state.step,
            "first_loss": first_loss,
            "last_loss": last_loss,
            "val_loss": val_loss,
            "tokens_seen": state.tokens_seen,
            "nonfinite_steps": state.nonfinite_total,
            "checkpoint": str(last_checkpoint or find_latest_checkpoint(self.checkpoints.dir) or ""),
            "stopped": stopped,
            "data_wait_share": data_wait_total / step_time_total if step_time_total else 0.0,
            "resumed_from": str(self.resumed_from) if self.resumed_from else None,
        }

    def train_step(self, step: int, micro_batches: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
        """One optimiser step over this rank's micro-batches; returns loss, grad norm, tokens, skipped."""
        model, env = self.model, self.env
        torch.manual_seed(self.seed * 1_000_003 + step)  # RNG is a function of the step: exact resume
        model.train()
        local_labels = sum(_num_label_tokens(mb["labels"]) for mb in micro_batches)
        num_labels = int(env.all_reduce_dp(torch.tensor([local_labels], dtype=torch.float64)).item())
        denominator = float(max(1, num_labels))
        scale = env.grad_scale / denominator  # FSDP averages over dp ranks; the global normalisation must survive
        loss_sum = torch.zeros((), dtype=torch.float64, device=env.device)
        every_micro_batch = self.cfg.parallel.reduce_grads == "per_micro_batch"
        if self.pipeline is not None:  # the schedule runs forward and backward of every micro-batch
            loss_sum += self.pipeline.forward_backward(micro_batches, scale)
        for k, mb in enumerate(micro_batches if self.pipeline is None else []):
            set_gradient_sync(model, every_micro_batch or k == len(micro_batches) - 1)
            token_loss_sum = self._forward_loss(mb)
            (token_loss_sum * scale).backward()
            loss_sum += token_loss_sum.detach().double()
        loss = env.all_reduce_dp(loss_sum.reshape(1)).item() / denominator
        grad_norm = _clip_grad_norm(model, self.cfg.grad_clip, env.all_reduce_pp)
        skipped = not (math.isfinite(loss) and math.isfinite(grad_norm))
        if skipped:
            self.state.nonfinite_total += 1
            self.state.nonfinite_in_a_row += 1
        else:
            self.state.nonfinite_in_a_row = 0
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        tokens = sum(int(mb["input_ids"].numel()) for mb in micro_batches) * env.dp_size
        checksum = env.all_reduce_dp(torch.tensor([sum(_checksum(mb["input_ids"]) for mb in micro_batches)]))
        return {
            "loss": loss,
            "grad_norm": grad_norm,
            "lr": lr,
            "tokens": tokens,
            "skipped": skipped,
            "data_checksum": int(checksum.item()),
        }

    def _forward_loss(self, mb: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of next-token cross-entropies of one micro-batch (fp32), ignoring labels of IGNORE_INDEX."""
        inputs = self._model_inputs(mb)
        # Shift the labels, not the logits: slicing the [B, L, V] logits would copy the largest tensor of the step.
        labels = F.pad(mb["labels"], (0, 1), value=IGNORE_INDEX)[:, 1:].to(self.env.device)
        head = self.fused_head
        if head is None:
            with self.env.autocast():
                logits = self.model(**inputs, use_cache=False).logits
            return cross_entropy_sum(logits.flatten(0, 1).float(), labels.flatten())
        with self.env.autocast():
            with hidden_states_from(head):
                hidden = self.model(**inputs, use_cache=False).logits
            # After the root's forward FSDP2 keeps the root's parameters (the head's among them) unsharded for backward.
            return linear_cross_entropy_sum(hidden.flatten(0, 1), head.weight, labels.flatten())

    def _model_inputs(self, mb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's keyword inputs for a micro-batch, on the device: ids, positions, the (packed) attention mask."""
        inputs = {"input_ids": mb["input_ids"].to(self.env.device, non_blocking=True)}
        if "position_ids" in mb:
            inputs["position_ids"] = mb["position_ids"].to(self.env.device)
        if "seq_ids" in mb:
            mask = packed_causal_mask(mb["seq_ids"].to(self.env.device))
            if getattr(self.model.config, "_attn_implementation", None) == "eager":
                # eager attention *adds* a 4-D mask to the scores: a boolean one would mask nothing.
                mask = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill(
                    ~mask, torch.finfo(torch.float32).min
                )
            inputs["attention_mask"] = mask
        elif "attention_mask" in mb:
            inputs["attention_mask"] = mb["attention_mask"].to(self.env.device)
        return inputs

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean token loss over the first ``eval_batches`` global batches of the validation stream (wrapping)."""
        cfg, env = self.cfg, self.env
        if self.val_data is None or self.val_size == 0:
            return float("nan")
        self.model.eval()
        num_steps = max(1, min(cfg.eval_batches, self.val_size // cfg.global_batch_size))
        total = torch.zeros(2, dtype=torch.float64)
        for step in range(num_steps):
            indices = rank_indices(step, cfg.global_batch_size, cfg.micro_batch_size, env.dp_rank, env.dp_size)
            mbs = [collate([self.val_data[i % self.val_size] for i in idx]) for idx in indices]
            if self.pipeline is not None:
                total[0] += self.pipeline.loss_sum(mbs).double().cpu()
            for mb in mbs:
                if self.pipeline is None:
                    total[0] += self._forward_loss(mb).double().cpu()
                total[1] += _num_label_tokens(mb["labels"])
        total = env.all_reduce_dp(total.to(env.device)).cpu()
        self.model.train()
        return float(total[0] / max(1.0, float(total[1])))

    # ---------------------------------------------------------------- side effects
    def save(self) -> Path:
        return self.checkpoints.save(
            self.model,
            self.optimizer,
            self.scheduler,
            self.state,
            run_config=self.run_config,
            hf_config=self.hf_config,
            tokenizer=self.tokenizer,
        )

    def _step_record(self, out: dict[str, Any], elapsed: float, data_wait: float) -> dict[str, Any]:
        tokens_per_s = out["tokens"] / elapsed if elapsed > 0 else 0.0
        flops = self.flops_per_token * tokens_per_s
        record = {
            "loss": out["loss"],
            "lr": out["lr"],
            "grad_norm": out["grad_norm"],
            "tokens_per_s": tokens_per_s,
            "tokens_seen": self.state.tokens_seen,
            "step_time_s": elapsed,
            "wall_time": time.time(),
            "process_cpu_s": time.process_time(),
            "data_wait_s": data_wait,
            "flops_per_s": flops,
            "data_checksum": out["data_checksum"],
            "mfu": flops / (self.peak_flops * self.env.world_size) if self.peak_flops else None,
        }
        if out["skipped"]:
            record["skipped"] = True
            record["nonfinite_total"] = self.state.nonfinite_total
        return record

    def _report(self, text: str, level: int = logging.INFO) -> None:
        """One log record, from rank 0 only (every rank reaches the same decisions)."""
        if self.env.is_main:
            log.log(level, text)

    def _warn(self, text: str) -> None:
        self._report(text, logging.WARNING)

    def _install_signal_handlers(self) -> dict[int, Any]:
        """SIGTERM/SIGUSR1 (Slurm preemption) → finish the step, checkpoint, stop."""
        previous = {}

        def handler(signum, frame):  # frame: required by the signal API
            self._stop_signal = signum

        for sig in (signal.SIGTERM, signal.SIGUSR1):
            try:
                previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread
                pass
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for sig, h in previous.items():
            signal.signal(sig, h)

    def _signal_received(self) -> int:
        """The signal number if any rank got one (all ranks must agree to save together), else 0."""
        flag = torch.tensor([self._stop_signal or 0], dtype=torch.int64)
        return int(self.env.all_reduce(flag.to(self.env.device), op="max").item())


def packed_causal_mask(seq_ids: torch.Tensor) -> torch.Tensor:
    """Boolean ``[B, 1, L, L]`` mask: causal and only within the same packed example (True = may attend)."""
    length = seq_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=seq_ids.device).tril()
    same = seq_ids[:, :, None] == seq_ids[:, None, :]
    return (same & causal)[:, None]


def _checksum(input_ids: torch.Tensor) -> int:
    """A fingerprint of the samples of a batch that does not depend on how they are split over ranks (a sum)."""
    weights = torch.arange(1, input_ids.shape[-1] + 1, dtype=torch.int64)
    return int(((input_ids.cpu().long() * weights).sum(-1) % 1_000_003).sum().item())


def _num_label_tokens(labels: torch.Tensor) -> int:
    return int((labels[:, 1:] != IGNORE_INDEX).sum().item())


def _num_params(model: torch.nn.Module) -> int:
    """Parameters in the 6·N term: all but the input embedding (a lookup, not a matmul). Global sizes under FSDP/TP."""
    emb = model.get_input_embeddings()
    skip = {id(p) for p in emb.parameters()} if emb is not None else set()
    head = model.get_output_embeddings()
    if head is not None and head.weight is emb.weight:
        skip = set()  # tied: the LM head matmul uses the same matrix
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def _clip_grad_norm(
    model: torch.nn.Module, max_norm: float, sum_stages: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> float:
    """Clip the total gradient norm; returns the norm before clipping.

    Under FSDP + TP gradients live on different meshes (TP'd projections on ``(dp, tp)``, the rest on ``dp``), which
    ``torch.nn.utils.clip_grad_norm_`` cannot stack: norms are taken per mesh, made global, then combined; under
    pipeline parallelism ``sum_stages`` adds up the squared norms of the stages.
    """
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    groups: dict[Any, list[torch.Tensor]] = {}
    for g in grads:
        groups.setdefault(getattr(g, "device_mesh", None), []).append(g)
    total_sq = 0.0
    for group in groups.values():
        norm = torch.nn.utils.get_total_norm(group, norm_type=2.0, foreach=True)
        if hasattr(norm, "full_tensor"):
            norm = norm.full_tensor()
        total_sq += float(norm.item()) ** 2
    if sum_stages is not None:
        total_sq = float(sum_stages(torch.tensor([total_sq], dtype=torch.float64)).item())
    total = math.sqrt(total_sq)
    if max_norm > 0 and math.isfinite(total) and total > max_norm:
        coef = max_norm / (total + 1e-6)
        for group in groups.values():
            torch._foreach_mul_(group, coef)
    return total
