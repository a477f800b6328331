"""Typed config of the ``corpus`` stage (GAP-Replay curation). Owned by the corpus package.

Each section that configures a pipeline step builds it (``build(...)``, keyword arguments only, taking the runtime
objects it needs: the run's ``CorpusPaths``, the seed); the step classes are imported there, on first use, so loading
a config never imports datatrove.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from meditron._base import ConfigPath, ConfigPathText, StrictModel
from meditron.corpus.mixture_config import MixtureName, MixtureSpec, check_mixture_sources

if TYPE_CHECKING:
    from pathlib import Path

    from datatrove.pipeline.base import PipelineStep

    from meditron.corpus.paths import CorpusPaths

#: the kinds ``meditron.corpus.readers.READERS`` maps to a reader class (a test keeps the two equal)
SourceKind = Literal["jats", "medline", "guideline_jsonl", "guideline_html", "guideline_markdown", "guideline_pdf", "jsonl",
                     "parquet"]


class SourceConfig(StrictModel):
    """One input of the corpus: a kind of reader over files, directories or globs."""

    name: str = Field(description="Source name used in shards, ledger and report: guidelines, abstracts, papers, replay...")
    kind: SourceKind
    paths: list[ConfigPathText] = Field(description="Files, directories (read recursively) or glob patterns")
    site: str | None = Field(default=None, description="Guideline site rules to apply (e.g. 'cdc') for raw HTML/Markdown")
    weight: float = Field(default=1.0, ge=0.0, description="Mixture weight (MEDITRON: natural concatenation, 1.0)")
    validation_share: float = Field(default=0.03, ge=0.0, lt=1.0, description="Share of documents held out by id hash")
    replay: bool = Field(default=False, description="General-domain replay data, sampled to corpus.replay_share")
    exclude_ids_file: ConfigPath | None = Field(
        default=None,
        description="jats only: excluded.json written by `meditron corpus download pmc-oa` (retracted and superseded "
        "accessions); those articles are dropped with the file's reason (e.g. retracted) and counted in the ledger",
    )

    def build(self, *, limits: ReadLimitsConfig | None = None, limit: int = -1,
              markup: MarkupConfig | None = None) -> PipelineStep:
        """The reader step of this source (``corpus.limits`` caps what it decompresses; ``corpus.markup`` spells the
        JATS reader's markers)."""
        from meditron.corpus.readers import build_reader

        return build_reader(self, limit=limit, limits=limits, markup=markup)


class LanguageConfig(StrictModel):
    """Language identification. py3langid's model ships inside its wheel (offline); fastText needs a model file."""

    enabled: bool = True
    backend: Literal["py3langid", "fasttext"] = "py3langid"
    languages: list[str] = ["en"]
    min_score: float = Field(default=0.5, ge=0.0, le=1.0, description="Minimum probability of the detected language")
    max_chars: int = Field(default=400, ge=100, description="Characters (from the start) the identifier looks at")
    fasttext_model_path: ConfigPath | None = Field(default=None, description="lid.176.bin path, needed by backend=fasttext")

    def build(self, *, paths: CorpusPaths) -> PipelineStep:
        from meditron.corpus.filters import LanguageIdFilter

        return LanguageIdFilter(
            ledger_dir=str(paths.ledger_parts), languages=self.languages, min_score=self.min_score,
            max_chars=self.max_chars, backend=self.backend, fasttext_model_path=self.fasttext_model_path,
        )


class QualityConfig(StrictModel):
    """Length floor/ceiling (reason ``length``) and word-level heuristics (reason ``quality:<rule>``)."""

    enabled: bool = True
    min_chars: int = 200
    max_chars: int = 2_000_000
    min_words: int = 30
    max_non_alpha_word_ratio: float = 0.6
    max_symbol_word_ratio: float = 0.1
    min_mean_word_length: float = 2.0
    max_mean_word_length: float = 15.0

    def build(self, *, paths: CorpusPaths) -> PipelineStep:
        from meditron.corpus.filters import QualityFilter

        return QualityFilter(ledger_dir=str(paths.ledger_parts), **self.model_dump(exclude={"enabled"}))


class MinHashConfig(StrictModel):
    """datatrove MinHash LSH: similarity ~0.72 is the 50% detection point with 14 buckets x 8 hashes."""

    enabled: bool = True
    n_grams: int = Field(default=5, ge=1)
    num_buckets: int = Field(default=14, ge=1)
    hashes_per_bucket: int = Field(default=8, ge=1)


class DedupConfig(StrictModel):
    """Exact (content hash) and near (MinHash) duplicates, within and across sources; the earliest member is kept."""

    exact: bool = True
    minhash: MinHashConfig = MinHashConfig()

    @property
    def enabled(self) -> bool:
        return self.exact or self.minhash.enabled

    def minhash_config(self, seed: int) -> Any:
        """datatrove's ``MinhashConfig``: the MinHash buckets plus one exact-hash bucket when ``exact``."""
        from meditron.corpus.dedup import dedup_minhash_config

        mh = self.minhash
        return dedup_minhash_config(mh.n_grams, mh.num_buckets, mh.hashes_per_bucket, seed, mh.enabled, self.exact)

    def build_signature(self, *, paths: CorpusPaths, seed: int) -> PipelineStep:
        from meditron.corpus.dedup import DedupSignature

        return DedupSignature(output_folder=paths.sigs, config=self.minhash_config(seed), minhash=self.minhash.enabled,
                              exact=self.exact)

    def build_buckets(self, *, paths: CorpusPaths, seed: int) -> PipelineStep:
        from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

        return MinhashDedupBuckets(input_folder=str(paths.sigs), output_folder=str(paths.dups),
                                   config=self.minhash_config(seed))

    def build_clusters(self, *, paths: CorpusPaths) -> PipelineStep:
        from meditron.corpus.dedup import DedupCluster

        return DedupCluster(dups_folder=paths.dups, sigs_folder=paths.sigs, output_folder=paths.clusters)

    def build_filter(self, *, paths: CorpusPaths) -> PipelineStep:
        from meditron.corpus.dedup import DedupFilter

        return DedupFilter(ledger_dir=str(paths.ledger_parts), clusters_folder=paths.clusters)


class DecontaminationConfig(StrictModel):
    enabled: bool = True
    benchmarks_dir: ConfigPath | None = Field(default=None, description="Folder of the official benchmark test files")
    benchmarks: list[str] = Field(
        default=["medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical"],
        description="Benchmarks checked; those whose files are absent from benchmarks_dir are listed as skipped",
    )
    ngram: int = Field(default=13, ge=3)
    min_item_words: int = Field(
        default=8, ge=1, description="Items shorter than ngram words are matched whole if they have at least this many"
    )
    action: Literal["drop", "flag"] = "drop"

    @property
    def active(self) -> bool:
        return self.enabled and self.benchmarks_dir is not None

    def build_index(self, *, paths: CorpusPaths) -> PipelineStep:
        """The step that indexes the benchmark items (or records why decontamination is skipped)."""
        from meditron.corpus.decont import ContaminationIndexWriter

        skipped = "corpus.decontamination.benchmarks_dir is not set" if self.enabled and not self.active else None
        return ContaminationIndexWriter(
            benchmarks_dir=self.benchmarks_dir if self.active else None, benchmarks=list(self.benchmarks),
            ngram=self.ngram, min_item_words=self.min_item_words, action=self.action,
            summary_file=paths.decont_index, index_file=paths.decont_grams, skipped=skipped,
        )

    def build(self, *, paths: CorpusPaths) -> PipelineStep:
        from meditron.corpus.decont import DecontFilter

        return DecontFilter(ledger_dir=str(paths.ledger_parts), index=paths.decont_grams, hits_dir=paths.decont_hits,
                            action=self.action)


class PhiConfig(StrictModel):
    """Regex scrubbing of personal identifiers, replaced by typed placeholders (<EMAIL>, <PHONE>...)."""

    enabled: bool = True
    types: list[Literal["email", "phone", "url", "ssn", "mrn", "ip"]] = ["email", "phone", "url", "ssn", "mrn", "ip"]

    def build(self, *, paths: CorpusPaths) -> PipelineStep:
        from meditron.corpus.phi import PhiScrubber

        return PhiScrubber(counts_dir=paths.counts("phi"), types=list(self.types))


class TokenizationConfig(StrictModel):
    """Special tokens around each document in the shards. ``auto`` follows the tokenizer: BOS first when encoding with
    it adds one (Llama, Mistral: yes; GPT-2, Qwen: no), EOS last whenever it has an EOS token (the separator the
    model learns to end a document with). The choice is recorded in the shard manifest."""

    bos: Literal["auto"] | bool = Field(default="auto", description="Start each document with BOS: auto | true | false")
    eos: Literal["auto"] | bool = Field(default="auto", description="End each document with EOS: auto | true | false")

    def build(self, *, source: str | None, paths: CorpusPaths, markers: tuple[str, ...] | None = None) -> PipelineStep:
        """The tokenizer preparation step: ``source`` (``corpus.tokenizer``) saved with the shards, framing decided;
        ``markers``: the structure markers added as special tokens (``corpus.markup.special_tokens``)."""
        from meditron.corpus.tokenization import TokenizerPreparer

        return TokenizerPreparer(source=source, settings=self, shards_dir=paths.shards, output=paths.tokenization,
                                 markers=markers)


class ExecutorConfig(StrictModel):
    """Which datatrove executor runs the stages. ``tasks`` splits the input files; ``workers`` run at once."""

    kind: Literal["local", "slurm", "ray"] = "local"
    tasks: int = Field(default=1, ge=1)
    workers: int = Field(default=1, ge=1)
    ray_address: str | None = Field(default=None, description="Ray cluster address; None starts a local Ray instance")
    slurm_partition: str | None = None
    slurm_time: str = "24:00:00"
    slurm_cpus_per_task: int = 1
    slurm_mem_per_cpu_gb: int = 2

    def build(self, *, steps: list[PipelineStep], tasks: int, logs: Path, name: str, depends: Any = None) -> Any:
        """The datatrove executor of one stage, found by ``kind`` in ``meditron.corpus.executors.EXECUTORS``."""
        from meditron.corpus.executors import EXECUTORS
        from meditron.registry import resolve

        builder = resolve(EXECUTORS, self.kind, "corpus.executor.kind")
        return builder(self, steps=steps, tasks=tasks, logs=logs, name=name, depends=depends)


class ReadLimitsConfig(StrictModel):
    """Caps on decompressed input: over one, the file (or record) is quarantined with the reason (never held whole)."""

    max_record_bytes: int = Field(default=64 * 1024**2, ge=1024, description="Largest article/citation/JSON line/"
                                  "page, decompressed; a bigger one stops its file (XML) or is quarantined (lines)")
    max_file_bytes: int = Field(default=32 * 1024**3, ge=1024, description="Largest input file or archive member, "
                                "decompressed")


class MarkupConfig(StrictModel):
    """Spelling of the structure markers in full papers (App. B.2) and the caption length of figure/table references.

    The same markers are added to the tokenizer as special tokens (corpus stage, pretraining, finetuning all read this
    section), so each stays one id whatever the spelling."""

    case: Literal["lower", "upper"] = Field(
        default="lower", description="lower: [bib_ref] [fig_ref] [fig] [table] [formula]; upper: the paper's [BIB_REF]..."
    )
    caption_words: int = Field(default=12, ge=1, description="Caption words kept in [fig_ref]Figure 3: <caption>[/fig_ref]")

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """The markers as the tokenizer adds them (``[fig_ref]``, ``[/fig_ref]``... in ``case``)."""
        from meditron.special_tokens import structure_markers

        return structure_markers(self.case)

    def cleaner_markup(self) -> Any:
        """The JATS cleaner's ``Markup`` (a small frozen dataclass the reader step carries to its workers)."""
        from meditron.corpus.cleaners.jats import Markup

        return Markup(case=self.case, caption_words=self.caption_words)


class UpsamplingConfig(StrictModel):
    """MEDITRON's PMC upsampling (Table 10 / App. B.4): documents scored by rules from their metadata; ``drop`` rows
    remove a document (named reason in the ledger), the others give ``1 + scale × score`` copies of a training document,
    rounded probabilistically with the run's seed. Copies are written by the shard writer, after the split, so
    deduplication and decontamination see one copy and no copy crosses the train/validation split."""

    enabled: bool = False
    rules_file: ConfigPath | None = Field(default=None, description="Rules YAML; default: the paper's Table 10 "
                                          "(meditron/corpus/upsampling/paper_rules.yaml)")
    sources: list[str] | None = Field(default=None, description="Sources scored; default: every jats and medline one")
    journals_file: ConfigPath | None = Field(default=None, description="CSV with a `journal` column (e.g. journals "
                                             "reviewed by UpToDate); without it `journal` rules give 0")
    citations_file: ConfigPath | None = Field(default=None, description="CSV with citations, year and pmid/pmcid/doi "
                                              "columns; without it `citations` rules give 0")
    reference_date: date = Field(default=date(2023, 7, 15), description="Date ages and citations per year are counted "
                                 "to (the paper: its July 2023 scrape)")
    scale: float = Field(default=1.0, ge=0.0, description="Multiplies every score (the paper's `upfold`, 1)")

    def check(self, sources: list[SourceConfig]) -> None:
        """Load the rules and tables once before any stage runs: a bad file or row fails at once, naming it."""
        from meditron.corpus.upsampling.rules import load_rules
        from meditron.corpus.upsampling.tables import CitationTable, JournalList
        from meditron.errors import ConfigError

        unknown = sorted(set(self.sources or ()) - {s.name for s in sources})
        if unknown:
            raise ConfigError(f"corpus.upsampling.sources: {unknown} are not corpus sources "
                              f"({sorted({s.name for s in sources})})")
        rules = load_rules(self.rules_file)
        if self.journals_file:
            JournalList.load(self.journals_file)
        if self.citations_file:
            CitationTable.load(self.citations_file, self.reference_date, rules.quantiles())

    def build_collector(self, *, paths: CorpusPaths) -> PipelineStep:
        """Filter stage, right after the readers: each MEDLINE record's rule terms, for the full texts' PMID join."""
        from meditron.corpus.upsampling.join import MedlineTermsCollector
        from meditron.corpus.upsampling.rules import load_rules

        rules = load_rules(self.rules_file)
        return MedlineTermsCollector(folder=paths.upsampling_terms, publication_types=rules.terms("publication_types"),
                                     mesh_terms=rules.terms("mesh_terms"))

    def build(self, *, paths: CorpusPaths, seed: int) -> PipelineStep:
        """Shards stage, after the split: drop or score each document, ``copies`` for the shard writer."""
        from meditron.corpus.upsampling.step import Upsampler

        return Upsampler(ledger_dir=str(paths.ledger_parts), counts_dir=paths.counts("upsampling"), seed=seed,
                         rules_file=self.rules_file, sources=self.sources, journals_file=self.journals_file,
                         citations_file=self.citations_file, reference_date=self.reference_date, scale=self.scale,
                         terms_folder=paths.upsampling_terms, pmids_folder=paths.pmids)


class CorpusConfig(StrictModel):
    """The ``corpus`` section: sources → filters → dedup → decontamination → PHI → mix → split → shards."""

    sources: list[SourceConfig] = []
    output_dir: ConfigPath | None = Field(default=None, description="Default: <run>/corpus")
    shards_dir: ConfigPath | None = Field(default=None, description="Default: <run>/shards")
    tokenizer: ConfigPathText | None = Field(default=None, description="Local HF tokenizer dir, tokenizer.json or SentencePiece .model")
    tokenization: TokenizationConfig = TokenizationConfig()
    language: LanguageConfig = LanguageConfig()
    quality: QualityConfig = QualityConfig()
    dedup: DedupConfig = DedupConfig()
    decontamination: DecontaminationConfig = DecontaminationConfig()
    phi: PhiConfig = PhiConfig()
    replay_share: float = Field(default=0.01, ge=0.0, lt=1.0, description="Target share of tokens from replay sources")
    executor: ExecutorConfig = ExecutorConfig()
    batch_size: int = Field(default=256, ge=1, description="Documents tokenized per batch")
    limits: ReadLimitsConfig = ReadLimitsConfig()
    markup: MarkupConfig = MarkupConfig()
    upsampling: UpsamplingConfig = UpsamplingConfig()
    mixtures: dict[MixtureName, MixtureSpec] = Field(
        default_factory=dict,
        description="Named blends of the sources, {name: {source: weight (0.5) | token budget ('2B') | epochs ('1x')}}: "
        "one manifest each in <shards>/mixtures/, trained on with `meditron pretrain --mixture NAME` (docs/MIXTURES.md)",
    )

    @model_validator(mode="after")
    def _mixtures_name_sources(self) -> CorpusConfig:
        if self.sources:  # without sources the shards come from elsewhere: checked against their manifest at build
            check_mixture_sources(self.mixtures, [s.name for s in self.sources])
        return self
