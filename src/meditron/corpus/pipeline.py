"""The ``meditron corpus run`` stage: readers → gate → length/quality → language → PHI → decontamination → dedup →
abstract/full-text rule → split → token shards → replay selection → report, as datatrove pipelines.

Seven datatrove stages, each run by the configured executor (local, Slurm or Ray) with completion markers, so a rerun
after a crash skips finished tasks and redoes the others from their start (their output files are rewritten, never
appended to); every stage is deterministic, hence a resumed run produces the same bytes as an uninterrupted one.

0. ``prepare`` (1 task): the tokenizer saved with the shards and its document framing; the benchmark n-gram index
1. ``filter`` (N tasks): readers, gate, filters, PHI scrubber, decontamination, dedup signatures → filtered JSONL
2. ``dedup-buckets`` (one task per bucket): datatrove ``MinhashDedupBuckets`` → duplicate pairs
3. ``dedup-clusters`` (1 task): clusters, earliest member kept
4. ``shards`` (N tasks, task *r* reads what task *r* of stage 1 wrote): dedup filter, abstract/full-text rule, split,
   tokenization into ``<shards>/<split>/<source>/<rank>.ds``
5. ``replay`` (1 task): replay candidates sampled to the target token share
6. ``finalize`` (1 task): manifest, merged ledger, contamination index, ``corpus_report.json``/``.md``
7. ``mixtures`` (1 task, re-run every time; only with ``corpus.mixtures``): ``<shards>/mixtures/<name>.json`` each

``build_stages`` only assembles steps (each config section builds its own, ``corpus.config``); every file is read
or written by the steps when they run. Intermediate files live in ``<corpus>/work/<config hash>/``
(``corpus.paths``): a changed config starts afresh, an unchanged one resumes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from meditron.config import RunConfig
from meditron.corpus.config import CorpusConfig, SourceConfig
from meditron.corpus.paths import CorpusPaths
from meditron.corpus.tokenization import check_tokenization
from meditron.errors import ConfigError
from meditron.run import RunDir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One datatrove pipeline of the corpus stage: its steps, run as ``tasks`` tasks."""

    name: str
    steps: list[PipelineStep]
    tasks: int


def input_files(readers: list[PipelineStep]) -> list[str]:
    return sorted({str(f) for r in readers for f in getattr(r, "files", [])})


def corpus_paths(cfg: RunConfig, run: RunDir, inputs: list[str]) -> CorpusPaths:
    return CorpusPaths.for_run(cfg.corpus, cfg.seed, run.corpus, run.shards, inputs)


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


def check_corpus(c: CorpusConfig) -> None:
    """Settings the stages would trip over only once running (perhaps hours later on a cluster): checked first."""
    if not c.sources:
        raise ConfigError("corpus.sources is empty: list at least one source (name, kind, paths)")
    if not c.tokenizer:
        raise ConfigError("corpus.tokenizer is not set: give a local tokenizer dir, tokenizer.json or .model file")
    d = c.decontamination
    if d.active and not Path(d.benchmarks_dir).is_dir():
        raise ConfigError(f"corpus.decontamination.benchmarks_dir {d.benchmarks_dir!r} is not a folder")
    _validation_shares(c.sources)
    _replay_sources(c.sources)
    if c.upsampling.enabled:
        c.upsampling.check(c.sources)
    check_tokenization(c.tokenizer, c.tokenization, c.markup.special_tokens)


def _filter_steps(c: CorpusConfig, paths: CorpusPaths, readers: list[PipelineStep], seed: int) -> list[PipelineStep]:
    from meditron.corpus.filters import LedgerGate
    from meditron.corpus.filters.fulltext import PaperPmidCollector
    from meditron.corpus.writers import IntermediateWriter

    steps: list[PipelineStep] = [*readers]
    if c.upsampling.enabled:  # before the gate: title-only MEDLINE records still lend their terms to full texts
        steps.append(c.upsampling.build_collector(paths=paths))
    steps.append(LedgerGate(ledger_dir=paths.ledger_parts, counts_dir=paths.counts("gate")))
    # length/quality first: cheap, and language identification is unreliable on very short texts
    optional = [(c.quality.enabled, c.quality), (c.language.enabled, c.language), (c.phi.enabled, c.phi),
                (c.decontamination.active, c.decontamination)]
    steps += [section.build(paths=paths) for enabled, section in optional if enabled]
    steps.append(PaperPmidCollector(folder=paths.pmids))
    if c.dedup.enabled:
        steps.append(c.dedup.build_signature(paths=paths, seed=seed))
    steps.append(IntermediateWriter(folder=paths.filtered))
    return steps


def _shard_steps(c: CorpusConfig, paths: CorpusPaths, seed: int) -> list[PipelineStep]:
    from meditron.corpus.filters import AbstractFullTextFilter
    from meditron.corpus.mixing import SplitAssigner
    from meditron.corpus.writers import IntermediateReader, ShardWriter

    ledger = str(paths.ledger_parts)
    steps: list[PipelineStep] = [IntermediateReader(folder=paths.filtered)]
    if c.dedup.enabled:
        steps.append(c.dedup.build_filter(paths=paths))
    steps += [AbstractFullTextFilter(ledger_dir=ledger, pmids_folder=paths.pmids),
              SplitAssigner(validation_shares=_validation_shares(c.sources))]
    if c.upsampling.enabled:  # after the split (copies stay in their split), before the writer that makes them
        steps.append(c.upsampling.build(paths=paths, seed=seed))
    return [
        *steps,
        ShardWriter(shards_dir=paths.shards, tokenization=paths.tokenization, ledger_dir=ledger,
                    counts_dir=paths.counts("shards"), replay_dir=paths.replay_candidates,
                    replay_sources=_replay_sources(c.sources), batch_size=c.batch_size),
    ]


def _medline_prescans(paths: CorpusPaths, readers: list[PipelineStep]) -> tuple[list[PipelineStep], list[PipelineStep]]:
    """Per MEDLINE source: the per-file scans (the ``medline-scan`` stage, files split over its tasks) and the merge
    into the index (in ``prepare``); the source's reader then loads the index instead of re-scanning."""
    from meditron.corpus.readers.medline import MedlineReader
    from meditron.corpus.readers.medline_prescan import MedlineEventScanner, MedlineIndexWriter

    medline = [(i, r) for i, r in enumerate(readers) if isinstance(r, MedlineReader)]
    scans = [MedlineEventScanner(r, paths.medline_events(i)) for i, r in medline]
    merges = [MedlineIndexWriter(r, paths.medline_index(i), paths.medline_events(i)) for i, r in medline]
    return scans, merges


def build_stages(cfg: RunConfig, run: RunDir, paths: CorpusPaths, readers: list[PipelineStep]) -> list[Stage]:
    """The datatrove pipelines of the corpus stage, in order (no file is touched here)."""
    from meditron.corpus.mixing import ReplaySelector
    from meditron.corpus.mixtures.step import MixtureWriter
    from meditron.corpus.report import CorpusFinalizer
    from meditron.corpus.report.writer import RunFacts

    c, tasks = cfg.corpus, cfg.corpus.executor.tasks
    scans, merges = _medline_prescans(paths, readers)
    prepare = [c.tokenization.build(source=c.tokenizer, paths=paths, markers=c.markup.special_tokens),
               c.decontamination.build_index(paths=paths), *merges]
    stages = [Stage("medline-scan", scans, tasks)] if scans else []
    stages += [Stage("prepare", prepare, 1), Stage("filter", _filter_steps(c, paths, readers, cfg.seed), tasks)]
    if c.dedup.enabled:
        stages += [
            Stage("dedup-buckets", [c.dedup.build_buckets(paths=paths, seed=cfg.seed)],
                  c.dedup.minhash_config(cfg.seed).num_buckets),
            Stage("dedup-clusters", [c.dedup.build_clusters(paths=paths)], 1),
        ]
    replay = ReplaySelector(share=c.replay_share, seed=cfg.seed, shard_counts_dir=paths.counts("shards"),
                            candidates_dir=paths.replay_candidates, shards_dir=paths.shards,
                            token_size=paths.tokenization, ledger_dir=str(paths.ledger_parts),
                            counts_dir=paths.counts("replay"))
    facts = RunFacts(seed=cfg.seed, weights={s.name: s.weight for s in c.sources},
                     replay_sources=_replay_sources(c.sources), config=c.model_dump(mode="json"),
                     inputs=input_files(readers))
    return [
        *stages,
        Stage("shards", _shard_steps(c, paths, cfg.seed), tasks),
        Stage("replay", [replay], 1),
        Stage("finalize", [CorpusFinalizer(paths=paths, run=run, facts=facts)], 1),
        *([Stage("mixtures", [MixtureWriter(shards_dir=paths.shards, mixtures=c.mixtures)], 1)] if c.mixtures else []),
    ]


#: The variable the Rust thread pool of HF ``tokenizers`` reads for its size (rayon).
RAYON_THREADS = "RAYON_NUM_THREADS"


def _reset_stale_shards(paths: CorpusPaths) -> None:
    """Shards written under another config (other work folder) are removed before this config writes its own."""
    marker = paths.shards_marker
    current = paths.work.name  # the config fingerprint
    if marker.exists() and marker.read_text(encoding="utf-8") == current:
        return
    for target in (paths.shards / "train", paths.shards / "validation", paths.manifest, paths.shards / "mixtures"):
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    paths.shards.mkdir(parents=True, exist_ok=True)
    marker.write_text(current, encoding="utf-8")


@contextlib.contextmanager
def _tokenizer_threads_per_worker(workers: int) -> Iterator[None]:
    """With ``workers`` local processes, each tokenizer (HF ``tokenizers``' Rust thread pool, which otherwise starts
    one thread per core in *every* worker) gets ``cores // workers`` threads: no oversubscription. The worker pool
    inherits the variable (datatrove's pool forks from a forkserver that copies the environment when the process
    starts its first pool: a fresh ``meditron corpus run`` always does); it is restored afterwards. A
    ``RAYON_NUM_THREADS`` the user set is left alone."""
    if workers <= 1 or RAYON_THREADS in os.environ:
        yield
        return
    os.environ[RAYON_THREADS] = str(max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                            else os.cpu_count() or 1) // workers))
    try:
        yield
    finally:
        os.environ.pop(RAYON_THREADS, None)


def _preload_in_the_worker_pool(stages: list[Stage]) -> list[str]:
    """Have the forkserver of datatrove's local pool import the modules of every step before it forks a worker.

    Each stage starts a new pool; without this, every worker of every stage imports the steps' modules (datatrove,
    numpy, the tokenizer, the filters) while unpickling its first task. The forkserver imports them once and the workers
    fork with them loaded. Only effective before this process's first pool starts the forkserver.
    """
    import multiprocess

    modules = sorted({type(step).__module__ for stage in stages for step in stage.steps} | {"datatrove.executor.local"})
    multiprocess.get_context("forkserver").set_forkserver_preload(modules)
    return modules


def _run_stages(cfg: RunConfig, paths: CorpusPaths, stages: list[Stage]) -> None:
    """Local and Ray: one stage after the other, each blocking, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("corpus: {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    local_workers = cfg.corpus.executor.workers if cfg.corpus.executor.kind == "local" else 1
    if local_workers > 1:
        _preload_in_the_worker_pool(stages)
    with Progress(*columns, transient=False) as progress, _tokenizer_threads_per_worker(local_workers):
        bar = progress.add_task("starting", total=len(stages))
        for stage in stages:
            progress.update(bar, description=f"{stage.name} ({stage.tasks} task{'s' if stage.tasks > 1 else ''})")
            cfg.corpus.executor.build(steps=stage.steps, tasks=stage.tasks, logs=paths.logs(stage.name),
                                      name=stage.name).run()
            progress.advance(bar)
        progress.update(bar, description="done")


def run_corpus(cfg: RunConfig, run: RunDir) -> dict[str, Any]:
    """Run the corpus stage; returns the report (for Slurm, the submission summary: the report comes later)."""
    c = cfg.corpus
    check_corpus(c)
    readers = [s.build(limits=c.limits, markup=c.markup) for s in c.sources]
    paths = corpus_paths(cfg, run, input_files(readers))
    paths.out.mkdir(parents=True, exist_ok=True)
    paths.work.mkdir(parents=True, exist_ok=True)
    _reset_stale_shards(paths)
    stages = build_stages(cfg, run, paths, readers)
    shutil.rmtree(paths.logs("mixtures"), ignore_errors=True)  # no completion marker: mixtures follow the config
    if c.executor.kind == "slurm":  # submitted as a chain of dependent job arrays; the last one writes the report
        previous = None
        for stage in stages:
            previous = c.executor.build(steps=stage.steps, tasks=stage.tasks, logs=paths.logs(stage.name),
                                        name=stage.name, depends=previous)
        previous.run()
        log.info("corpus: %d stages submitted to Slurm; the report will be %s", len(stages), paths.report)
        return {"submitted": "slurm", "stages": [s.name for s in stages], "report": str(paths.report)}
    _run_stages(cfg, paths, stages)
    return json.loads(paths.report.read_text(encoding="utf-8"))
