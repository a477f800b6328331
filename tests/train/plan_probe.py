"""Measured per-rank bytes of a real training step, for tests/train/test_plan.py to hold the plan against.

Run as ``python plan_probe.py CONFIG OUT`` (one process) or under ``torchrun`` (gloo). Builds the real Trainer from
the run config (tiny Llama, the config's shards), runs one optimiser step, then one more forward/backward with the
gradient reduce-scatter on, and writes rank 0's state-dict, gradient and AdamW-state bytes, the largest unsharded
gradient FSDP2 held between the micro-batches of the trainer's step (read from its parameters at the start of each
micro-batch's forward) and the trainer's FLOPs per token to OUT (JSON).
"""

from __future__ import annotations

import json
import sys

import torch


def _local_bytes(tensors) -> int:
    total = 0
    for t in tensors:
        t = t.to_local() if hasattr(t, "to_local") else t
        total += t.numel() * t.element_size()
    return total


def _accumulated_grad_bytes(model) -> int:
    """Bytes of the unsharded gradients FSDP2 keeps while gradient sync is off (``unsharded_accumulated_grad`` in the
    reduce dtype, or the unsharded parameter's ``.grad`` when there is no reduce dtype)."""
    from torch.distributed.fsdp import FSDPModule

    held = []
    for module in model.modules():
        group = module._get_fsdp_state()._fsdp_param_group if isinstance(module, FSDPModule) else None
        for fsdp_param in group.fsdp_params if group is not None else []:
            grad = fsdp_param.unsharded_accumulated_grad
            if grad is None and getattr(fsdp_param, "_unsharded_param", None) is not None:
                grad = fsdp_param._unsharded_param.grad
            if grad is not None:
                held.append(grad)
    return _local_bytes(held)


def main(config: str, out: str) -> None:
    from meditron.config import load_config
    from meditron.data.blend import build_pretrain_datasets
    from meditron.data.loader import collate, rank_indices
    from meditron.tokenizer import add_special_tokens, load_tokenizer
    from meditron.train.model import load_full_model
    from meditron.train.parallelize import set_gradient_sync
    from meditron.train.trainer import Trainer

    cfg = load_config(config)
    tok = load_tokenizer(str(cfg.model.tokenizer))
    add_special_tokens(tok)
    train, _, _ = build_pretrain_datasets(cfg.train.shards_dir, cfg.train.seq_len, seed=1)
    trainer = Trainer(model_factory=lambda: load_full_model(cfg.model, tok, seed=3), tokenizer=tok, train_data=train,
                      cfg=cfg.train, seed=1, checkpoint_dir=cfg.run_dir / "ckpt", log_path=cfg.run_dir / "log.jsonl")
    trainer.setup()
    env = trainer.env
    batches = [collate([train[i] for i in idx]) for idx in rank_indices(0, cfg.train.global_batch_size,
                                                                          cfg.train.micro_batch_size, env.dp_rank,
                                                                          env.dp_size)]
    forward_loss, accumulated = trainer._forward_loss, []

    def measured_forward_loss(mb):
        accumulated.append(_accumulated_grad_bytes(trainer.model))
        return forward_loss(mb)

    trainer._forward_loss = measured_forward_loss
    trainer.train_step(0, batches)
    trainer._forward_loss = forward_loss
    optimizer = _local_bytes(v for state in trainer.optimizer.state.values() for v in state.values())
    set_gradient_sync(trainer.model, True)
    trainer._forward_loss(batches[0]).backward()
    grads = _local_bytes(p.grad for p in trainer.model.parameters() if p.grad is not None)
    params = _local_bytes(trainer.model.state_dict().values())
    if env.is_main:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"parameters": params, "gradients": grads, "optimizer": optimizer,
                       "accumulated_gradients": max(accumulated), "micro_batches": len(accumulated),
                       "flops_per_token": trainer.flops_per_token, "world": env.world_size, "tp": env.tp}, f)
    if env.distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
