"""Every path of a corpus run, in one place: the outputs (report, ledger, contamination index), the shards and the
per-config ``work`` folder of intermediate files (named by the config fingerprint, so a changed config starts afresh
and an unchanged one resumes)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.corpus.shard_format import MANIFEST, TOKENIZER_DIR

if TYPE_CHECKING:
    from meditron.corpus.config import CorpusConfig

#: Bump when a change in the pipeline code changes its output, so old intermediate files are not reused.
PIPELINE_VERSION = "3"  # 2: documents start with BOS when the tokenizer adds one; 3: [fig_ref]Figure 3: caption
REPORT = "corpus_report.json"


@dataclass(frozen=True)
class CorpusPaths:
    """Where everything goes: ``out`` (report, ledger), ``shards`` and the per-config ``work`` folder."""

    out: Path
    shards: Path
    work: Path

    @classmethod
    def for_run(cls, corpus: CorpusConfig, seed: int, default_out: Path, default_shards: Path,
                inputs: list[str]) -> CorpusPaths:
        """``corpus.output_dir``/``shards_dir`` when set, else the run's folders; work under the fingerprint."""
        out = Path(corpus.output_dir) if corpus.output_dir else default_out
        shards = Path(corpus.shards_dir) if corpus.shards_dir else default_shards
        return cls(out, shards, out / "work" / config_fingerprint(corpus, seed, inputs))

    # outputs
    @property
    def ledger(self) -> Path:
        return self.out / "ledger.jsonl"

    @property
    def report(self) -> Path:
        return self.out / REPORT

    @property
    def report_md(self) -> Path:
        return self.out / "corpus_report.md"

    @property
    def contamination_index(self) -> Path:
        return self.out / "contamination_index.json"

    # shards
    @property
    def manifest(self) -> Path:
        return self.shards / MANIFEST

    @property
    def tokenizer_dir(self) -> Path:
        """The tokenizer saved with the shards (the manifest's ``tokenizer`` entry, relative to ``shards``)."""
        return self.shards / TOKENIZER_DIR

    @property
    def shards_marker(self) -> Path:
        """Names the work folder (config fingerprint) whose run wrote the shards present."""
        return self.shards / ".corpus_work"

    # intermediate files
    @property
    def ledger_parts(self) -> Path:
        return self.work / "ledger"

    def counts(self, step: str) -> Path:
        return self.work / "counts" / step

    def logs(self, stage: str) -> Path:
        return self.work / "logs" / stage

    @property
    def tokenization(self) -> Path:
        """The tokenizer preparation's decisions, read by the shard writer, the replay selector and the report."""
        return self.work / "tokenization.json"

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
    def upsampling_terms(self) -> Path:
        """Rule-relevant terms of each MEDLINE record, for the upsampling step's PMID join of full texts."""
        return self.work / "upsampling" / "medline_terms"

    @property
    def decont_hits(self) -> Path:
        return self.work / "decont_hits"

    @property
    def decont_index(self) -> Path:
        """Summary of the benchmark n-gram index (or why decontamination did not run)."""
        return self.work / "decont_index.json"

    @property
    def decont_grams(self) -> Path:
        """The benchmark n-gram index itself (numpy arrays), loaded by every decontamination task."""
        return self.work / "decont_index.npz"

    def medline_index(self, reader_position: int) -> Path:
        """The MEDLINE pre-scan of the ``reader_position``-th source, saved by ``prepare`` for every filter task."""
        return self.work / "medline_index" / str(reader_position)

    def medline_events(self, reader_position: int) -> Path:
        """Per-file pre-scan events of that source (``medline-scan`` stage), merged into ``medline_index`` by
        ``prepare``."""
        return self.work / "medline_events" / str(reader_position)

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
    and modification time (a file replaced in place gives a new work directory, not a stale resume). Not the
    ``mixtures``: they are built over finished shards, so editing them never re-runs the corpus."""
    data: dict[str, Any] = corpus.model_dump(mode="json", exclude={"executor", "output_dir", "shards_dir", "mixtures"})
    stats = [row for f in inputs for row in _file_stats(f)]
    d = corpus.decontamination
    read = {
        "benchmarks": _file_stats(d.benchmarks_dir) if d.enabled and d.benchmarks_dir else [],
        "tokenizer": _file_stats(corpus.tokenizer) if corpus.tokenizer else [],
    }
    u = corpus.upsampling
    if u.enabled:  # the rules and tables it reads (not in the dump when unset: old fingerprints stay valid)
        from meditron.corpus.upsampling.rules import PAPER_RULES

        read["upsampling"] = [row for f in (u.rules_file or PAPER_RULES, u.journals_file, u.citations_file) if f
                              for row in _file_stats(f)]
    data.update(seed=seed, tasks=corpus.executor.tasks, version=PIPELINE_VERSION, inputs=stats, read=read)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
