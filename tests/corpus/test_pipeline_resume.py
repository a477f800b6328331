"""Kill the corpus stage with SIGKILL in the middle of a stage, rerun it: the shards equal an uninterrupted run's."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.corpus.pipeline_fixtures import train_tokenizer, write_benchmarks, write_config, write_corpus
from tests.corpus.test_pipeline import run, shard_bytes

REPO = Path(__file__).resolve().parents[2]


def _cli(config: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-m", "meditron", "corpus", "run", "--config", str(config)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_sigkill_midway_then_rerun_gives_the_same_shards(tmp_path):
    facts = write_corpus(tmp_path / "data")
    assert facts
    tok = train_tokenizer(tmp_path / "tok" / "tokenizer.json")
    bench = write_benchmarks(tmp_path / "bench")
    _, reference = run(write_config(tmp_path / "data", tmp_path / "ref", tok, bench, tasks=2))

    config = write_config(tmp_path / "data", tmp_path / "killed", tok, bench, tasks=2)
    marker = str(tmp_path / "killed" / "t" / "corpus" / "work" / "*" / "logs" / "shards" / "completions" / "00000")
    proc = _cli(config)
    deadline = time.time() + 120
    while not glob.glob(marker) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
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
def test_ray_executor_gives_the_same_shards_as_local(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'meditron[ray]')")
    import ray

    write_corpus(tmp_path / "data")
    tok = train_tokenizer(tmp_path / "tok" / "tokenizer.json")
    bench = write_benchmarks(tmp_path / "bench")
    _, local = run(write_config(tmp_path / "data", tmp_path / "local", tok, bench, tasks=2))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report, ray_run = run(write_config(tmp_path / "data", tmp_path / "ray", tok, bench, tasks=2,
                                           executor={"kind": "ray", "tasks": 2, "workers": 2}))
    finally:
        ray.shutdown()
    assert report["totals"]["input"] == report["totals"]["kept"] + report["totals"]["dropped"] + 1
    assert shard_bytes(ray_run.shards) == shard_bytes(local.shards)
