"""``meditron pretrain``: continued pretraining on the corpus shards — the glue between config, data and Trainer.

Reads ``<shards>/`` (or ``train.shards_dir``), takes the tokenizer the corpus stage saved there (special tokens
included), blends sources by ``train.source_weights``, trains with :class:`meditron.train.trainer.Trainer`, and at the
end consolidates the last checkpoint into ``<run>/checkpoints/pretrain/hf`` (where finetuning starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meditron.config import RunConfig, dump_config
from meditron.errors import InputError
from meditron.run import RunDir


def resolve_tokenizer(cfg: RunConfig, shards_tokenizer_dir: Path | None):
    """``model.tokenizer`` if set, else the shards' tokenizer; MEDITRON's special tokens are always present."""
    from meditron.data.tokenizer import add_special_tokens, load_tokenizer
    from meditron.sample import resolve_path

    source = cfg.model.tokenizer
    if source is None and shards_tokenizer_dir is not None and shards_tokenizer_dir.exists():
        source = str(shards_tokenizer_dir)
    if source is None and cfg.model.path:
        source = cfg.model.path
    if source is None:
        raise InputError("no tokenizer: set model.tokenizer or run the corpus stage (it saves <shards>/tokenizer)")
    tok = load_tokenizer(resolve_path(source))
    add_special_tokens(tok)
    return tok


def run_pretrain(cfg: RunConfig, run: RunDir, resume: bool) -> dict[str, Any]:
    """Train, checkpoint, consolidate to HF, record the stage. Every rank calls this; rank 0 writes the records."""
    from meditron.data.blend import build_pretrain_datasets
    from meditron.sample import resolve_path
    from meditron.train.hf_export import consolidate_checkpoint
    from meditron.train.model import load_full_model
    from meditron.train.parallelize import init_distributed, shutdown
    from meditron.train.trainer import Trainer

    tc = cfg.train
    shards_dir = Path(resolve_path(tc.shards_dir)) if tc.shards_dir else run.shards
    train_data, val_data, shards = build_pretrain_datasets(
        shards_dir, tc.seq_len, seed=tc.seed, weights=tc.source_weights or None
    )
    tokenizer = resolve_tokenizer(cfg, shards.tokenizer_dir)
    if shards.vocab_size > len(tokenizer):
        raise InputError(
            f"the shards were tokenized with a vocabulary of {shards.vocab_size} but the tokenizer has "
            f"{len(tokenizer)} tokens: use the tokenizer saved with the shards",
            path=str(shards.root),
        )
    ckpt_dir = Path(tc.checkpoint.dir) if tc.checkpoint.dir else run.checkpoints / "pretrain"
    env = init_distributed(tc.parallel)
    try:
        trainer = Trainer(
            model_factory=lambda: load_full_model(cfg.model, tokenizer, cfg.seed),
            tokenizer=tokenizer,
            train_data=train_data,
            val_data=val_data,
            cfg=tc,
            checkpoint_dir=ckpt_dir,
            log_path=run.logs / "train.jsonl",
            run_config=dump_config(cfg),
            env=env,
            run_name=cfg.name,
        )
        summary = trainer.train(resume=resume)
        summary["sources"] = train_data.shares
        hf_dir = run.checkpoints / "pretrain" / "hf"
        if summary["stopped"] == "completed":
            env.barrier()
            if env.is_main:
                consolidate_checkpoint(summary["checkpoint"], hf_dir)
                summary["hf"] = str(hf_dir)
                run.record_stage(
                    "pretrain",
                    {"checkpoints": ckpt_dir, "hf": hf_dir, "log": run.logs / "train.jsonl"},
                    metrics={k: v for k, v in summary.items() if k != "checkpoint"},
                    inputs=[shards.root / "manifest.json"],
                )
            env.barrier()
        return summary
    finally:
        shutdown(env)
