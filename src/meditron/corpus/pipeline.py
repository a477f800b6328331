"""The ``meditron corpus run`` stage: readers → gate → length/quality → language → PHI → decontamination → dedup →
abstract/full-text rule → split → token shards → replay selection → report, as datatrove pipelines.

Six datatrove stages, each run by the configured executor (local, Slurm or Ray) with completion markers, so a rerun
after a crash skips finished tasks and redoes the others from their start (their output files are rewritten, never
appended to); every stage is deterministic, hence a resumed run produces the same bytes as an uninterrupted one.

1. ``filter`` (N tasks): readers, gate, filters, PHI scrubber, decontamination, dedup signatures → filtered JSONL
2. ``dedup-buckets`` (one task per bucket): datatrove ``MinhashDedupBuckets`` → duplicate pairs
3. ``dedup-clusters`` (1 task): clusters, earliest member kept
4. ``shards`` (N tasks, task *r* reads what task *r* of stage 1 wrote): dedup filter, abstract/full-text rule, split,
   tokenization into ``<shards>/<split>/<source>/<rank>.ds``
5. ``replay`` (1 task): replay candidates sampled to the target token share
6. ``finalize`` (1 task): manifest, merged ledger, contamination index, ``corpus_report.json``/``.md``

Intermediate files live in ``<corpus>/work/<config hash>/``: a changed config starts afresh, an unchanged one resumes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from meditron.config import RunConfig
from meditron.corpus.config import CorpusConfig, ExecutorConfig, ReadLimitsConfig, SourceConfig
from meditron.errors import ConfigError
from meditron.run import RunDir

#: Bump when a change in the pipeline code changes its output, so old intermediate files are not reused.
PIPELINE_VERSION = "2"  # 2: documents start with BOS when the tokenizer adds one
REPORT = "corpus_report.json"


@dataclass(frozen=True)
class CorpusPaths:
    """Where everything goes: ``out`` (report, ledger), ``shards`` and the per-config ``work`` folder."""

    out: Path
    shards: Path
    work: Path

    @property
    def ledger_parts(self) -> Path:
        return self.work / "ledger"

    @property
    def ledger(self) -> Path:
        return self.out / "ledger.jsonl"

    @property
    def report(self) -> Path:
        return self.out / REPORT

    @property
    def contamination_index(self) -> Path:
        return self.out / "contamination_index.json"

    def counts(self, step: str) -> Path:
        return self.work / "counts" / step

    def logs(self, stage: str) -> Path:
        return self.work / "logs" / stage

    @property
    def filtered(self) -> Path:
        return self.work / "filtered"

    @property
    def sigs(self) -> Path:
        return self.work / "dedup" / "sigs"

    @property
    def dups(self) -> Path:
        return self.work / "dedup" / "dups"

    @property
    def clusters(self) -> Path:
        return self.work / "dedup" / "clusters"

    @property
    def pmids(self) -> Path:
        return self.work / "pmids"

    @property
    def decont_hits(self) -> Path:
        return self.work / "decont_hits"

    @property
    def decont_index(self) -> Path:
        return self.work / "decont_index.json"

    @property
    def replay_candidates(self) -> Path:
        return self.work / "replay_candidates"


def _file_stats(path: str | Path) -> list[list[Any]]:
    """[path, size, mtime] of a file, or of every file under a folder (sorted); nothing for a missing path."""
    root = Path(path)
    files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root] if root.is_file() else []
    return [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def config_fingerprint(corpus: CorpusConfig, seed: int, inputs: list[str]) -> str:
    """Hash of everything that changes the output: the config (not the executor kind or worker count), the seed,
    the task count, and the files it reads — inputs, the decontamination benchmarks and the tokenizer — by path, size
    and modification time (a file replaced in place gives a new work directory, not a stale resume)."""
    data: dict[str, Any] = corpus.model_dump(mode="json", exclude={"executor", "output_dir", "shards_dir"})
    stats = [row for f in inputs for row in _file_stats(f)]
    d = corpus.decontamination
    read = {
        "benchmarks": _file_stats(d.benchmarks_dir) if d.enabled and d.benchmarks_dir else [],
        "tokenizer": _file_stats(corpus.tokenizer) if corpus.tokenizer else [],
    }
    data.update(seed=seed, tasks=corpus.executor.tasks, version=PIPELINE_VERSION, inputs=stats, read=read)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def corpus_paths(cfg: RunConfig, run: RunDir, inputs: list[str]) -> CorpusPaths:
    c = cfg.corpus
    out = Path(c.output_dir) if c.output_dir else run.corpus
    shards = Path(c.shards_dir) if c.shards_dir else run.shards
    return CorpusPaths(out, shards, out / "work" / config_fingerprint(c, cfg.seed, inputs))


def input_files(readers: list[PipelineStep]) -> list[str]:
    return sorted({str(f) for r in readers for f in getattr(r, "files", [])})


def _validation_shares(sources: list[SourceConfig]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for s in sources:
        if s.name in shares and shares[s.name] != s.validation_share:
            raise ConfigError(
                f"corpus.sources: source {s.name!r} appears twice with validation_share {shares[s.name]} and "
                f"{s.validation_share}; give them the same value"
            )
        shares[s.name] = s.validation_share
    return shares


def _replay_sources(sources: list[SourceConfig]) -> list[str]:
    replay = {s.name for s in sources if s.replay}
    mixed = replay & {s.name for s in sources if not s.replay}
    if mixed:
        raise ConfigError(f"corpus.sources: {sorted(mixed)} are marked replay in one entry and not in another")
    return sorted(replay)


def build_source_reader(source: SourceConfig, limits: ReadLimitsConfig | None = None) -> PipelineStep:
    """Replay kinds (jsonl, parquet) are read here; the medical kinds by ``meditron.corpus.readers``.
    ``limits``: ``corpus.limits``, the decompressed-size caps every reader streams under."""
    if source.kind == "jsonl":
        from meditron.corpus.mixing.readers import ReplayJsonlReader

        return ReplayJsonlReader(source.paths, source.name, limits=limits)
    if source.kind == "parquet":
        from meditron.corpus.mixing.readers import ReplayParquetReader

        return ReplayParquetReader(source.paths, source.name, limits=limits)
    from meditron.corpus.readers import build_reader

    return build_reader(source, limits=limits)


@dataclass(frozen=True)
class ShardTokenization:
    """The tokenizer saved with the shards and the special tokens around each document (None: not added)."""

    tokenizer_json: Path
    bos_token: str | None
    eos_token: str | None
    vocab_size: int
    token_size: int
    record: dict[str, Any]  # the manifest's ``tokenization`` entry


def _document_boundaries(c: CorpusConfig, tok) -> tuple[bool, bool]:
    """(BOS first, EOS last) for each document from ``corpus.tokenization``; ``auto`` follows the tokenizer."""
    from meditron.tokenizer import adds_special_tokens

    t = c.tokenization
    adds_bos, _ = adds_special_tokens(tok)
    bos = adds_bos if t.bos == "auto" else t.bos
    eos = tok.eos_token_id is not None if t.eos == "auto" else t.eos
    for key, wanted, token in (("bos", bos, tok.bos_token), ("eos", eos, tok.eos_token)):
        if wanted and token is None:
            raise ConfigError(
                f"corpus.tokenization.{key} is true but corpus.tokenizer {c.tokenizer!r} has no {key.upper()} token; "
                f"set corpus.tokenization.{key}=auto or false"
            )
    if not bos and not eos:
        raise ConfigError(
            f"corpus.tokenizer {c.tokenizer!r} with corpus.tokenization bos={t.bos}, eos={t.eos} puts no token between "
            "documents, so they would run into each other: use a tokenizer with an EOS token or set "
            "corpus.tokenization.eos=true"
        )
    return bos, eos


def prepare_tokenizer(c: CorpusConfig, shards: Path) -> ShardTokenization:
    """Load the configured tokenizer, add MEDITRON's special tokens, save it with the shards, and decide the
    document boundaries (``corpus.tokenization``) recorded in the manifest for the pretraining stage's check."""
    from meditron.tokenizer import add_special_tokens, describe_tokenizer, load_tokenizer, save_tokenizer

    if not c.tokenizer:
        raise ConfigError("corpus.tokenizer is not set: give a local tokenizer dir, tokenizer.json or .model file")
    tok = load_tokenizer(Path(c.tokenizer))
    add_special_tokens(tok)
    bos, eos = _document_boundaries(c, tok)
    path = save_tokenizer(tok, shards / "tokenizer")
    identity = describe_tokenizer(tok)
    record = {
        "source": c.tokenizer,
        **identity.to_dict(),
        "bos": bos,
        "eos": eos,
        "bos_setting": c.tokenization.bos,
        "eos_setting": c.tokenization.eos,
    }
    vocab = len(tok)
    return ShardTokenization(
        tokenizer_json=path,
        bos_token=tok.bos_token if bos else None,
        eos_token=tok.eos_token if eos else None,
        vocab_size=vocab,
        token_size=2 if vocab <= 65536 else 4,
        record=record,
    )


def _reset_stale_shards(paths: CorpusPaths) -> None:
    """Shards written under another config (other work folder) are removed before this config writes its own."""
    marker = paths.shards / ".corpus_work"
    current = paths.work.name  # the config fingerprint
    if marker.exists() and marker.read_text(encoding="utf-8") == current:
        return
    for name in ("train", "validation", "manifest.json"):
        target = paths.shards / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    paths.shards.mkdir(parents=True, exist_ok=True)
    marker.write_text(current, encoding="utf-8")


def build_stages(
    cfg: RunConfig, run: RunDir, paths: CorpusPaths, readers: list[PipelineStep]
) -> list[tuple[str, list[PipelineStep], int]]:
    """The datatrove pipelines of the corpus stage, as (name, steps, tasks)."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

    from meditron.corpus.decont import DecontFilter, build_benchmark_index
    from meditron.corpus.dedup import DedupCluster, DedupFilter, DedupSignature, dedup_minhash_config
    from meditron.corpus.filters import AbstractFullTextFilter, LanguageIdFilter, LedgerGate, QualityFilter
    from meditron.corpus.filters.fulltext import PaperPmidCollector
    from meditron.corpus.mixing import ReplaySelector, SplitAssigner
    from meditron.corpus.phi import PhiScrubber
    from meditron.corpus.report import CorpusFinalizer
    from meditron.corpus.writers import IntermediateReader, IntermediateWriter, ShardWriter

    c = cfg.corpus
    tasks = c.executor.tasks
    ledger = str(paths.ledger_parts)
    shares = _validation_shares(c.sources)
    replay = _replay_sources(c.sources)
    tokenization = prepare_tokenizer(c, paths.shards)
    token_size = tokenization.token_size

    filter_steps: list[PipelineStep] = [*readers, LedgerGate(ledger, paths.counts("gate"))]
    # length/quality first: cheap, and language identification is unreliable on very short texts
    if c.quality.enabled:
        filter_steps.append(QualityFilter(ledger, **c.quality.model_dump(exclude={"enabled"})))
    if c.language.enabled:
        lang = c.language
        filter_steps.append(
            LanguageIdFilter(ledger, lang.languages, lang.min_score, lang.max_chars, lang.backend,
                             lang.fasttext_model_path)
        )
    if c.phi.enabled:
        filter_steps.append(PhiScrubber(paths.counts("phi"), list(c.phi.types)))
    index_summary: dict[str, Any] = {"enabled": False}
    if c.decontamination.enabled and c.decontamination.benchmarks_dir:
        d = c.decontamination
        if not Path(d.benchmarks_dir).is_dir():
            raise ConfigError(f"corpus.decontamination.benchmarks_dir {d.benchmarks_dir!r} is not a folder")
        index = build_benchmark_index(d.benchmarks_dir, list(d.benchmarks), d.ngram, d.min_item_words)
        index_summary = {
            "enabled": True,
            "action": d.action,
            **index.summary,
            "item_benchmarks": dict(zip(index.item_ids, index.item_benchmarks, strict=False)),
        }
        filter_steps.append(DecontFilter(ledger, index, paths.decont_hits, d.action))
    elif c.decontamination.enabled:
        index_summary["skipped"] = "corpus.decontamination.benchmarks_dir is not set"
    paths.work.mkdir(parents=True, exist_ok=True)
    paths.decont_index.write_text(json.dumps(index_summary, sort_keys=True), encoding="utf-8")
    filter_steps.append(PaperPmidCollector(paths.pmids))
    dedup = c.dedup.exact or c.dedup.minhash.enabled
    mh = c.dedup.minhash
    mh_config = dedup_minhash_config(mh.n_grams, mh.num_buckets, mh.hashes_per_bucket, cfg.seed, mh.enabled,
                                     c.dedup.exact)
    if dedup:
        filter_steps.append(DedupSignature(paths.sigs, mh_config, mh.enabled, c.dedup.exact))
    filter_steps.append(IntermediateWriter(paths.filtered))

    stages: list[tuple[str, list[PipelineStep], int]] = [("filter", filter_steps, tasks)]
    if dedup:
        stages.append(
            ("dedup-buckets", [MinhashDedupBuckets(str(paths.sigs), str(paths.dups), config=mh_config)],
             mh_config.num_buckets)
        )
        stages.append(("dedup-clusters", [DedupCluster(paths.dups, paths.sigs, paths.clusters)], 1))
    shard_steps: list[PipelineStep] = [IntermediateReader(paths.filtered)]
    if dedup:
        shard_steps.append(DedupFilter(ledger, paths.clusters))
    shard_steps += [
        AbstractFullTextFilter(ledger, paths.pmids),
        SplitAssigner(shares),
        ShardWriter(paths.shards, tokenization.tokenizer_json, ledger, paths.counts("shards"), paths.replay_candidates,
                    replay, batch_size=c.batch_size, bos_token=tokenization.bos_token,
                    eos_token=tokenization.eos_token),
    ]
    stages.append(("shards", shard_steps, tasks))
    stages.append(
        ("replay", [ReplaySelector(c.replay_share, cfg.seed, paths.counts("shards"), paths.replay_candidates,
                                   paths.shards, token_size, ledger, paths.counts("replay"))], 1)
    )
    meta = {"eos_id": tokenization.record["eos_id"], "vocab_size": tokenization.vocab_size, "token_size": token_size,
            "tokenization": tokenization.record, "seed": cfg.seed,
            "weights": {s.name: s.weight for s in c.sources}, "replay_sources": replay,
            "config": c.model_dump(mode="json")}
    stages.append(("finalize", [CorpusFinalizer(paths, run, meta, input_files(readers))], 1))
    return stages


def _executor(kind: ExecutorConfig, steps: list[PipelineStep], tasks: int, logs: Path, name: str, depends=None):
    workers = max(1, min(kind.workers, tasks))
    if kind.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=str(logs), skip_completed=True)
    if kind.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        if not kind.slurm_partition:
            raise ConfigError("corpus.executor.slurm_partition is required when corpus.executor.kind=slurm")
        return SlurmPipelineExecutor(
            steps, tasks=tasks, workers=workers if workers > 1 else -1, time=kind.slurm_time,
            partition=kind.slurm_partition, cpus_per_task=kind.slurm_cpus_per_task,
            mem_per_cpu_gb=kind.slurm_mem_per_cpu_gb, job_name=f"meditron-corpus-{name}", logging_dir=str(logs),
            depends=depends, skip_completed=True,
        )
    try:
        import ray
        from datatrove.executor.ray import RayPipelineExecutor
    except ImportError:
        raise ConfigError("corpus.executor.kind=ray needs `pip install 'meditron[ray]'`") from None
    if not ray.is_initialized():
        ray.init(address=kind.ray_address, include_dashboard=False, log_to_driver=False)
    return RayPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=str(logs), depends=depends,
                               skip_completed=True, cpus_per_task=1, mem_per_cpu_gb=kind.slurm_mem_per_cpu_gb)


def run_corpus(cfg: RunConfig, run: RunDir) -> dict[str, Any]:
    """Run the corpus stage; returns the report (for Slurm, the submission summary: the report comes later)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not cfg.corpus.sources:
        raise ConfigError("corpus.sources is empty: list at least one source (name, kind, paths)")
    readers = [build_source_reader(s, cfg.corpus.limits) for s in cfg.corpus.sources]
    paths = corpus_paths(cfg, run, input_files(readers))
    paths.out.mkdir(parents=True, exist_ok=True)
    _reset_stale_shards(paths)
    stages = build_stages(cfg, run, paths, readers)
    kind = cfg.corpus.executor
    if kind.kind == "slurm":  # submitted as a chain of dependent job arrays; the last one writes the report
        previous = None
        for name, steps, tasks in stages:
            previous = _executor(kind, steps, tasks, paths.logs(name), name, depends=previous)
        previous.run()
        return {"submitted": "slurm", "stages": [s[0] for s in stages], "report": str(paths.report)}
    columns = (TextColumn("corpus: {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as progress:
        bar = progress.add_task("starting", total=len(stages))
        for name, steps, tasks in stages:  # local and Ray: one stage after the other, each blocking
            progress.update(bar, description=f"{name} ({tasks} task{'s' if tasks > 1 else ''})")
            _executor(kind, steps, tasks, paths.logs(name), name).run()
            progress.advance(bar)
        progress.update(bar, description="done")
    return json.loads(paths.report.read_text(encoding="utf-8"))
