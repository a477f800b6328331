"""The corpus stage through datatrove's Slurm executor on a real (single-node) Slurm: the seven stages are submitted
as dependent job arrays, run by slurmd, and give the same shards and ledger, byte for byte, as the local executor.

`make test` starts the node with tools/slurm/start_single_node.sh when it can (root + apt-get); elsewhere this test
skips with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from meditron.config import load_config
from meditron.corpus.pipeline import run_corpus
from meditron.run import RunDir
from tests.corpus.pipeline_fixtures import train_tokenizer, write_benchmarks, write_config, write_corpus

START_HINT = "start one with `sudo bash tools/slurm/start_single_node.sh`"


def _idle_partition() -> str | None:
    """The default partition when some node of it can take jobs, else None."""
    out = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True, timeout=30, check=False)
    rows = [line.split() for line in out.stdout.splitlines() if len(line.split()) == 2]
    usable = [p for p, state in rows if state.rstrip("*~#") in {"idle", "mix", "alloc"}]
    candidates = [p for p in usable if p.endswith("*")] or usable
    return candidates[0].rstrip("*") if candidates else None


def _slurm_partition() -> str:
    if shutil.which("sbatch") is None:
        pytest.skip(f"sbatch is absent (no Slurm on this machine); {START_HINT}")
    partition = _idle_partition()
    if partition is None:
        pytest.skip(f"Slurm is installed but no node is up (sinfo shows none idle); {START_HINT}")
    return partition


def _wait_for(report: Path, job_prefix: str, timeout: float = 600) -> None:
    """Until the last stage wrote the report; fails early if our jobs are gone without it (a stage failed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if report.exists():
            return
        queue = subprocess.run(["squeue", "-h", "-o", "%j"], capture_output=True, text=True, check=False).stdout
        if not any(name.startswith(job_prefix) for name in queue.split()):
            time.sleep(2)  # the report is written by the finalize job just before it leaves the queue
            if report.exists():
                return
            pytest.fail(f"the Slurm jobs ended without writing {report}; see the slurm_logs under its work folder")
        time.sleep(1)
    pytest.fail(f"no report after {timeout:.0f} s: {report}")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_slurm_executor_gives_the_same_shards_and_ledger_as_local(tmp_path):
    partition = _slurm_partition()
    write_corpus(tmp_path / "data")
    tok = train_tokenizer(tmp_path / "tok" / "tokenizer.json")
    bench = write_benchmarks(tmp_path / "bench")

    few_buckets = {"minhash": {"num_buckets": 2}}  # each bucket task is a Slurm job: fewer job start-ups, same code
    local_cfg = load_config(write_config(tmp_path / "data", tmp_path / "local", tok, bench, tasks=2, dedup=few_buckets))
    local = RunDir.from_config(local_cfg).create()
    local_report = run_corpus(local_cfg, local)

    executor = {"kind": "slurm", "tasks": 2, "workers": 2, "slurm_partition": partition, "slurm_time": "00:20:00",
                "slurm_mem_per_cpu_gb": 1}
    slurm_cfg = load_config(write_config(tmp_path / "data", tmp_path / "slurm", tok, bench, tasks=2,
                                         executor=executor, dedup=few_buckets))
    slurm = RunDir.from_config(slurm_cfg).create()
    submitted = run_corpus(slurm_cfg, slurm)
    assert submitted["submitted"] == "slurm" and submitted["stages"][-1] == "finalize"
    _wait_for(Path(submitted["report"]), "meditron-corpus-")

    assert _files(slurm.shards) == _files(local.shards)
    assert (slurm.corpus / "ledger.jsonl").read_bytes() == (local.corpus / "ledger.jsonl").read_bytes()
    slurm_report = json.loads(Path(submitted["report"]).read_text(encoding="utf-8"))
    assert slurm_report["totals"] == local_report["totals"] and slurm_report["totals"]["input"] == 101
    filter_logs = next((slurm.corpus / "work").glob("*/logs/filter"))  # it really ran as a 2-task Slurm array
    assert "#SBATCH --array=0-1%2" in (filter_logs / "launch_script.slurm").read_text()
    assert sorted(p.name for p in (filter_logs / "completions").iterdir()) == ["00000", "00001"]
    assert len(list((filter_logs / "slurm_logs").glob("*_1.out"))) == 1
