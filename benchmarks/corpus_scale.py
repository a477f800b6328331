"""Benchmark: ``meditron corpus run`` on MEDLINE input at 100× the sample and more, with 1 and 2 workers.

Input (``corpus_scale_input.py``): gzipped MEDLINE files in the current baseline layout, built from the real citations
of ``../shared/data/pubmed`` (new PMIDs, perturbed words) with planted near-duplicate pairs across files. Sizes are
the decompressed XML the pipeline parses (the gzipped bytes on disk are reported too).

Each run is the real command, ``python -m meditron corpus run --config <yaml>`` (one MEDLINE source, every default
step: quality, language, PHI, 13-gram decontamination against the real benchmark files, exact + MinHash dedup,
split, tokenization with the real 32k SentencePiece tokenizer, report), in its own process. Measured: wall time, docs/s
and MB/s, wall time per stage (from datatrove's task logs), the peak RSS of every process of the run (sampled from
/proc every 0.2 s, per process, never summed; the exact per-process maximum from ``wait4``), the MEDLINE pre-scan's
memory and time (in a separate process), and whether every planted pair ends with one member kept and the other
dropped as its duplicate in the ledger. Peer (``--peer-max-mb``): a stock datatrove pipeline (``JsonlReader`` →
``GopherQualityFilter`` → MinHash signatures/buckets/clusters/filter → ``DocumentTokenizer``) on the same documents
(the text our MEDLINE reader extracts, written as JSONL, one file per input file), same tokenizer, tasks and workers.

    python benchmarks/corpus_scale.py --size-mb 20                       # quick check (about a minute)
    python benchmarks/corpus_scale.py --size-mb 200 2000 --workers 1 2 --write-docs
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from corpus_scale_input import build_inputs

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TOKENIZER = SHARED / "tokenizers" / "tokenizer.model.v1"
STAGES = ["medline-scan", "prepare", "filter", "dedup-buckets", "dedup-clusters", "shards", "replay", "finalize"]
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")


def write_config(data: Path, out: Path, tasks: int, workers: int) -> Path:
    """The run's YAML: one MEDLINE source, every other setting at its default (what a user's config would do)."""
    import yaml

    cfg = {
        "name": "scale", "out_dir": str(out), "seed": 1234,
        "corpus": {
            "tokenizer": str(TOKENIZER),
            "sources": [{"name": "abstracts", "kind": "medline", "paths": [str(data)], "validation_share": 0.03}],
            "decontamination": {"benchmarks_dir": str(SHARED / "benchmarks")},
            "executor": {"kind": "local", "tasks": tasks, "workers": workers},
        },
    }
    path = out.with_suffix(".yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _role(p, root: int) -> str:
    """main (the command itself: it runs the tasks when there is one worker), worker (a pool process running tasks),
    or helper (forkserver, resource tracker, datatrove's per-stage ``multiprocess.Manager``, a fork of main)."""
    if p.pid == root:
        return "main"
    line = " ".join(p.cmdline())
    if "resource_tracker" in line or p.ppid() == root:  # forkserver and managers are the main process's children
        return "helper"
    return "worker" if "forkserver" in line else "helper"  # pool workers are the forkserver's children


class RssSampler(threading.Thread):
    """Peak RSS of every process of a run (the command and all its descendants), per process and per stage."""

    def __init__(self, pid: int, work_glob: str, period: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.work_glob, self.period = pid, work_glob, period
        self.peak: dict[int, dict] = {}  # pid → {"rss": bytes, "stage": name at the peak, "name": cmdline tail}
        self.cpu: dict[int, float] = {}  # pid → user + system seconds, last seen (forkserver workers are not
        # children the run waits for, so wait4's rusage misses them)
        self.stage_peak: dict[str, int] = {}  # stage → largest single-process RSS seen during it
        self.load: list[float] = []
        self.stop = threading.Event()

    def _stage(self) -> str:
        started = [s for s in STAGES if glob.glob(f"{self.work_glob}/logs/{s}")]
        return started[-1] if started else "start"

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self.stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            stage = self._stage()
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    times = p.cpu_times()
                    self.cpu[p.pid] = times.user + times.system
                    if p.pid not in self.peak:
                        self.peak[p.pid] = {"rss": 0, "stage": stage, "role": _role(p, self.pid)}
                except psutil.Error:
                    continue
                if rss > self.peak[p.pid]["rss"]:
                    self.peak[p.pid].update(rss=rss, stage=stage)
                self.stage_peak[stage] = max(self.stage_peak.get(stage, 0), rss)
            self.load.append(os.getloadavg()[0])
            self.stop.wait(self.period)


def _rss_figures(sampler: RssSampler, usage) -> dict:
    """Per-process peaks (never summed): the largest process overall (exact from ``wait4`` for the processes it
    covers, else sampled), per role (main / pool workers), per stage, and the top processes."""
    by_role: dict[str, int] = {}
    for v in sampler.peak.values():
        by_role[v["role"]] = max(by_role.get(v["role"], 0), v["rss"])
    sampled_max = max((v["rss"] for v in sampler.peak.values()), default=0)
    return {
        "peak_rss_mb_max_process": round(max(usage.ru_maxrss * 1024, sampled_max) / 2**20),
        "peak_rss_mb_by_role": {k: round(v / 2**20) for k, v in sorted(by_role.items())},
        "peak_rss_mb_by_stage": {s: round(v / 2**20) for s, v in sampler.stage_peak.items()},
        "peak_rss_mb_by_process": sorted((round(v["rss"] / 2**20), v["stage"], v["role"])
                                         for v in sampler.peak.values())[::-1][:6],
        "processes": len(sampler.peak),
    }


def stage_times(logs: Path) -> dict[str, float]:
    """Wall time of each stage: first log line of its first task to the last line of its last task."""
    out = {}
    for stage in STAGES:
        stamps = []
        for f in glob.glob(str(logs / stage / "logs" / "task_*.log")):
            lines = Path(f).read_text(encoding="utf-8", errors="replace").splitlines()
            stamps += [m.group(1) for line in (lines[:1] + lines[-40:]) if (m := _LOG_TIME.match(line))]
        if stamps:
            parsed = [datetime.datetime.fromisoformat(s) for s in stamps]
            out[stage] = round((max(parsed) - min(parsed)).total_seconds(), 2)
    return out


def check_planted(ledger: Path, pairs: list[dict]) -> dict:
    """Each planted pair: exactly one member kept, the other dropped as a duplicate *of that member*."""
    wanted = {p[k] for p in pairs for k in ("first", "copy")}
    found: dict[str, dict] = {}
    with open(ledger, encoding="utf-8") as f:
        for line in f:
            if '"pmid9' in line:  # generated PMIDs start with 9 (corpus_scale_input.FIRST_PMID)
                rec = json.loads(line)
                if rec["id"] in wanted:
                    found[rec["id"]] = rec
    ok, failures = 0, []
    for p in pairs:
        a, b = found.get(p["first"], {}), found.get(p["copy"], {})
        states = sorted([a.get("state"), b.get("state")])
        kept, dropped = (a, b) if a.get("state") == "kept" else (b, a)
        reason = dropped.get("reason", "")
        if states == ["dropped", "kept"] and re.fullmatch(rf"(near|exact)-dup of \S*{kept['id']}\S*", reason):
            ok += 1
        else:
            failures.append({**p, "first_state": a.get("state"), "copy_state": b.get("state"), "reason": reason})
    return {"planted": len(pairs), "found": ok, "failures": failures[:5]}


def run_ours(data: Path, facts: dict, work: Path, tasks: int, workers: int) -> dict:
    """One ``meditron corpus run`` in its own process, sampled; returns the figures of that run."""
    out = work / f"ours-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    config = write_config(data, out, tasks, workers)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    log = open(work / f"ours-w{workers}.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "meditron", "corpus", "run", "--config", str(config)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    sampler = RssSampler(proc.pid, str(out / "scale" / "corpus" / "work" / "*"))
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop.set()
    sampler.join()
    log.close()
    if proc.returncode:
        raise RuntimeError(f"corpus run failed ({proc.returncode}); see {log.name}")
    corpus = out / "scale" / "corpus"
    report = json.loads((corpus / "corpus_report.json").read_text(encoding="utf-8"))
    docs = report["totals"]["input"]
    return {
        "pipeline": "ours", "tasks": tasks, "workers": workers, "wall_s": round(wall, 1),
        "cpu_s": round(max(usage.ru_utime + usage.ru_stime, sum(sampler.cpu.values())), 1), "docs": docs,
        "kept": report["totals"]["kept"],
        "tokens": report["tokens"]["train"] + report["tokens"]["validation"],
        "docs_per_s": round(docs / wall, 1), "mb_per_s": round(facts["xml_bytes"] / 1e6 / wall, 2),
        "stage_s": stage_times(next(corpus.glob("work/*/logs"))),
        **_rss_figures(sampler, usage),
        "load_avg_1m": [round(min(sampler.load, default=0), 2), round(max(sampler.load, default=0), 2)],
        "planted": check_planted(corpus / "ledger.jsonl", facts["pairs"]),
    }


def prescan(data: Path) -> dict:
    """The MEDLINE pre-scan (``MedlineIndex``) over all files, as each task builds it: time and memory it adds."""
    import resource

    import numpy as np

    from meditron.corpus.readers.medline import MedlineReader

    reader = MedlineReader([str(data)], "abstracts")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    index = reader.index
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    arrays = sum(a.nbytes for a in vars(index).values() if isinstance(a, np.ndarray))
    return {"files": len(reader.files), "pmids": len(index.pmids), "seconds": round(seconds, 2),
            "rss_before_mb": round(before / 1024), "rss_peak_mb": round(after / 1024),
            "rss_added_mb": round((after - before) / 1024, 1), "index_arrays_mb": round(arrays / 1e6, 2)}


def export_jsonl(data: Path, out: Path) -> Path:
    """The documents our MEDLINE reader yields (kept versions only), one JSONL file per input file: the peer's input."""
    from meditron.corpus.readers.medline import MedlineReader

    out.mkdir(parents=True, exist_ok=True)
    reader = MedlineReader([str(data)], "abstracts")
    for path in reader.files:
        with open(out / (path.name.removesuffix(".xml.gz") + ".jsonl"), "w", encoding="utf-8") as f:
            for doc in reader.read_file(path):
                if doc.text and not doc.metadata.get("drop_reason") and not doc.metadata.get("quarantined"):
                    f.write(json.dumps({"id": doc.id, "text": doc.text}) + "\n")
    return out


def stock(jsonl: Path, work: Path, tasks: int, workers: int) -> dict:
    """The peer: datatrove's own steps in the layout of its MinHash example, on the same documents."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import GopherQualityFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter

    from meditron.corpus.filters.quality import SimpleWordTokenizer
    from meditron.tokenizer import add_special_tokens, load_tokenizer, save_tokenizer

    tok = load_tokenizer(TOKENIZER)
    add_special_tokens(tok)
    save_tokenizer(tok, work / "tokenizer")
    words, mh = SimpleWordTokenizer(), MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)
    stages = [
        ([JsonlReader(str(jsonl)), GopherQualityFilter(language=words), JsonlWriter(str(work / "filtered"))], tasks),
        ([JsonlReader(str(work / "filtered")), MinhashDedupSignature(str(work / "sigs"), config=mh, language=words)],
         tasks),
        ([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=mh)], mh.num_buckets),
        ([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=mh)], 1),
        ([JsonlReader(str(work / "filtered")), MinhashDedupFilter(str(work / "remove")),
          DocumentTokenizer(str(work / "tokens"), str(work / "tokenizer" / "tokenizer.json"), eos_token="</s>",
                            shuffle_documents=False)], tasks),
    ]
    for i, (steps, n) in enumerate(stages):
        LocalPipelineExecutor(steps, tasks=n, workers=min(workers, n), logging_dir=str(work / "logs" / str(i))).run()
    return {"tokens": sum(p.stat().st_size // 2 for p in (work / "tokens").rglob("*.ds"))}


def run_stock(jsonl: Path, facts: dict, work: Path, tasks: int, workers: int) -> dict:
    out = work / f"stock-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", "stock", "--data", str(jsonl), "--work", str(out),
                             "--tasks", str(tasks), "--workers", str(workers)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=open(work / f"stock-w{workers}.log", "w"), text=True)
    sampler = RssSampler(proc.pid, "/nonexistent")
    sampler.start()
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"stock pipeline failed; see {work / f'stock-w{workers}.log'}")
    docs = sum(1 for f in jsonl.glob("*.jsonl") for _ in open(f, encoding="utf-8"))
    return {"pipeline": "stock datatrove", "tasks": tasks, "workers": workers, "wall_s": round(wall, 1),
            "cpu_s": round(max(usage.ru_utime + usage.ru_stime, sum(sampler.cpu.values())), 1), "docs": docs,
            "tokens": json.loads(stdout.strip().splitlines()[-1])["tokens"],
            "docs_per_s": round(docs / wall, 1), "mb_per_s": round(facts["xml_bytes"] / 1e6 / wall, 2),
            **_rss_figures(sampler, usage),
            "load_avg_1m": [round(min(sampler.load, default=0), 2), round(max(sampler.load, default=0), 2)]}


# ---------------------------------------------------------------------------------------------------- projection

PAPER_DOCS, PAPER_TOKENS = 21.7e6, 48.1e9  # Table 1: train + validation documents and tokens
PAPER_ABSTRACT_TOKENS = 5.65e9  # Table 1: PubMed abstracts, train + validation
BUCKET_TASKS = 15  # the default 14 MinHash buckets + the exact-hash bucket
BASELINE_PER_ABSTRACT = 2.2  # MEDLINE baseline citations per kept abstract (~36M citations, 16.2M abstracts)


def project(run: dict, prescan_s: float, cores: int) -> dict:
    """Hours to curate and tokenize the paper's corpus on ``cores`` cores, from one measured run.

    Parallel work = the run's CPU-seconds (all its processes) minus the single-task stages, divided over the cores
    (CPU time, not wall: on a shared machine the wall clock also measures the neighbours), except the MinHash bucket
    stage (its stage wall × workers), which has one task per bucket and so uses at most 15 cores. The single-task stages
    (``dedup-clusters``, ``replay``, ``finalize``; their wall time, an overestimate of their CPU) run on one core
    whatever the cluster. Parallel work scales by the paper's tokens over the measured tokens (cost per token is the
    right unit: the paper's documents average 2,200 tokens, MEDLINE abstracts far fewer); the single-task stages work
    per ledger line or duplicate, so they scale by documents. The MEDLINE pre-scan scales with the MEDLINE part only
    (abstract tokens × baseline citations per abstract): since the ``medline-scan`` stage it is parallel (its stage
    wall × workers of CPU, over the cores); runs from before it scanned in one process in ``prepare`` (``prescan_s``,
    serial). ``prepare`` (tokenizer, benchmark index, the merge of the scans) is a fixed cost.
    """
    scale = PAPER_TOKENS / max(1, run["tokens"])
    stage_s = run["stage_s"]
    serial_s = sum(stage_s.get(k, 0) for k in ("dedup-clusters", "replay", "finalize"))
    buckets_cpu = stage_s.get("dedup-buckets", 0) * min(run["workers"], run["tasks"])
    medline_scale = PAPER_ABSTRACT_TOKENS * BASELINE_PER_ABSTRACT / max(1, run["tokens"])
    if "medline-scan" in stage_s:  # parallel pre-scan
        scan_cpu = stage_s["medline-scan"] * min(run["workers"], run["tasks"])
        prescan_scaled = scan_cpu * medline_scale / cores
        fixed = stage_s.get("prepare", 0)
    else:  # one process, inside prepare
        scan_cpu, prescan_scaled = 0.0, prescan_s * medline_scale
        fixed = max(0.0, stage_s.get("prepare", 0) - prescan_s)
    parallel_cpu = max(0.0, run["cpu_s"] - serial_s - stage_s.get("prepare", 0) - buckets_cpu - scan_cpu)
    doc_scale = PAPER_DOCS / max(1, run["docs"])
    buckets = buckets_cpu * scale / min(cores, BUCKET_TASKS)  # one task per bucket: no more cores than buckets
    seconds = parallel_cpu * scale / cores + buckets + serial_s * doc_scale + prescan_scaled + fixed
    return {"cores": cores, "hours": round(seconds / 3600, 1), "token_scale": round(scale),
            "doc_scale": round(doc_scale), "parallel_cpu_s": round(parallel_cpu, 1), "serial_s": round(serial_s, 1),
            "prescan_h": round(prescan_scaled / 3600, 2), "serial_h": round(serial_s * doc_scale / 3600, 2),
            "buckets_h": round(buckets / 3600, 2)}


# ---------------------------------------------------------------------------------------------------- docs

HEADING = "## Corpus at scale: MEDLINE input up to 2 GB, 1 and 2 workers"
START, END = "<!-- corpus_scale:start -->", "<!-- corpus_scale:end -->"


def _run_row(size: dict, r: dict, base: dict | None) -> str:
    speedup = f"{base['wall_s'] / r['wall_s']:.2f}×" if base and r["workers"] > base["workers"] else ""
    st = r.get("stage_s", {})
    other = sum(v for k, v in st.items() if k not in ("filter", "dedup-buckets", "shards"))
    stages = f"{st.get('filter', 0):.0f} / {st.get('dedup-buckets', 0):.0f} / {st.get('shards', 0):.0f} / {other:.0f}"
    planted = r.get("planted")
    found = f"{planted['found']}/{planted['planted']}" if planted else "n/a"
    return (f"| {size['xml_mb']:,.0f} ({size['gz_mb']:,.0f} gz) | {size['files']} | {r['docs']:,} | {r['pipeline']} | "
            f"{r['tasks']}×{r['workers']} | {r['wall_s']:,.0f} | {r['cpu_s']:,.0f} | {r['docs_per_s']:,.0f} | "
            f"{r['mb_per_s']:.2f} | {speedup} | {stages if st else 'n/a'} | {r['peak_rss_mb_max_process']:,} | "
            f"{found} | {r['load_avg_1m'][0]:.1f}–{r['load_avg_1m'][1]:.1f} |")


def render(results: dict, argv: list[str]) -> str:
    m = results["machine"]
    lines = [
        HEADING, "", START,
        f"- Command: `python benchmarks/corpus_scale.py {' '.join(argv)}`",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, datatrove "
        f"{m['datatrove']}. Date: {m['date']}. Shared with other jobs: `uptime` at start: {m['uptime_start']}; at "
        f"end: {m['uptime_end']} (the last column gives the 1-minute load range during each run). Tokenizer threads "
        f"(`RAYON_NUM_THREADS`): {m.get('rayon_threads') or 'default: ours cores ÷ workers, stock all cores'}.",
        "- Input: gzipped MEDLINE files (`<PubmedArticleSet>`, the baseline layout) built from the real citations of "
        "`../shared/data/pubmed` (new PMIDs, 35% of the words replaced, some swapped); MB = the decompressed XML the "
        "pipeline parses. Planted near-duplicate pairs (one word in 150 changed, new PMID) sit in different files.",
        "- Ours: `meditron corpus run` with one MEDLINE source and every default step (quality, py3langid, PHI, "
        "13-gram decontamination against the real benchmarks, exact + MinHash dedup, split, 32k SentencePiece "
        "tokenization, report). Stock: datatrove's `JsonlReader → GopherQualityFilter`, MinHash signature / buckets / "
        "cluster / filter, `DocumentTokenizer`, on the text our reader extracts (JSONL, no XML to parse).",
        "",
        "| input MB (XML) | files | docs | pipeline | tasks×workers | wall s | CPU s | docs/s | MB/s | vs 1 worker | "
        "stage wall s: filter / buckets / shards / rest | peak RSS, largest single process (MB) | "
        "planted dups | load |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for size in results["sizes"]:
        for pipeline in ("ours", "stock datatrove"):
            runs = [r for r in size["runs"] if r["pipeline"] == pipeline]
            base = next((r for r in runs if r["workers"] == 1), None)
            lines += [_run_row(size, r, base) for r in runs]
    lines += ["", "MEDLINE pre-scan (`MedlineIndex`, one process, all files):", "",
              "| input MB | files | PMIDs | seconds | MB/s | RSS before → peak (MB) | index arrays (MB) |",
              "|---:|---:|---:|---:|---:|---|---:|"]
    for size in results["sizes"]:
        p = size["prescan"]
        lines.append(f"| {size['xml_mb']:,.0f} | {p['files']} | {p['pmids']:,} | {p['seconds']} | "
                     f"{size['xml_mb'] / max(p['seconds'], 1e-9):.0f} | {p['rss_before_mb']} → {p['rss_peak_mb']} | "
                     f"{p['index_arrays_mb']} |")
    src = results["projection_from"]
    lines += ["", f"Projection for the paper's corpus (Table 1: 21.7M documents, 48.1B tokens) from the "
              f"{src['xml_mb']:,.0f} MB run with {src['workers']} workers (assumptions in `project()`):", ""]
    for p in results["projection"]:
        lines.append(f"- {p['cores']} cores: **{p['hours']:,.1f} h** (measured {p['parallel_cpu_s']:,} CPU-s of "
                     f"parallel work × {p['token_scale']:,} (tokens), {p['serial_s']} s of single-task stages × "
                     f"{p['doc_scale']:,} (documents); "
                     f"of the total, MinHash bucket stage (≤ {BUCKET_TASKS} tasks) {p['buckets_h']} h, "
                     f"single-task stages {p['serial_h']} h, MEDLINE pre-scan {p['prescan_h']} h)")
    lines += [END, ""]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    perf = REPO / "docs" / "PERFORMANCE.md"
    text = perf.read_text(encoding="utf-8")
    if START in text:
        start = text.index(HEADING) if HEADING in text else text.index(START)
        text = text[:start] + section + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    perf.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------- driver


def add_projection(results: dict) -> None:
    """Projection from the largest input's run with the most workers."""
    largest = max(results["sizes"], key=lambda s: s["xml_mb"])
    best = max((r for r in largest["runs"] if r["pipeline"] == "ours"), key=lambda r: r["workers"])
    results["projection"] = [project(best, largest["prescan"]["seconds"], cores) for cores in (16, 512)]
    results["projection_from"] = {"xml_mb": largest["xml_mb"], "workers": best["workers"]}


def machine() -> dict:
    import psutil

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    from importlib.metadata import version

    return {"nproc": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1), "cpu": model,
            "python": platform.python_version(), "datatrove": version("datatrove"),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            "rayon_threads": os.environ.get("RAYON_NUM_THREADS")}


def child(kind: str, data: Path, work: Path | None, tasks: int, workers: int) -> dict:
    return prescan(data) if kind == "prescan" else stock(data, work, tasks, workers)


def run_child(kind: str, data: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--data", str(data)], cwd=REPO,
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_size(size_mb: float, args: argparse.Namespace) -> dict:
    scratch = args.scratch / f"{size_mb:g}mb"
    shutil.rmtree(scratch, ignore_errors=True)
    t0 = time.perf_counter()
    facts = build_inputs(scratch / "input", size_mb, seed=args.seed, file_mb=args.file_mb)
    result = {"size_mb": size_mb, "xml_mb": round(facts["xml_bytes"] / 1e6, 1),
              "gz_mb": round(facts["gz_bytes"] / 1e6, 1), "files": facts["files"], "records": facts["records"],
              "planted_pairs": len(facts["pairs"]), "build_s": round(time.perf_counter() - t0, 1),
              "prescan": run_child("prescan", scratch / "input"), "runs": []}
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}), flush=True)
    for w in args.workers:
        if w == 1 and size_mb > args.single_worker_max_mb:
            continue
        run = run_ours(scratch / "input", facts, scratch, max(args.tasks, w), w)
        result["runs"].append(run)
        print(json.dumps(run), flush=True)
    if size_mb <= args.peer_max_mb:
        jsonl = export_jsonl(scratch / "input", scratch / "jsonl")
        for w in args.workers:
            run = run_stock(jsonl, facts, scratch, max(args.tasks, w), w)
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, nargs="+", default=[20], help="input sizes, MB of MEDLINE XML")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tasks", type=int, default=4, help="tasks per parallel stage (at least the workers)")
    ap.add_argument("--file-mb", type=float, default=25.0, help="MB of XML per input file")
    ap.add_argument("--peer-max-mb", type=float, default=250.0, help="run the stock datatrove peer up to this size")
    ap.add_argument("--single-worker-max-mb", type=float, default=float("inf"),
                    help="skip the 1-worker run above this size (when time is short)")
    ap.add_argument("--tokenizer-threads", type=int, default=None,
                    help="RAYON_NUM_THREADS for every run (ours and stock): 1 makes each worker single-core, so the "
                    "1-vs-2-worker ratio measures the pipeline's scaling; default: ours gives each of W workers "
                    "cores/W tokenizer threads, stock datatrove lets each use all cores")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/meditron-corpus-scale"),
                    help="generated input and run folders (removed after each size unless --keep)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path, help="write the results here (default: <scratch>/corpus_scale.json)")
    ap.add_argument("--write-docs", action="store_true", help="write the table into docs/PERFORMANCE.md")
    ap.add_argument("--render-from", type=Path, help="render (and with --write-docs write) a saved result JSON")
    ap.add_argument("--child", choices=["prescan", "stock"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.work, args.tasks, args.workers[0])))
        return
    if args.render_from:
        results = json.loads(args.render_from.read_text(encoding="utf-8"))
        add_projection(results)
        section = render(results, results["argv"])
        print(section)
        if args.write_docs:
            write_docs(section)
        return
    if args.tokenizer_threads is not None:
        os.environ["RAYON_NUM_THREADS"] = str(args.tokenizer_threads)  # inherited by every run's processes
    results = {"machine": machine(), "argv": sys.argv[1:], "sizes": []}
    for size in args.size_mb:
        results["sizes"].append(measure_size(size, args))
    results["machine"]["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    add_projection(results)
    out = args.json or args.scratch / "corpus_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    section = render(results, results["argv"])
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
