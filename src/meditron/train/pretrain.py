"""``meditron pretrain``: continued pretraining on the corpus shards — the glue between config, data and Trainer.

Reads ``<shards>/`` (or ``train.shards_dir``). The tokenizer rule is single: the shards were tokenized with one
tokenizer, and pretraining uses that one. It is loaded from ``model.tokenizer`` when set, else from ``model.path``
when that directory has a tokenizer, else from the shards' own copy; whichever it is, it must be the shards'
tokenizer (the manifest's vocabulary fingerprint, BOS/EOS ids and document framing), or the run stops before training
with one line naming both tokenizers — never does another tokenizer silently win. Then ``train.seq_len`` is checked
against the model's context, sources are blended by ``train.mixture`` (a built ``corpus.mixtures`` manifest: its
sources only, in its proportions, validated on their validation splits) or ``train.source_weights`` (one or the
other; default: in proportion to tokens) in the order of the run's ``seed``, the
:class:`meditron.train.trainer.Trainer` trains, and the last checkpoint is consolidated into ``hf/`` of the checkpoint
directory (``<run>/checkpoints/pretrain/hf`` by default: where finetuning starts). The tokens the model's vocabulary
gains (MEDITRON's special tokens) and how their embedding rows start are logged and kept in run.json.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.config import RunConfig, dump_config
from meditron.errors import ConfigError, InputError
from meditron.run import RunDir

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from meditron.corpus.mixtures import Mixture
    from meditron.data.blend import BlendedDataset, ConcatDataset
    from meditron.data.shards import TokenShards
    from meditron.tokenizer import TokenizerIdentity

log = logging.getLogger(__name__)

#: What to change when the model's tokenizer is not the shards' one.
_FIX = (
    "rerun `meditron corpus run` with corpus.tokenizer set to the model's tokenizer, or set train.shards_dir "
    "to shards made with it"
)


def _has_tokenizer(path: str) -> bool:
    p = Path(path)
    if not p.exists():
        return not path.startswith(("/", ".", "~"))  # a hub id: its tokenizer is on the hub
    return any((p / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")) or any(p.glob("*.model"))


def _tokenizer_source(cfg: RunConfig, shards: TokenShards) -> tuple[str, str]:
    """Where to load the tokenizer from, and how to name that origin in messages."""
    if cfg.model.tokenizer is not None:
        return str(cfg.model.tokenizer), f"{cfg.model.tokenizer} (model.tokenizer)"
    if cfg.model.path and _has_tokenizer(str(cfg.model.path)):
        return str(cfg.model.path), f"{cfg.model.path} (model.path)"
    if shards.tokenizer_dir.exists():
        return str(shards.tokenizer_dir), f"{shards.tokenizer_dir} (the shards' own)"
    raise InputError("no tokenizer: set model.tokenizer or run the corpus stage (it saves <shards>/tokenizer)")


def resolve_tokenizer(cfg: RunConfig, shards: TokenShards) -> tuple[PreTrainedTokenizerBase, dict[str, Any]]:
    """The shards' tokenizer with MEDITRON's special tokens, and the shards' tokenization record (for run.json).

    Loaded from :func:`_tokenizer_source`; :func:`check_shards_tokenizer` then proves it is the shards' one. Next to a
    model with its own tokenizer, ``model.tokenizer`` may add tokens to it but never renumber them."""
    from meditron.tokenizer import add_special_tokens, load_tokenizer

    source, origin = _tokenizer_source(cfg, shards)
    tok = load_tokenizer(source)
    add_special_tokens(tok, cfg.corpus.markup.special_tokens)  # the markers as the corpus spelled them
    if cfg.model.tokenizer is not None and cfg.model.path and _has_tokenizer(str(cfg.model.path)):
        own = load_tokenizer(Path(cfg.model.path))
        _check_extends_model_tokenizer(tok, cfg.model.tokenizer, own, cfg.model.path)
    record = check_shards_tokenizer(shards, tok, origin, configured=cfg.model.tokenizer is not None)
    return tok, record


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


def _shards_identity(shards: TokenShards) -> tuple[TokenizerIdentity, str, dict[str, Any]]:
    """The identity of the shards' tokenizer and their document framing (BOS first?, EOS last?)."""
    from meditron.tokenizer import TokenizerIdentity, describe_tokenizer, load_tokenizer

    record = shards.tokenization
    if record is not None:
        fields = {k: record[k] for k in ("vocab_size", "fingerprint", "bos_id", "eos_id", "adds_bos", "adds_eos")}
        source = f"{record['source']} (corpus.tokenizer)" if record.get("source") else str(shards.tokenizer_dir)
        return TokenizerIdentity(**fields), source, record
    if not shards.tokenizer_dir.exists():
        raise InputError("the manifest records no tokenizer and the shards have no tokenizer/", path=str(shards.root))
    tok = load_tokenizer(shards.tokenizer_dir)  # a manifest from before the record: documents end with EOS only
    legacy = {"bos": False, "eos": True, "bos_setting": "auto"}
    return describe_tokenizer(tok), str(shards.tokenizer_dir), legacy


def check_shards_tokenizer(shards: TokenShards, tokenizer, origin: str, *, configured: bool = False) -> dict:
    """Refuse shards whose token ids mean something else for the model (another vocabulary, other BOS/EOS ids) or
    whose documents are framed differently from what the model's tokenizer does at inference (BOS), in one line.

    ``configured``: the tokenizer is ``model.tokenizer``'s, so a mismatch is a ConfigError on that key; otherwise
    (the model's own) an InputError on the shards. Returns the shards' tokenization record (what run.json keeps)."""
    from meditron.tokenizer import describe_tokenizer

    mine = describe_tokenizer(tokenizer)
    theirs, source, record = _shards_identity(shards)
    where = str(shards.root / "manifest.json")
    both = f"shards' tokenizer {source} ({theirs.short()}) vs model's tokenizer {origin} ({mine.short()})"
    if (theirs.fingerprint, theirs.bos_id, theirs.eos_id) != (mine.fingerprint, mine.bos_id, mine.eos_id):
        if configured:
            raise ConfigError(
                f"model.tokenizer is not the tokenizer the shards {where} were made with: {both}; remove "
                f"model.tokenizer (pretraining uses the shards' tokenizer), or {_FIX}"
            )
        raise InputError(f"the shards were made with a different tokenizer than the model's: {both}; {_FIX}", path=where)
    if record.get("bos_setting") == "auto" and bool(record["bos"]) != mine.adds_bos:
        has = "start" if record["bos"] else "do not start"
        does = "adds" if mine.adds_bos else "does not add"
        raise InputError(
            f"the shards' documents {has} with BOS but the model's tokenizer {origin} {does} one at inference "
            f"(shards' tokenizer {source}); {_FIX}, or set corpus.tokenization.bos explicitly",
            path=where,
        )
    return dict(record)


def load_mixture(cfg: RunConfig, shards_dir: Path) -> Mixture | None:
    """``train.mixture``'s manifest in ``<shards>/mixtures/`` (None without one), refused when built for other shards
    or from another spec than the config's ``corpus.mixtures`` entry of that name."""
    from meditron.corpus.mixtures import read_mixture

    name = cfg.train.mixture
    if name is None:
        return None
    return read_mixture(shards_dir, name, configured=cfg.corpus.mixtures.get(name))


def pretrain_datasets(
    cfg: RunConfig, shards_dir: Path, mixture: Mixture | None = None
) -> tuple[BlendedDataset, ConcatDataset | None, TokenShards]:
    """The blended training stream (ordered by the run's ``seed``) and the validation stream of ``shards_dir``.

    With ``train.mixture``: only the mixture's sources, by its weights, and their validation splits."""
    from meditron.data.blend import build_pretrain_datasets

    mixture = mixture or load_mixture(cfg, shards_dir)
    if mixture is not None:
        return build_pretrain_datasets(
            shards_dir, cfg.train.seq_len, seed=cfg.seed, weights=mixture.weights,
            validation_sources=mixture.validation_sources, weights_key=f"mixture {mixture.name} ({mixture.path})",
        )  # fmt: skip
    weights = cfg.train.source_weights or None
    return build_pretrain_datasets(shards_dir, cfg.train.seq_len, seed=cfg.seed, weights=weights)


def data_blend(mixture: Mixture | None, train_data: BlendedDataset) -> dict[str, Any]:
    """What the checkpoints keep of the data blend (``run_config.json``'s ``data_blend``), compared on resume."""
    return {"mixture": mixture.name if mixture else None, "shares": train_data.shares}


def check_resume_blend(checkpoints: Path, blend: dict[str, Any]) -> None:
    """Refuse to resume a run on another mixture (or on the same name whose blend changed): the data order after the
    checkpoint would not be the one before it. Checkpoints from before mixtures count as ``mixture: None``."""
    from meditron.train.checkpoint import CONFIG_FILE, find_latest_checkpoint

    latest = find_latest_checkpoint(checkpoints)
    saved_path = latest / CONFIG_FILE if latest is not None else None
    if saved_path is None or not saved_path.exists():
        return
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return  # a damaged checkpoint: loading it reports that, with the checkpoint's other files
    if not isinstance(saved, dict):
        return
    before = saved.get("data_blend") or {"mixture": (saved.get("train") or {}).get("mixture"), "shares": None}
    if before["mixture"] != blend["mixture"]:
        was = f"mixture {before['mixture']!r}" if before["mixture"] else "no mixture"
        now = f"mixture {blend['mixture']!r}" if blend["mixture"] else "no mixture"
        raise ConfigError(
            f"--resume: {latest} was trained on {was}, this run asks for {now}; resume with "
            f"--mixture {before['mixture'] or '(none)'} or start a new run (another name or train.checkpoint.dir)"
        )
    if blend["mixture"] and before["shares"] is not None and before["shares"] != blend["shares"]:
        raise ConfigError(
            f"--resume: mixture {blend['mixture']!r} blended {before['shares']} in {latest} but {blend['shares']} "
            "now (the mixture was edited and rebuilt); restore it or start a new run"
        )


def mixture_summary(mixture: Mixture, train_data: BlendedDataset, train_tokens: int) -> dict[str, Any]:
    """The mixture as trained on: shares, and epochs of each source over the run's ``train_tokens`` tokens."""
    sources = mixture.document["sources"]
    epochs = {s: share * train_tokens / sources[s]["available_tokens"] for s, share in train_data.shares.items()}
    return {"name": mixture.name, "manifest": str(mixture.path), "kind": mixture.document["kind"],
            "shares": train_data.shares, "budget_tokens": mixture.total_tokens, "train_tokens": train_tokens,
            "epochs": epochs}  # fmt: skip


def run_pretrain(
    cfg: RunConfig, run: RunDir, resume: bool, downstream_eval: Callable[[Any], Callable] | None = None
) -> dict[str, Any]:
    """Train, checkpoint, consolidate to HF, record the stage. Every rank calls this; rank 0 writes the records.

    ``downstream_eval``: for ``train.downstream_eval``, a builder taking the stage's tokenizer and returning the
    ``evaluator(model, step)`` the trainer calls (``meditron.eval.downstream.build_downstream_evaluator``, built by the
    front end: ``train`` does not import ``eval``). A completed run ends with ``<run>/reports/training.md``.
    """
    from meditron.data.shards import TokenShards
    from meditron.train.model import build_config, check_seq_len, load_full_model, vocabulary_growth
    from meditron.train.parallelize import init_distributed, shutdown
    from meditron.train.stage import finish_stage, log_start_notes, stage_paths
    from meditron.train.trainer import Trainer

    tc = cfg.train
    shards_dir = Path(tc.shards_dir) if tc.shards_dir else run.shards
    tokenizer, shards_tokenization = resolve_tokenizer(cfg, TokenShards(shards_dir))
    context = check_seq_len(tc.seq_len, "train.seq_len", build_config(cfg.model, tokenizer), tokenizer)
    vocabulary = vocabulary_growth(cfg.model, tokenizer)
    if tc.downstream_eval.enabled and downstream_eval is None:
        raise ConfigError("train.downstream_eval.enabled needs an evaluator: run `meditron pretrain`, or pass "
                          "downstream_eval=meditron.eval.downstream.build_downstream_evaluator(cfg.train.downstream_eval)")
    evaluator = downstream_eval(tokenizer) if downstream_eval is not None else None  # reads the benchmarks: fail early
    mixture = load_mixture(cfg, shards_dir)
    train_data, val_data, shards = pretrain_datasets(cfg, shards_dir, mixture)
    paths = stage_paths(run, "pretrain", tc.checkpoint)
    blend = data_blend(mixture, train_data)
    if resume:
        check_resume_blend(paths.checkpoints, blend)
    train_tokens = tc.steps * tc.global_batch_size * tc.seq_len
    if mixture is not None:
        log.info("pretrain: mixture %s (%s), %s tokens: %s", mixture.name, mixture.path, f"{train_tokens:,}",
                 ", ".join(f"{s} {v:.3f}" for s, v in train_data.shares.items()))
    env = init_distributed(tc.parallel)
    try:
        log_start_notes("pretrain", vocabulary, context, env)
        trainer = Trainer(
            model_factory=lambda: load_full_model(cfg.model, tokenizer, cfg.seed),
            tokenizer=tokenizer,
            train_data=train_data,
            val_data=val_data,
            cfg=tc,
            seed=cfg.seed,
            checkpoint_dir=paths.checkpoints,
            log_path=run.logs / "train.jsonl",
            run_config={**dump_config(cfg), "data_blend": blend},
            env=env,
            run_name=cfg.name,
            downstream_eval=evaluator,
        )
        summary = trainer.train(resume=resume)
        summary["sources"] = train_data.shares
        if mixture is not None:
            summary["mixture"] = mixture_summary(mixture, train_data, train_tokens)
        summary["vocabulary"] = vocabulary
        summary["tokenization"] = shards_tokenization
        summary["max_context"] = {"tokens": context.max_context, "source": context.source}
        finish_stage(
            "pretrain", summary, env=env, run=run, paths=paths, artifacts={"log": run.logs / "train.jsonl"},
            inputs=[shards.root / "manifest.json"],
        )  # fmt: skip
        if env.is_main and summary["stopped"] == "completed":
            from meditron.train.report import write_training_report

            write_training_report(run, run.logs / "train.jsonl")
        return summary
    finally:
        shutdown(env)
