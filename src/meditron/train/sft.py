"""``meditron finetune``: supervised finetuning on ChatML QA with answer-only loss, on the pretraining engine.

The glue between the ``finetune`` config, the SFT data (``meditron.data.sft``) and the shared
:class:`meditron.train.trainer.Trainer`: same launcher (one process or ``torchrun``), FSDP2/TP, DCP checkpoints, exact
resume and metrics as pretraining. It starts from ``finetune.init_from`` or the pretraining stage's consolidated HF
directory, gives the tokenizer the ChatML template (saved with every checkpoint and the final HF directory, so
``apply_chat_template`` at inference renders what training saw), and ends with a consolidated HF directory in
``hf/`` of the checkpoint directory (``<run>/checkpoints/finetune/hf`` by default) whose generation config stops at
``<|im_end|>``. The data order, the model's trainer RNG and packing follow the run's one ``seed``.

Before any data is read, ``finetune.seq_len`` is checked against the model's maximum context, and the tokens the
model's vocabulary gains (MEDITRON's special tokens, when the start model lacks them) are logged with how their
embedding rows start; both go to run.json.

Files: ``<run>/logs/finetune.jsonl`` (one record per step), ``<run>/logs/finetune_data.json`` (builder counts,
examples dropped by the contamination guard or for length, token statistics; written even when no example is left,
with the error naming the setting to change), checkpoints in
``<run>/checkpoints/finetune/step_XXXXXXX``, the tokenized data cache in ``<run>/checkpoints/finetune/sft_data/``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.config import RunConfig, dump_config
from meditron.errors import ConfigError, InputError, MeditronError
from meditron.json_io import write_json_atomic
from meditron.run import RunDir
from meditron.special_tokens import IM_END

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from meditron.data.sft import SFTSource
    from meditron.train.config import FinetuneConfig
    from meditron.train.parallelize import DistEnv

log = logging.getLogger(__name__)

DATA_REPORT = "finetune_data.json"
CACHE_DIR = "sft_data"


def init_dir(cfg: RunConfig, run: RunDir) -> Path:
    """The HF directory finetuning starts from: ``finetune.init_from``, else where pretraining consolidated its model
    (``hf/`` of ``train.checkpoint.dir``, by default ``<run>/checkpoints/pretrain/hf``)."""
    from meditron.train.stage import stage_paths

    if cfg.finetune.init_from:
        path = Path(cfg.finetune.init_from)
        if not (path / "config.json").exists():
            raise InputError("finetune.init_from is not an HF model directory (no config.json)", path=str(path))
        return path
    path = stage_paths(run, "pretrain", cfg.train.checkpoint).hf
    if not (path / "config.json").exists():
        raise InputError(
            "no model to finetune: run `meditron pretrain` first (it writes this directory) or set finetune.init_from",
            path=str(path),
        )
    return path


def chat_tokenizer(cfg: RunConfig, model_dir: Path):
    """The model's tokenizer (else ``model.tokenizer``) with MEDITRON's special tokens and the ChatML template."""
    from meditron.data.sft import install_chat_template
    from meditron.tokenizer import add_special_tokens, load_tokenizer

    has_own = any((model_dir / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"))
    if has_own:
        source = model_dir
    elif cfg.model.tokenizer:
        source = Path(cfg.model.tokenizer)
    else:
        raise InputError("the model directory has no tokenizer; set model.tokenizer", path=str(model_dir))
    tok = load_tokenizer(source)
    add_special_tokens(tok, cfg.corpus.markup.special_tokens)  # the markers as the corpus spelled them
    return install_chat_template(tok)


def _load_model(model_dir: Path, cfg: RunConfig, tok):
    """Full fp32 model with its vocabulary matched to the tokenizer, with an attention that reads boolean masks."""
    from meditron.train.config import ModelConfig
    from meditron.train.model import load_full_model

    model = load_full_model(
        ModelConfig(path=str(model_dir), trust_remote_code=cfg.model.trust_remote_code), tok, cfg.seed
    )
    return ensure_boolean_mask_attention(model)


def ensure_boolean_mask_attention(model):
    """Switch eager attention to SDPA (same results): the trainer gives SFT batches a boolean block-causal 4-D mask,
    and transformers' eager attention *adds* a 4-D mask to the scores, so a boolean one would mask nothing — the
    model would see the future and the other packed examples. SDPA reads boolean masks correctly."""
    if getattr(model.config, "_attn_implementation", None) == "eager":
        model.set_attn_implementation("sdpa")
    return model


def finalize_generation_config(hf_dir: Path, tok) -> None:
    """Generation stops at ``<|im_end|>`` (the end of an assistant turn) as well as at EOS."""
    from transformers import GenerationConfig

    try:
        gen = GenerationConfig.from_pretrained(hf_dir)
    except OSError:
        gen = GenerationConfig()
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    im_end = tok.convert_tokens_to_ids(IM_END)
    ids = [i for i in [*eos, tok.eos_token_id, im_end] if i is not None]
    gen.eos_token_id = list(dict.fromkeys(ids))
    if gen.pad_token_id is None:
        gen.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else gen.eos_token_id[0]
    gen.save_pretrained(hf_dir)


def _prepare_data(
    fc: FinetuneConfig,
    tok: PreTrainedTokenizerBase,
    env: DistEnv,
    cache_dir: Path,
    report_path: Path,
    max_context: int | None,
    *,
    seed: int,
) -> tuple[SFTSource, dict[str, Any]]:
    """Rank 0 builds, guards and tokenizes, and caches the result; the other ranks (and a resumed run) load it.

    A rank that cannot see the cache (no shared filesystem) builds the identical data itself. When no example is
    left, rank 0 still writes the data report (it says why) and the error points at it."""
    from meditron.data.sft import NoExampleLeft, prepare_sft_data

    failure: Exception | None = None
    if env.is_main:
        try:
            prepared = prepare_sft_data(fc, tok, seed=seed, cache_dir=cache_dir, max_context=max_context)
        except NoExampleLeft as e:
            write_json_atomic(report_path, e.report, sort_keys=False)
            failure = ConfigError(f"{e}; data report: {report_path}")
        except Exception as e:  # tell the other ranks instead of leaving them at a barrier
            failure = e
    message = env.broadcast_object(f"{type(failure).__name__}: {failure}" if failure else None)
    if failure is not None:
        raise failure
    if message is not None:
        raise MeditronError(f"rank 0 could not prepare the finetuning data: {message}")
    if env.is_main:
        return prepared
    return prepare_sft_data(fc, tok, seed=seed, cache_dir=cache_dir, max_context=max_context)


def _schedule(fc: FinetuneConfig, source: SFTSource, model_dir: Path, data_report: dict[str, Any]) -> int:
    """Steps from ``epochs`` × samples / ``global_batch_size`` (capped by ``finetune.steps``), kept in the report."""
    steps = source.steps_for(fc.epochs, fc.global_batch_size)
    if fc.steps is not None:
        steps = min(steps, fc.steps)
    data_report["schedule"] = {
        "epochs": fc.epochs,
        "global_batch_size": fc.global_batch_size,
        "steps": steps,
        "samples_per_epoch": source.num_units,
        "init_from": str(model_dir),
    }
    return steps


def _data_line(fc: FinetuneConfig, source: SFTSource, data_report: dict[str, Any], steps: int) -> str:
    """The one line a user reads about the data: examples, packing, guard and length drops, steps, cache."""
    g = data_report["guard"]
    guard_note = f", guard dropped {g['num_dropped']}" if g else ", no contamination guard"
    cached = " (tokenized data from the cache)" if data_report.get("cache", {}).get("hit") else ""
    shape = f"packed into {source.num_units} rows of {fc.seq_len} tokens" if fc.packing else "unpacked"
    return (
        f"finetune: {data_report['source']['num_examples']} examples ({shape}){guard_note}, "
        f"{data_report['too_long']['num_dropped']} longer than seq_len; {steps} steps{cached}"
    )


def run_finetune(cfg: RunConfig, run: RunDir, resume: bool) -> dict[str, Any]:
    """Build the SFT data, train, consolidate to HF, record the stage. Every rank calls this; rank 0 writes."""
    from meditron.train.config import ModelConfig
    from meditron.train.model import check_seq_len, vocabulary_growth
    from meditron.train.parallelize import init_distributed, shutdown
    from meditron.train.stage import finish_stage, log_start_notes, stage_paths
    from meditron.train.trainer import Trainer

    fc = cfg.finetune
    model_dir = init_dir(cfg, run)
    tok = chat_tokenizer(cfg, model_dir)
    context = check_seq_len(fc.seq_len, "finetune.seq_len", model_dir, tok)
    model_cfg = ModelConfig(path=str(model_dir), trust_remote_code=cfg.model.trust_remote_code)
    vocabulary = vocabulary_growth(model_cfg, tok)
    paths = stage_paths(run, "finetune", fc.checkpoint)
    log_path, report_path = run.logs / "finetune.jsonl", run.logs / DATA_REPORT
    env = init_distributed(fc.parallel)
    try:
        log_start_notes("finetune", vocabulary, context, env)
        source, data_report = _prepare_data(
            fc, tok, env, paths.checkpoints / CACHE_DIR, report_path, context.max_context, seed=cfg.seed
        )
        steps = _schedule(fc, source, model_dir, data_report)
        if env.is_main:
            write_json_atomic(report_path, data_report, sort_keys=False)
            log.info(_data_line(fc, source, data_report, steps))
        trainer = Trainer(
            model_factory=lambda: _load_model(model_dir, cfg, tok),
            tokenizer=tok,
            train_data=source,
            cfg=fc.model_copy(update={"steps": steps}),
            seed=cfg.seed,
            checkpoint_dir=paths.checkpoints,
            log_path=log_path,
            run_config=dump_config(cfg),
            env=env,
            run_name=f"{cfg.name}-finetune",
        )
        summary = trainer.train(resume=resume)
        summary["data"] = {k: data_report[k] for k in ("source", "schedule")}
        summary["num_guard_dropped"] = data_report["guard"]["num_dropped"] if data_report["guard"] else None
        summary["vocabulary"] = vocabulary
        summary["max_context"] = {"tokens": context.max_context, "source": context.source}
        finish_stage(
            "finetune", summary, env=env, run=run, paths=paths, hidden=("checkpoint", "data"),
            artifacts={"log": log_path, "data_report": report_path}, inputs=[Path(d.path) for d in fc.datasets],
            after_consolidate=lambda hf_dir: finalize_generation_config(hf_dir, tok),
        )  # fmt: skip
        return summary
    finally:
        shutdown(env)
