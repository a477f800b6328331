"""``meditron pretrain``: continued pretraining on the corpus shards — the glue between config, data and Trainer.

Reads ``<shards>/`` (or ``train.shards_dir``), checks that they were made with the model's tokenizer (the manifest's
vocabulary fingerprint, BOS/EOS ids and document framing) and that ``train.seq_len`` fits the model's context, blends
sources by ``train.source_weights``, trains with :class:`meditron.train.trainer.Trainer`, and at the end consolidates the last checkpoint into ``<run>/checkpoints/pretrain/hf`` (where finetuning starts). The tokens the model's
vocabulary gains (MEDITRON's special tokens) and how their embedding rows start are printed and kept in run.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meditron.config import RunConfig, dump_config
from meditron.errors import InputError
from meditron.run import RunDir


def _has_tokenizer(path: str) -> bool:
    p = Path(path)
    if not p.exists():
        return not path.startswith(("/", ".", "~"))  # a hub id: its tokenizer is on the hub
    return any((p / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")) or any(p.glob("*.model"))


def resolve_tokenizer(cfg: RunConfig, shards_tokenizer_dir: Path | None):
    """The model's tokenizer, with MEDITRON's special tokens, and where it came from.

    ``model.tokenizer`` if set, else the tokenizer inside ``model.path``, else (a fresh preset model, or a directory
    without a tokenizer) the shards' tokenizer. Returns ``(tokenizer, origin)``; the shards are checked against it by
    :func:`check_shards_tokenizer` instead of one silently replacing the other.
    """
    from meditron.tokenizer import add_special_tokens, load_tokenizer

    if cfg.model.tokenizer is not None:
        source, origin = str(cfg.model.tokenizer), f"{cfg.model.tokenizer} (model.tokenizer)"
    elif cfg.model.path and _has_tokenizer(str(cfg.model.path)):
        source, origin = str(cfg.model.path), f"{cfg.model.path} (model.path)"
    elif shards_tokenizer_dir is not None and shards_tokenizer_dir.exists():
        source, origin = str(shards_tokenizer_dir), f"{shards_tokenizer_dir} (the shards' own)"
    else:
        raise InputError("no tokenizer: set model.tokenizer or run the corpus stage (it saves <shards>/tokenizer)")
    tok = load_tokenizer(source)
    add_special_tokens(tok)
    if cfg.model.tokenizer is not None and cfg.model.path and _has_tokenizer(str(cfg.model.path)):
        own = load_tokenizer(Path(cfg.model.path))
        _check_extends_model_tokenizer(tok, cfg.model.tokenizer, own, cfg.model.path)
    return tok, origin


def _check_extends_model_tokenizer(tok, tokenizer_path: str, own, model_path: str) -> None:
    """``model.tokenizer`` next to a model that has its own tokenizer may add tokens, never renumber them: every
    token the model learnt must keep its id, or the embedding rows would be read for the wrong text."""
    vocab = tok.get_vocab()
    moved = [t for t, i in own.get_vocab().items() if vocab.get(t) != i]
    if moved:
        raise InputError(
            f"model.tokenizer {tokenizer_path} does not extend the tokenizer of model.path {model_path}: "
            f"{len(moved)} of its {len(own)} tokens have another id or are missing (e.g. {moved[0]!r}); remove "
            "model.tokenizer to use the model's own tokenizer"
        )


def _shards_identity(shards):
    """The identity of the shards' tokenizer and their document framing (BOS first?, EOS last?)."""
    from meditron.tokenizer import TokenizerIdentity, describe_tokenizer, load_tokenizer

    record = shards.tokenization
    if record is not None:
        fields = {k: record[k] for k in ("vocab_size", "fingerprint", "bos_id", "eos_id", "adds_bos", "adds_eos")}
        source = f"{record['source']} (corpus.tokenizer)" if record.get("source") else str(shards.tokenizer_dir)
        return TokenizerIdentity(**fields), source, record
    tok = load_tokenizer(shards.tokenizer_dir)  # a manifest from before the record: documents end with EOS only
    legacy = {"bos": False, "eos": True, "bos_setting": "auto"}
    return describe_tokenizer(tok), str(shards.tokenizer_dir), legacy


def check_shards_tokenizer(shards, tokenizer, origin: str) -> dict:
    """Refuse shards whose token ids mean something else for the model (another vocabulary, other BOS/EOS ids) or
    whose documents are framed differently from what the model's tokenizer does at inference (BOS), in one line.

    Returns the shards' tokenization record (what run.json keeps)."""
    from meditron.tokenizer import describe_tokenizer

    mine = describe_tokenizer(tokenizer)
    theirs, source, record = _shards_identity(shards)
    fix = (
        "rerun `meditron corpus run` with corpus.tokenizer set to the model's tokenizer, or set train.shards_dir "
        "to shards made with it"
    )
    where = str(shards.root / "manifest.json")
    same = (theirs.fingerprint, theirs.bos_id, theirs.eos_id) == (mine.fingerprint, mine.bos_id, mine.eos_id)
    if not same:
        raise InputError(
            f"the shards were made with a different tokenizer than the model's: shards' tokenizer {source} "
            f"({theirs.short()}) vs model's tokenizer {origin} ({mine.short()}); {fix}",
            path=where,
        )
    if record.get("bos_setting") == "auto" and bool(record["bos"]) != mine.adds_bos:
        has = "start" if record["bos"] else "do not start"
        does = "adds" if mine.adds_bos else "does not add"
        raise InputError(
            f"the shards' documents {has} with BOS but the model's tokenizer {origin} {does} one at inference "
            f"(shards' tokenizer {source}); {fix}, or set corpus.tokenization.bos explicitly",
            path=where,
        )
    return dict(record)


def run_pretrain(cfg: RunConfig, run: RunDir, resume: bool) -> dict[str, Any]:
    """Train, checkpoint, consolidate to HF, record the stage. Every rank calls this; rank 0 writes the records."""
    from meditron.data.blend import build_pretrain_datasets
    from meditron.data.shards import TokenShards
    from meditron.train.hf_export import consolidate_checkpoint
    from meditron.train.model import (
        build_config,
        check_seq_len,
        load_full_model,
        vocabulary_growth,
        vocabulary_note,
    )
    from meditron.train.parallelize import init_distributed, shutdown
    from meditron.train.trainer import Trainer

    tc = cfg.train
    shards_dir = Path(tc.shards_dir) if tc.shards_dir else run.shards
    shards = TokenShards(shards_dir)
    tokenizer, origin = resolve_tokenizer(cfg, shards.tokenizer_dir)
    shards_tokenization = check_shards_tokenizer(shards, tokenizer, origin)
    context = check_seq_len(tc.seq_len, "train.seq_len", build_config(cfg.model, tokenizer), tokenizer)
    vocabulary = vocabulary_growth(cfg.model, tokenizer)
    train_data, val_data, shards = build_pretrain_datasets(
        shards_dir, tc.seq_len, seed=tc.seed, weights=tc.source_weights or None
    )
    ckpt_dir = Path(tc.checkpoint.dir) if tc.checkpoint.dir else run.stage_dir("pretrain")
    env = init_distributed(tc.parallel)
    try:
        if env.is_main:
            print(vocabulary_note("pretrain", vocabulary), flush=True)
            if context.note():
                print(f"pretrain: note: {context.note()}", flush=True)
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
        summary["vocabulary"] = vocabulary
        summary["tokenization"] = shards_tokenization
        summary["max_context"] = {"tokens": context.max_context, "source": context.source}
        hf_dir = run.stage_hf("pretrain")
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
