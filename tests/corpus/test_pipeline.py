"""The corpus stage end to end on a corpus written for the test: ledger totals, planted duplicate, benchmark
question, PHI, corrupt file, shards the trainer reads, byte-identical reruns."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from meditron.config import load_config
from meditron.corpus.pipeline import run_corpus
from meditron.data.shards import TokenShards
from meditron.run import RunDir
from meditron.tokenizer import load_tokenizer
from tests.corpus.pipeline_fixtures import (
    PLANTED_EMAIL,
    PLANTED_PHONE,
    train_tokenizer,
    write_benchmarks,
    write_config,
    write_corpus,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    facts = write_corpus(root / "data")
    tok = train_tokenizer(root / "tok" / "tokenizer.json")
    bench = write_benchmarks(root / "bench")
    return root, facts, tok, bench


def run(config: Path) -> tuple[dict, RunDir]:
    cfg = load_config(config)
    run_dir = RunDir.from_config(cfg).create()
    return run_corpus(cfg, run_dir), run_dir


def shard_bytes(shards: Path) -> dict[str, bytes]:
    return {str(p.relative_to(shards)): p.read_bytes() for p in sorted(shards.rglob("*")) if p.is_file()}


def ledger(run_dir: RunDir) -> dict[str, dict]:
    records = [json.loads(line) for line in (run_dir.corpus / "ledger.jsonl").read_text().splitlines()]
    by_id = {}
    for r in records:
        assert r["id"] not in by_id or r["state"] == "quarantined", f"{r['id']} is in the ledger twice"
        by_id[r["id"]] = r
    return by_id


@pytest.fixture(scope="module")
def first_run(corpus):
    root, facts, tok, bench = corpus
    report, run_dir = run(write_config(root / "data", root / "runA", tok, bench, tasks=2))
    return report, run_dir


def test_totals_match_ledger_and_inputs(first_run):
    report, run_dir = first_run
    t = report["totals"]
    # 30 guidelines + 30 abstracts + 40 replay + 1 corrupt file
    assert t["input"] == 101
    assert t["input"] == t["kept"] + t["dropped"] + t["quarantined"]
    records = ledger(run_dir)
    assert len((run_dir.corpus / "ledger.jsonl").read_text().splitlines()) == 101
    states = [r["state"] for r in records.values()]
    assert states.count("quarantined") == t["quarantined"] == 1
    assert states.count("kept") == t["kept"]
    assert report["ledger_consistent"] is True
    stage = json.loads((run_dir.root / "run.json").read_text())["stages"]["corpus"]
    assert stage["metrics"] == t


def test_planted_facts(first_run, corpus):
    report, run_dir = first_run
    _, facts, _, _ = corpus
    records = ledger(run_dir)
    assert records[facts["dup_kept"]]["state"] == "kept"
    assert records[facts["dup_removed"]] == {**records[facts["dup_removed"]], "state": "dropped",
                                             "reason": f"exact-dup of {facts['dup_kept']}"}
    assert records[facts["near_kept"]]["state"] == "kept"
    assert records[facts["near_removed"]]["reason"] == f"near-dup of {facts['near_kept']}"
    assert report["dedup"]["removed_exact"] == 1 and report["dedup"]["removed_near"] == 1
    assert records[facts["contaminated"]]["reason"] == "contaminated: medqa4-0001"
    index = json.loads(Path(report["contamination"]["index"]).read_text())
    assert index["items"] == {"medqa4-0001": [facts["contaminated"]]}
    assert report["contamination"]["items_contaminated"] == {"medqa4": 1}
    assert records["guidelines:g012"]["reason"].startswith("language: fr")
    assert records["guidelines:g013"]["reason"].startswith("length:")
    quarantined = [r for r in records.values() if r["state"] == "quarantined"]
    assert len(quarantined) == 1 and quarantined[0]["file"].endswith("corrupt.jsonl.gz")
    assert report["phi"]["replacements"] == {"email": 1, "phone": 1}
    assert records[facts["phi_doc"]]["state"] == "kept"


def test_shards_readable_and_scrubbed(first_run):
    report, run_dir = first_run
    shards = TokenShards(run_dir.shards)
    tok = load_tokenizer(shards.tokenizer_dir)
    assert len(tok.encode("[bib_ref]", add_special_tokens=False)) == 1
    assert shards.eos_id == tok.eos_token_id and shards.vocab_size == len(tok)
    text = ""
    for source in ("guidelines", "abstracts"):
        for split in ("train", "validation"):
            for f in shards.files(source, split):
                assert int(f.doc_ends[-1]) == len(f.tokens)
                assert np.all(f.tokens[f.doc_ends.astype(np.int64) - 1] == shards.eos_id)  # EOS ends each document
                text += tok.decode(f.tokens)
    assert PLANTED_EMAIL not in text and PLANTED_PHONE not in text
    assert "<EMAIL>" in text and "<PHONE>" in text
    kept = sum(s["kept"] for name, s in report["per_source"].items() if name != "replay")
    docs = sum(e["num_docs"] for name, s in shards.manifest["sources"].items() if name != "replay"
               for e in s.values())
    assert docs == kept
    assert shards.manifest["sources"]["replay"]["train"]["num_docs"] == report["per_source"]["replay"]["kept"] > 0
    assert report["replay"]["realised_share"] > 0


def test_same_seed_byte_identical(first_run, corpus):
    root, _, tok, bench = corpus
    _, run_a = first_run
    report_b, run_b = run(write_config(root / "data", root / "runB", tok, bench, tasks=2))
    assert shard_bytes(run_a.shards) == shard_bytes(run_b.shards)
    assert (run_a.corpus / "ledger.jsonl").read_bytes() == (run_b.corpus / "ledger.jsonl").read_bytes()
    # a rerun in place skips every completed task and reports the same
    report_again, _ = run(write_config(root / "data", root / "runB", tok, bench, tasks=2))
    assert report_again["totals"] == report_b["totals"]
    assert shard_bytes(run_b.shards) == shard_bytes(run_a.shards)


def _cli(config: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-m", "meditron", "corpus", "run", "--config", str(config)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group: a kill takes the worker pool too


@pytest.mark.slow
def test_sigkill_midway_then_rerun_gives_the_same_shards(first_run, corpus):
    """The killed run's task 1 of the shards stage is cut short; the rerun finishes it and matches run A."""
    tmp_path, _, tok, bench = corpus
    _, reference = first_run
    config = write_config(tmp_path / "data", tmp_path / "killed", tok, bench, tasks=2)
    marker = str(tmp_path / "killed" / "t" / "corpus" / "work" / "*" / "logs" / "shards" / "completions" / "00000")
    proc = _cli(config)
    deadline = time.time() + 120
    while not glob.glob(marker) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # like a node crash: the run and its workers die together
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
    report_path = tmp_path / "killed" / "t" / "corpus" / "corpus_report.json"
    assert not report_path.exists()
    work = Path(glob.glob(marker)[0]).parents[3]
    assert not (work / "logs" / "shards" / "completions" / "00001").exists()  # task 1 of that stage was cut short

    rerun = _cli(config)
    assert rerun.wait(timeout=300) == 0
    assert report_path.exists()
    assert shard_bytes(tmp_path / "killed" / "t" / "shards") == shard_bytes(reference.shards)
    assert (tmp_path / "killed" / "t" / "corpus" / "ledger.jsonl").read_bytes() == (
        reference.corpus / "ledger.jsonl"
    ).read_bytes()


@pytest.mark.slow
def test_two_local_workers_give_the_same_shards_as_one(first_run, corpus):
    """``meditron corpus run`` with a pool of 2 local workers (forkserver preloaded with the steps' modules, tokenizer
    threads capped per worker) writes byte-identical shards and ledger to the in-process run."""
    from meditron.corpus.pipeline import _preload_in_the_worker_pool, build_stages, corpus_paths, input_files

    tmp_path, _, tok, bench = corpus
    _, reference = first_run
    config = write_config(tmp_path / "data", tmp_path / "pool", tok, bench, tasks=2,
                          executor={"kind": "local", "tasks": 2, "workers": 2})
    proc = _cli(config)
    assert proc.wait(timeout=300) == 0
    pool_run = tmp_path / "pool" / "t"
    assert shard_bytes(pool_run / "shards") == shard_bytes(reference.shards)
    assert (pool_run / "corpus" / "ledger.jsonl").read_bytes() == (reference.corpus / "ledger.jsonl").read_bytes()
    cfg = load_config(config)
    readers = [s.build() for s in cfg.corpus.sources]
    run_dir = RunDir.from_config(cfg)
    stages = build_stages(cfg, run_dir, corpus_paths(cfg, run_dir, input_files(readers)), readers)
    preloaded = _preload_in_the_worker_pool(stages)
    assert {type(readers[0]).__module__, "meditron.corpus.writers.shards", "meditron.corpus.filters.quality",
            "datatrove.executor.local"} <= set(preloaded)


@pytest.mark.slow
def test_ray_executor_gives_the_same_shards_as_local(first_run, corpus):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'meditron[ray]')")
    import ray

    tmp_path, _, tok, bench = corpus
    _, local = first_run
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report, ray_run = run(write_config(tmp_path / "data", tmp_path / "ray", tok, bench, tasks=2,
                                           executor={"kind": "ray", "tasks": 2, "workers": 2}))
    finally:
        ray.shutdown()
    assert report["totals"]["input"] == report["totals"]["kept"] + report["totals"]["dropped"] + 1
    assert shard_bytes(ray_run.shards) == shard_bytes(local.shards)


def test_slurm_stages_chain_as_dependent_arrays(corpus, tmp_path):
    """Built, not submitted (no Slurm here): seven stages, each depending on the previous, with the right task counts;
    building them touches no file (tokenizer preparation and the benchmark index are the first stage's steps)."""
    from meditron.corpus.pipeline import build_stages, corpus_paths, input_files

    root, _, tok, bench = corpus
    cfg = load_config(write_config(root / "data", tmp_path / "slurm", tok, bench, tasks=4,
                                   executor={"kind": "slurm", "tasks": 4, "workers": 2, "slurm_partition": "cpu"}))
    run_dir = RunDir.from_config(cfg).create()
    readers = [s.build() for s in cfg.corpus.sources]
    paths = corpus_paths(cfg, run_dir, input_files(readers))
    stages = build_stages(cfg, run_dir, paths, readers)
    assert [(s.name, s.tasks) for s in stages] == [("prepare", 1), ("filter", 4), ("dedup-buckets", 15),
                                                    ("dedup-clusters", 1), ("shards", 4), ("replay", 1),
                                                    ("finalize", 1)]
    assert not [p for p in paths.out.rglob("*") if p.is_file()] and not paths.shards.exists()
    previous = None
    for stage in stages:
        ex = cfg.corpus.executor.build(steps=stage.steps, tasks=stage.tasks, logs=paths.logs(stage.name),
                                       name=stage.name, depends=previous)
        assert ex.depends is previous and ex.tasks == stage.tasks and ex.partition == "cpu"
        previous = ex
    from typing import get_args

    from meditron.corpus.config import ExecutorConfig
    from meditron.corpus.executors import EXECUTORS

    assert set(get_args(ExecutorConfig.model_fields["kind"].annotation)) == set(EXECUTORS)


def test_config_errors_name_the_key(corpus, tmp_path):
    from meditron.errors import ConfigError

    root, _, tok, bench = corpus
    cases = [
        (["corpus.tokenizer=null"], "corpus.tokenizer is not set"),
        ([f"corpus.decontamination.benchmarks_dir={tmp_path / 'nope'}"], "corpus.decontamination.benchmarks_dir"),
        (["corpus.language.backend=fasttext"], "corpus.language.fasttext_model_path is required"),
        (["corpus.sources=[]"], "corpus.sources is empty"),
    ]
    for i, (overrides, message) in enumerate(cases):
        cfg = load_config(write_config(root / "data", tmp_path / f"bad{i}", tok, bench), overrides)
        with pytest.raises(ConfigError, match=message):
            run_corpus(cfg, RunDir.from_config(cfg).create())


def test_everything_dropped_still_gives_a_consistent_report(corpus, tmp_path):
    root, _, tok, bench = corpus
    cfg = load_config(write_config(root / "data", tmp_path / "empty", tok, bench, quality={"min_chars": 10**6}))
    report, run_dir = run_corpus(cfg, RunDir.from_config(cfg).create()), RunDir.from_config(cfg)
    t = report["totals"]
    assert t == {"input": 101, "kept": 0, "dropped": 100, "quarantined": 1}
    assert report["drop_reasons"] == {"length": 100}
    assert TokenShards(run_dir.shards).sources("train") == []


def test_fingerprint_follows_the_files_the_stage_reads(tmp_path):
    """Replacing a benchmark file or the tokenizer in place must not resume onto stale work (a new fingerprint)."""
    from meditron.corpus.paths import config_fingerprint

    bench, tok, doc = tmp_path / "bench", tmp_path / "tok", tmp_path / "in.xml"
    (bench / "medqa").mkdir(parents=True)
    (bench / "medqa" / "test.jsonl").write_text('{"question": "q"}\n')
    tok.mkdir()
    (tok / "tokenizer.json").write_text("{}")
    doc.write_text("<a/>")
    corpus = load_config(None, [f"corpus.tokenizer={tok}", f"corpus.decontamination.benchmarks_dir={bench}"]).corpus
    first = config_fingerprint(corpus, 0, [str(doc)])
    assert config_fingerprint(corpus, 0, [str(doc)]) == first
    seen = {first}
    for path, text in (
        (bench / "medqa" / "test.jsonl", '{"question": "another q"}\n'),
        (tok / "tokenizer.json", "{ }"),
    ):
        path.write_text(text)
        seen.add(config_fingerprint(corpus, 0, [str(doc)]))
    (bench / "pubmedqa.json").write_text("{}")  # a new benchmark file
    seen.add(config_fingerprint(corpus, 0, [str(doc)]))
    doc.write_text("<b></b>")
    seen.add(config_fingerprint(corpus, 0, [str(doc)]))
    assert len(seen) == 5


def test_local_workers_share_the_cores_between_their_tokenizer_threads(monkeypatch):
    """Each of W local workers gets cores // W tokenizer threads (HF tokenizers' pool would start one per core in
    every worker); the variable is restored after the run, and a value the user set is kept."""
    import os

    from meditron.corpus.pipeline import RAYON_THREADS, _tokenizer_threads_per_worker

    monkeypatch.delenv(RAYON_THREADS, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    with _tokenizer_threads_per_worker(2):
        assert os.environ[RAYON_THREADS] == "4"
    assert RAYON_THREADS not in os.environ
    with _tokenizer_threads_per_worker(16):
        assert os.environ[RAYON_THREADS] == "1"
    with _tokenizer_threads_per_worker(1):
        assert RAYON_THREADS not in os.environ
    monkeypatch.setenv(RAYON_THREADS, "3")
    with _tokenizer_threads_per_worker(2):
        assert os.environ[RAYON_THREADS] == "3"
    assert os.environ[RAYON_THREADS] == "3"
