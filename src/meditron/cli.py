"""The ``meditron`` command: one subcommand per stage. Parses argv and YAML once, then hands typed sections on.

Heavy libraries (torch, datatrove, lm-eval) are imported inside the commands so ``--help`` stays fast. Logging is set
up here, once per process (:func:`configure_logging`); library modules only log through ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from meditron import __version__
from meditron.errors import MeditronError

if TYPE_CHECKING:
    from meditron.run import RunDir

console = Console(stderr=True)

app = typer.Typer(
    name="meditron",
    help="Build a medical LLM end to end: curate GAP-Replay, pretrain, finetune, evaluate, export and serve.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
corpus_app = typer.Typer(
    help="Curate the GAP-Replay corpus: read, clean, filter, dedup, decontaminate, scrub, mix, split, tokenize.\n\n"
    "Example: `meditron corpus run --config configs/quickstart-cpu.yaml`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(corpus_app, name="corpus")
# `meditron eval --model ...` evaluates (the group's callback); `meditron eval compare A B` compares results.
eval_app = typer.Typer(rich_markup_mode="markdown")
app.add_typer(eval_app, name="eval")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file or shipped preset name (quickstart-cpu, meditron-7b)")
]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a config key, e.g. train.lr=1e-4")]
ResumeOpt = Annotated[bool, typer.Option(help="Continue from the newest checkpoint that verifies")]
TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust-checkpoint",
        help="Load a checkpoint/model whose files do not verify against its manifest.json or lineage.json (missing, "
        "damaged or modified files load as wrong weights). Pickled metadata is never executed either way.",
    ),
]


class LogLevel(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


#: The plain format off a terminal: one line per message, greppable in job logs.
_PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):
    """A stream handler on whatever ``sys.stderr`` is when a record is written (a test runner or a host may swap it,
    and a handler holding the old stream would write to a closed file)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: str = "INFO") -> Callable[[], None]:
    """Send the ``meditron`` loggers (stages, server request log) to stderr; returns the function that undoes it.

    Rich's handler on a terminal; a plain one-line format elsewhere (a pipe, a job log, a test), where Rich would wrap
    at 80 columns and split one message over lines. Under torchrun only rank 0 logs INFO: the other ranks log
    warnings and errors, so N ranks do not repeat every line. Nothing is set on the root logger, so other libraries'
    logging stays as their host configured it; a second call replaces the handler instead of doubling it.
    """
    from meditron.run import is_rank_zero

    logger = logging.getLogger("meditron")
    for old in [h for h in logger.handlers if getattr(h, "meditron_cli", False)]:
        logger.removeHandler(old)
    console = Console(stderr=True)
    handler: logging.Handler
    if console.is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False, markup=False)
    else:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(_PLAIN_FORMAT))
    handler.meditron_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    previous_level = logger.level
    numeric = logging.getLevelName(level.upper())
    logger.setLevel(numeric if is_rank_zero() else max(numeric, logging.WARNING))

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    return undo


def _version(value: bool) -> None:
    if value:
        print(f"meditron {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            envvar="MEDITRON_LOG_LEVEL",
            case_sensitive=False,
            help="Stage and server log messages shown on stderr (under torchrun, ranks other than 0: WARNING and up)",
        ),
    ] = LogLevel.INFO,
) -> None:
    """meditron: the MEDITRON pipeline as one command."""
    # for this invocation only: a program (or test) that runs several commands in one process keeps its own logging
    ctx.call_on_close(configure_logging(log_level.value))


def _load(config: Path | None, overrides: list[str] | None):
    from meditron.config import load_config

    return load_config(config, overrides or [])


def _with_trust(overrides: list[str] | None, key: str, trust: bool) -> list[str]:
    """``--set`` overrides plus ``key=true`` when ``--trust-checkpoint`` was given (the flag is a config key)."""
    return [*(overrides or []), *([f"{key}=true"] if trust else [])]


def _run_dir(cfg) -> RunDir:
    from meditron.run import RunDir

    return RunDir.from_config(cfg)


def _start_run(cfg, command: str) -> RunDir:
    """The config's run directory, with ``command`` recorded in its ``run.json`` before the stage runs."""
    run = _run_dir(cfg)
    run.start(cfg, command)
    return run


@corpus_app.command("run")
def corpus_run(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Run the corpus pipeline and write shards, `corpus_report.json` and the ledger.

    Example: `meditron corpus run --config configs/quickstart-cpu.yaml --set corpus.dedup.minhash.enabled=false`
    """
    cfg = _load(config, set_)
    from meditron.corpus.pipeline import run_corpus

    run_corpus(cfg, _start_run(cfg, "corpus"))


@corpus_app.command("mixtures")
def corpus_mixtures(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """(Re)build `<shards>/mixtures/<name>.json` for every `corpus.mixtures` entry over the shards a corpus run wrote.

    Reads only the shard manifest (no reading, filtering, dedup or decontamination again). `corpus run` builds them
    too; run this after editing `corpus.mixtures`. Example: `meditron corpus mixtures --config my.yaml`
    """
    cfg = _load(config, set_)
    from meditron.corpus.mixtures import rebuild_mixtures

    written = rebuild_mixtures(cfg, _run_dir(cfg))
    for name, path in written.items():
        print(f"{name}\t{path}")


@corpus_app.command("inspect")
def corpus_inspect(
    files: Annotated[list[Path], typer.Argument(help="Input files")],
    kind: Annotated[str, typer.Option(help="jats | medline | guideline")] = "jats",
    source: Annotated[str | None, typer.Option(help="Guideline source/site rules, e.g. cdc")] = None,
) -> None:
    """Print each document a reader makes of FILES as a JSON line; quarantined records go to stderr.

    Example: `meditron corpus inspect --kind medline ../shared/data/pubmed/medline/pubmed-29768149.xml`
    """
    from meditron.corpus.inspect import inspect_files

    raise typer.Exit(inspect_files(kind=kind, files=files, source=source))


download_app = typer.Typer(
    help="Download the corpus sources into the layouts `corpus run` reads, with a verified `manifest.json`: "
    "pubmed, pmc-oa, guidelines, hf. Resumable and polite; see docs/DATA.md.\n\n"
    "Example: `meditron corpus download pubmed --out data/pubmed --max-files 2`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
corpus_app.add_typer(download_app, name="download")
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created); holds manifest.json")]
WorkersOpt = Annotated[int, typer.Option(min=1, max=16, help="Parallel downloads (also the per-host connection cap)")]


def _csv(values: list[str] | None) -> list[str] | None:
    """Options given as comma lists and/or repeated: `--include a,b --include c` → [a, b, c]."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _finish_download(report, what: str) -> None:
    """Print the batch summary; exit 1 naming every file that failed (the verified ones stay on disk)."""
    console.print(f"{what}: {report.summary()}", markup=False, highlight=False, soft_wrap=True)
    if report.failed:
        for rel, result in sorted(report.failed.items()):
            console.print(f"failed: {rel}: {result.error}", style="bold red", markup=False, highlight=False,
                          soft_wrap=True)
        raise typer.Exit(1)


def _print_result(rel: str, result) -> None:
    if result.ok:
        console.print(f"{result.status}: {rel} ({result.size:,} bytes)", markup=False, highlight=False, soft_wrap=True)


@download_app.command("pubmed")
def download_pubmed_cmd(
    out: OutOpt,
    base_url: Annotated[str, typer.Option(help="Root holding baseline/ and updatefiles/ listings")] = "https://ftp.ncbi.nlm.nih.gov/pubmed/",
    include: Annotated[list[str] | None, typer.Option(help="Folders: baseline,updatefiles (default both)")] = None,
    max_files: Annotated[int | None, typer.Option(min=1, help="Stop after this many data files (a trial run)")] = None,
    workers: WorkersOpt = 2,
) -> None:
    """NLM's PubMed baseline + update files (pubmedYYnNNNN.xml.gz), each verified against its .md5 sidecar.

    Example: `meditron corpus download pubmed --out data/pubmed --include baseline --max-files 3`
    """
    from meditron.corpus.download.pubmed import PUBMED_DIRS, download_pubmed

    report = download_pubmed(out, base_url=base_url, include=_csv(include) or list(PUBMED_DIRS), max_files=max_files,
                             workers=workers, on_result=_print_result)
    _finish_download(report, "pubmed")


@download_app.command("pmc-oa")
def download_pmc_oa_cmd(
    out: OutOpt,
    base_url: Annotated[str, typer.Option(help="Root holding oa_comm/, oa_noncomm/, oa_other/")] = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk/",
    license_: Annotated[list[str] | None, typer.Option("--license", help="Licence groups: comm,noncomm,other (default comm)")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Packages: baseline,incremental (default both)")] = None,
    max_files: Annotated[int | None, typer.Option(min=1, help="Stop after this many packages (a trial run)")] = None,
    workers: WorkersOpt = 2,
    keep_retracted: Annotated[bool, typer.Option(help="Do not list retracted articles in excluded.json")] = False,
) -> None:
    """PMC Open Access bulk XML packages (.tar.gz + .filelist.csv) per licence group; retracted articles excluded.

    The packages stay as published; give `OUT/excluded.json` to the jats source as `exclude_ids_file`.
    Example: `meditron corpus download pmc-oa --out data/pmc --license comm --include baseline --max-files 1`
    """
    from meditron.corpus.download.pmc_oa import PACKAGE_KINDS, download_pmc_oa

    report = download_pmc_oa(out, base_url=base_url, licenses=_csv(license_) or ["comm"],
                             include=_csv(include) or list(PACKAGE_KINDS), max_files=max_files, workers=workers,
                             exclude_retracted=not keep_retracted, on_result=_print_result)
    console.print(f"jats source: {{kind: jats, paths: [{out}], exclude_ids_file: {out / 'excluded.json'}}}",
                  markup=False, highlight=False, soft_wrap=True)
    _finish_download(report, "pmc-oa")


@download_app.command("hf")
def download_hf_cmd(
    dataset: Annotated[str, typer.Option(help="Hub id (needs `datasets`) or a local parquet/JSON/JSONL file or folder")],
    out: OutOpt,
    split: Annotated[str, typer.Option(help="Split to read")] = "train",
    config: Annotated[str | None, typer.Option(help="Dataset configuration name (hub)")] = None,
    text_field: Annotated[str, typer.Option(help="Field holding the text (non-guideline rows)")] = "text",
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Replay sample: at most this many tokens")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="Local tokenizer counting tokens (default: whitespace words)")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the replay sample")] = 0,
    scan_rows: Annotated[int | None, typer.Option(min=1, help="Read at most this many rows of the stream")] = None,
) -> None:
    """Stream a Hugging Face dataset to JSONL for the `guideline_jsonl` / `jsonl` sources, or a seeded replay sample.

    Example: `meditron corpus download hf --dataset togethercomputer/RedPajama-Data-1T-Sample --out data/replay --max-tokens 400000000 --seed 1`
    """
    from meditron.corpus.download.hf import download_hf

    result, entry = download_hf(dataset, out, split=split, config=config, text_field=text_field, max_tokens=max_tokens,
                                tokenizer=tokenizer, seed=seed, scan_rows=scan_rows)
    console.print(f"hf: {entry['rows']:,} rows ({entry['tokens']:,} {entry['token_count']}) of {entry['rows_scanned']:,} "
                  f"read -> {result.path}", markup=False, highlight=False, soft_wrap=True)


@download_app.command("guidelines")
def download_guidelines_cmd(
    out: OutOpt,
    sources: Annotated[list[str] | None, typer.Option(help="Guideline sources (comma list), e.g. cdc,who; default all")] = None,
    base_url: Annotated[list[str] | None, typer.Option(help="NAME=URL: crawl a source from another root; NAME+pdf=URL: "
                                                        "its PDFs from another root (repeatable)")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Page budget per source")] = None,
    max_bytes: Annotated[int | None, typer.Option(min=1, help="Byte budget per source")] = None,
) -> None:
    """Crawl the open guideline sites (robots.txt obeyed, rate-limited, resumable) into guideline JSONL rows.

    Example: `meditron corpus download guidelines --sources cdc,who --out data/guidelines --max-pages 50`
    """
    base_urls: dict[str, str] = {}
    for item in base_url or []:
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise MeditronError(f"--base-url {item!r}: expected NAME=URL, e.g. cdc=http://127.0.0.1:8000/")
        base_urls[name.strip()] = url.strip()
    from meditron.corpus.download.guidelines import cli_download

    code = cli_download(sources=_csv(sources), base_urls=base_urls, out=out, max_pages=max_pages, max_bytes=max_bytes)
    raise typer.Exit(code or 0)


@app.command()
def pretrain(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    resume: ResumeOpt = False,
    trust_checkpoint: TrustOpt = False,
    mixture: Annotated[
        str | None,
        typer.Option(help="Train on this corpus.mixtures entry only (= --set train.mixture=NAME; docs/MIXTURES.md)"),
    ] = None,
) -> None:
    """Continue pretraining a causal LM on the corpus shards (single process or under torchrun).

    Example: `torchrun --nproc-per-node 2 -m meditron pretrain --config configs/quickstart-cpu.yaml --set train.steps=20`
    """
    set_ = [*(set_ or []), *([f"train.mixture={mixture}"] if mixture is not None else [])]
    cfg = _load(config, _with_trust(set_, "train.checkpoint.trust_unverified", trust_checkpoint))
    from meditron.train.pretrain import run_pretrain

    run_pretrain(cfg, _start_run(cfg, "pretrain"), resume=resume, downstream_eval=_downstream_eval(cfg))


def _downstream_eval(cfg):
    """``train.downstream_eval``'s evaluator builder (eval code handed to the trainer), or None when it is off."""
    if not cfg.train.downstream_eval.enabled:
        return None
    from meditron.eval.downstream import build_downstream_evaluator

    return build_downstream_evaluator(cfg.train.downstream_eval)


@app.command()
def finetune(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    resume: ResumeOpt = False,
    trust_checkpoint: TrustOpt = False,
) -> None:
    """Supervised finetuning on chat-formatted medical QA (answer-only loss), on the pretraining engine.

    Example: `meditron finetune --config configs/quickstart-cpu.yaml --set finetune.epochs=1`
    """
    cfg = _load(config, _with_trust(set_, "finetune.checkpoint.trust_unverified", trust_checkpoint))
    from meditron.train.sft import run_finetune

    run_finetune(cfg, _start_run(cfg, "finetune"), resume=resume)


class PlanStage(str, Enum):
    pretrain = "pretrain"
    finetune = "finetune"


@app.command()
def plan(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    nodes: Annotated[int, typer.Option(min=1, help="Nodes of the target cluster")] = 1,
    gpus_per_node: Annotated[int, typer.Option(min=1, help="GPUs per node")] = 8,
    gpu_memory_gb: Annotated[float | None, typer.Option(min=0, help="Per-GPU memory budget; over it the plan fails")] = None,
    mfu: Annotated[float, typer.Option(min=0.01, max=1.0, help="Model FLOPs utilisation (the paper's: 0.42)")] = 0.42,
    gpu_tflops: Annotated[float, typer.Option(min=1, help="Per-GPU dense bf16 peak (A100: 312)")] = 312.0,
    pp: Annotated[int | None, typer.Option(min=1, help="Pipeline-parallel degree; default: the config's parallel.pp")] = None,
    overhead_gb: Annotated[float, typer.Option(min=0, help="Per-GPU allowance for CUDA context, NCCL buffers")] = 3.0,
    stage: Annotated[PlanStage, typer.Option(help="Which section's batch and parallel settings")] = PlanStage.pretrain,
    json_: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Per-GPU memory, communication, FLOPs and time of a training config on a cluster, without GPUs: the model on
    the meta device, the real parallelize() on a fake process group. Fails with the nearest layout that fits.

    Example: `meditron plan -c configs/meditron-70b.yaml --nodes 16 --gpus-per-node 8 --gpu-memory-gb 80`
    """
    cfg = _load(config, set_)
    from meditron.train.plan import Cluster, make_plan
    from meditron.train.plan.report import plan_json, print_plan

    cluster = Cluster(nodes=nodes, gpus_per_node=gpus_per_node, gpu_memory_gb=gpu_memory_gb, gpu_tflops=gpu_tflops,
                      mfu=mfu, overhead_gb=overhead_gb)
    result = make_plan(cfg, cluster, stage=stage.value, pp=pp)
    if json_:
        typer.echo(plan_json(result))
    else:
        print_plan(result, Console())


@eval_app.callback(invoke_without_command=True)
def eval_(
    ctx: typer.Context,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    model: Annotated[str | None, typer.Option(help="HF model directory (or model name for --backend openai)")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Folder holding the official benchmark files")] = None,
    benchmarks: Annotated[
        list[str] | None,
        typer.Option(help="Comma list (or repeat): medqa4,medqa5,medmcqa,pubmedqa,mmlu_medical,truthfulqa_med,truthfulqa"),
    ] = None,
    modes: Annotated[
        list[str] | None, typer.Option(help="Comma list (or repeat): top_token,top_token_options,cot,sc_cot,chat")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder for results.json and reports")] = None,
    limit: Annotated[
        int | None, typer.Option(help="A seeded random sample of N items per benchmark, stratified by label/subject")
    ] = None,
    sample_seed: Annotated[int | None, typer.Option(help="Seed of the --limit sample (default 1234)")] = None,
    max_context: Annotated[
        int | None, typer.Option(help="Prompt budget in tokens (default: the model's max_position_embeddings)")
    ] = None,
    backend: Annotated[str | None, typer.Option(help="meditron | hf | vllm | openai")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint for --backend openai")] = None,
    num_fewshot: Annotated[int | None, typer.Option(help="Shots for top_token mode")] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="A run folder: score each saved pretraining checkpoint (top_token) into the paper's "
                     "Table 6 layout, <run>/eval/checkpoints.{json,md}"),
    ] = None,
) -> None:
    """Evaluate a model on MedQA, MedMCQA, PubMedQA and MMLU-Medical in the paper's modes.

    Example: `meditron eval --model runs/quickstart/hf --data-dir ../shared/data/benchmarks --benchmarks medqa4 --modes top_token --limit 50 --out runs/eval`

    Compare evaluated models: `meditron eval compare RUN_OR_RESULTS...` (see `meditron eval compare --help`).
    """
    if _eval_subcommand_invoked(
        ctx,
        config, set_, model, data_dir, benchmarks, modes, out, limit, backend, base_url, num_fewshot, checkpoints
    ):
        return
    extra = list(set_ or [])
    for key, value in (
        ("model", model),
        ("data_dir", data_dir),
        ("out", out),
        ("limit", limit),
        ("sample_seed", sample_seed),
        ("max_context", max_context),
        ("backend", backend),
        ("base_url", base_url),
        ("num_fewshot", num_fewshot),
    ):
        if value is not None:
            extra.append(f"eval.{key}={value}")
    if benchmarks:  # `--benchmarks a,b --benchmarks c` means all three (typer alone would keep the last)
        extra.append(f"eval.benchmarks=[{','.join(benchmarks)}]")
    if modes:
        extra.append(f"eval.modes=[{','.join(modes)}]")
    cfg = _load(config, extra)
    if checkpoints is not None:
        from meditron.eval.checkpoints import run_checkpoint_evals
        from meditron.run import RunDir

        run_checkpoint_evals(cfg.eval, RunDir(checkpoints))
        return
    from meditron.eval.run import run_eval

    run = _run_dir(cfg) if config is not None else None
    if run is not None:
        run.start(cfg, "eval")
    run_eval(cfg.eval, run=run)


def _eval_subcommand_invoked(ctx: typer.Context, *options) -> bool:
    """True when `meditron eval <subcommand>` runs: the evaluation options then belong to no one, so refuse them."""
    if ctx.invoked_subcommand is None:
        return False
    if any(o is not None for o in options):
        raise typer.BadParameter("evaluation options go with `meditron eval`, not with its subcommands")
    return True


@eval_app.command("compare")
def eval_compare(
    results: Annotated[
        list[Path], typer.Argument(metavar="RUN_OR_RESULTS...", help="Run folders (holding eval/results.json), eval output folders or results.json files")
    ],
    out: Annotated[Path | None, typer.Option(help="Also write compare.json, compare.md and compare.png here")] = None,
    bootstrap: Annotated[int, typer.Option(min=100, help="Paired bootstrap resamples")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed")] = 20231127,
) -> None:
    """Side-by-side accuracies of several evaluated models (benchmarks × models, per mode), and for each pair the
    paired bootstrap 95% interval of the difference and McNemar's exact p-value on the items both evaluated.

    Example: `meditron eval compare runs/a runs/b/eval runs/c/eval/results.json --out runs/compare`
    """
    from meditron.eval.compare import compare, tables, write_outputs

    doc = compare(results, bootstrap=bootstrap, seed=seed)
    stdout = Console()
    for renderable in tables(doc):
        stdout.print(renderable)
    if out is not None:
        for p in write_outputs(doc, out):
            console.print(f"wrote {p}")


def _default_export_source(run: RunDir) -> Path:
    """The run's newest model: the finetuned one if the run has it, else the pretrained one (HF dir, else latest DCP)."""
    from meditron.run import TRAINING_STAGES

    for stage in reversed(TRAINING_STAGES):
        for candidate in (run.stage_hf(stage), run.stage_dir(stage)):
            if candidate.exists():
                return candidate
    return run.stage_dir(TRAINING_STAGES[0])


@app.command()
def export(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="Checkpoint directory (or a checkpoints folder: latest is used). With --config, default: the "
            "run's finetuned model, else its pretrained one"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output directory; with --config, default: export.out, else <run>/hf or <run>/gguf")
    ] = None,
    format: Annotated[str | None, typer.Option(help="hf | gguf (default: export.format, else hf)")] = None,
    gguf_type: Annotated[
        list[str] | None, typer.Option("--gguf-type", help="GGUF type to write, repeatable: f16, q8_0, f32")
    ] = None,
    trust_checkpoint: TrustOpt = False,
) -> None:
    """Write a consolidated Hugging Face directory (safetensors, tokenizer, model card) or GGUF files.

    Example: `meditron export --checkpoint runs/quickstart/checkpoints/pretrain --out runs/quickstart/hf`, or
    `meditron export --config run.yaml --set export.format=gguf` (the run's `export:` section and directories).
    """
    from meditron.serve.config import ExportConfig
    from meditron.serve.export import run_export

    section = ExportConfig()
    if config is not None or set_:
        cfg = _load(config, set_)
        section = cfg.export
        run = _run_dir(cfg)
        checkpoint = checkpoint or _default_export_source(run)
        out = out or section.out or (run.hf if (format or section.format) == "hf" else run.gguf)
    if checkpoint is None or out is None:
        raise typer.BadParameter("pass --checkpoint and --out, or --config to take them from a run")
    from meditron.serve.export import export_summary
    from meditron.train.checkpoint import trusting_unverified_checkpoints

    with trusting_unverified_checkpoints(trust_checkpoint):
        written = run_export(
            checkpoint=checkpoint, out=out, fmt=format or section.format, gguf_types=gguf_type or section.gguf_types
        )
    typer.echo(export_summary(written))


@app.command()
def serve(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    model: Annotated[str | None, typer.Option(help="Exported HF model directory")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="MEDITRON_API_KEY", help="Required when binding beyond loopback")] = None,
    trust_checkpoint: TrustOpt = False,
) -> None:
    """Serve an exported model over an OpenAI-compatible API with a chat page at `/`.

    Example: `meditron serve --model runs/quickstart/hf --port 8000`
    """
    extra = _with_trust(set_, "serve.trust_unverified", trust_checkpoint)
    for key, value in (("model", model), ("host", host), ("port", port), ("api_key", api_key)):
        if value is not None:
            extra.append(f"serve.{key}={value}")
    cfg = _load(config, extra)
    from meditron.serve.server import run_server

    run_server(cfg.serve)


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option(help="Run directory to create")] = Path("runs/quickstart"),
    set_: SetOpt = None,
    small: Annotated[bool, typer.Option(help="Smallest budget (used by the tests)")] = False,
) -> None:
    """Run every stage on the embedded sample with a tiny Llama: corpus → pretrain → finetune → eval → export.

    Example: `meditron quickstart --out runs/quickstart`
    """
    from meditron.quickstart import run_quickstart

    run_quickstart(out=out, overrides=list(set_ or []), small=small)


def main() -> None:
    try:
        app()
    except MeditronError as e:
        console.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)  # one line, unwrapped
        sys.exit(2)


if __name__ == "__main__":
    main()
