"""``meditron quickstart``: every stage on the embedded sample with a tiny Llama, on a laptop CPU, in minutes.

corpus (GAP-Replay from the sample) → pretrain (tiny Llama from a config) → finetune (ChatML QA) → eval (five
benchmarks, several modes) → export (HF directory with model card). Ends with one summary table.

A front end like ``cli.py``: the stages log through ``logging`` (set up by the CLI), the summary table is printed on
stdout for the human at the terminal.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meditron.config import load_config
from meditron.json_io import read_json_lines, write_json_atomic
from meditron.run import TRAINING_STAGES, RunDir

log = logging.getLogger(__name__)

#: The headline figures of the run, beside ``run.json``.
SUMMARY_FILE = "quickstart_summary.json"

# The smallest budget that still exercises every stage: used by the end-to-end test.
SMALL_OVERRIDES = [
    "train.steps=16",
    "train.eval_every=8",
    "train.checkpoint.every_steps=8",
    "train.downstream_eval.every_steps=8",
    "finetune.epochs=1",
    "eval.limit=6",
    "eval.seeds=[1234]",
    "eval.bootstrap_samples=50",
    "eval.max_new_tokens=12",
]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _losses(path: Path) -> list[float]:
    """The per-step training losses of a stage's metrics log (its other records, e.g. evaluations, skipped)."""
    if not path.exists():
        return []
    return [r["loss"] for _, r in read_json_lines(path) if "loss" in r and "step" in r]


def summarize(run: RunDir) -> dict[str, Any]:
    """Collect the headline figures of a finished run from its files (the same files users read)."""
    summary: dict[str, Any] = {"run_dir": str(run.root)}
    manifest = _read_json(run.shards_manifest)
    if manifest is not None:
        summary["corpus"] = {
            source: {split: {"docs": v.get("num_docs", 0), "tokens": v.get("num_tokens", 0)} for split, v in splits.items()}
            for source, splits in manifest["sources"].items()
        }
    report = _read_json(run.corpus_report)
    if report is not None:
        summary["corpus_totals"] = report.get("totals", {})
    for stage in TRAINING_STAGES:
        losses = _losses(run.stage_log(stage))
        if losses:
            summary[stage] = {"first_loss": losses[0], "last_loss": losses[-1], "steps": len(losses)}
    results_doc = _read_json(run.eval_results)
    if results_doc is not None:
        results = results_doc["results"]
        summary["eval"] = {
            bench: {mode: {k: r.get(k) for k in ("accuracy", "n", "unparsed")} for mode, r in modes.items()}
            for bench, modes in results.items()
        }
    summary["export"] = str(run.hf)
    return summary


def render_summary(summary: dict[str, Any]) -> Table:
    table = Table(title="MEDITRON quickstart", show_lines=False)
    table.add_column("stage", style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    for source, splits in sorted(summary.get("corpus", {}).items()):
        for split, v in sorted(splits.items()):
            table.add_row("corpus", f"{source} / {split}", f"{v['docs']} docs, {v['tokens']:,} tokens")
    totals = summary.get("corpus_totals")
    if totals:
        table.add_row("corpus", "ledger", ", ".join(f"{k} {v}" for k, v in totals.items()))
    for stage in TRAINING_STAGES:
        if stage in summary:
            s = summary[stage]
            table.add_row(stage, "loss first → last", f"{s['first_loss']:.3f} → {s['last_loss']:.3f} ({s['steps']} steps)")
    for bench, modes in sorted(summary.get("eval", {}).items()):
        for mode, r in sorted(modes.items()):
            acc, unparsed = r.get("accuracy"), r.get("unparsed")
            value = "n/a" if acc is None else f"{100 * acc:.1f}%"
            if unparsed:
                value += f" ({unparsed}/{r.get('n')} unparsed)"
            table.add_row("eval", escape(f"{bench} [{mode}]"), value)
    table.add_row("export", "HF model", summary["export"])
    return table


def run_quickstart(out: Path, overrides: list[str] | None = None, small: bool = False) -> dict[str, Any]:
    """Run every stage into ``out`` (``out/run.json``, ``out/hf/``, ``out/eval/results.json``) and print a table."""
    from meditron.corpus.pipeline import run_corpus
    from meditron.eval.downstream import build_downstream_evaluator
    from meditron.eval.run import run_eval
    from meditron.serve.export import run_export
    from meditron.train.pretrain import run_pretrain
    from meditron.train.sft import run_finetune

    out = Path(out)
    base = [f"out_dir={out.parent}", f"name={out.name}"]
    cfg = load_config("quickstart-cpu", base + (SMALL_OVERRIDES if small else []) + list(overrides or []))
    run = RunDir.from_config(cfg)
    run.start(cfg, "quickstart")
    timings: dict[str, float] = {}

    def stage(name: str, fn, *args, **kwargs):
        log.info("stage: %s", name)
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 1)
        return result

    stage("corpus", run_corpus, cfg, run)
    downstream = build_downstream_evaluator(cfg.train.downstream_eval)  # None when train.downstream_eval is off
    stage("pretrain", run_pretrain, cfg, run, resume=False, downstream_eval=downstream)
    stage("finetune", run_finetune, cfg, run, resume=False)
    finetuned = run.stage_hf("finetune")
    eval_cfg = cfg.eval.model_copy(update={"model": str(finetuned), "out": run.eval})
    stage("eval", run_eval, eval_cfg, run=run)
    stage("export", run_export, checkpoint=finetuned, out=run.hf, fmt="hf")

    summary = summarize(run)
    summary["seconds"] = timings
    write_json_atomic(run.root / SUMMARY_FILE, summary, sort_keys=False)
    Console().print(render_summary(summary))
    log.info("stage times (s): %s", timings)
    return summary
