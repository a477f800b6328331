"""``meditron eval``: load the official benchmark files, run the requested modes through an lm-eval model, report.

Outputs in ``<out>/``: ``results.json`` (byte-identical for the same config), ``report.md``, ``items/<bench>/<mode>.jsonl``
(prompt, output, parsed answer, gold per item; per seed for few-shot top_token), ``plots/*.png`` and ``timing.json``.
Each mode runs through its runner in the ``eval.runners.RUNNERS`` registry; this module loads data and models, draws the
``--limit`` sample, and writes what the runners return. Progress goes to the ``meditron.eval`` loggers.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.benchmarks import BenchmarkSet, load_benchmark
from meditron.errors import ConfigError
from meditron.eval import report as R
from meditron.eval.config import EvalConfig
from meditron.eval.context import quiet_backend_truncation, resolve_max_context
from meditron.eval.runners import (
    BenchRun,
    Session,
    modes_for,
    needs_generation,
    needs_loglikelihood,
    runner,
    wants_fewshot_pool,
)
from meditron.eval.sampling import sample_record, stratified_sample
from meditron.json_io import write_json_atomic

if TYPE_CHECKING:
    from meditron.run import RunDir

log = logging.getLogger(__name__)

_POOL_KINDS = {
    "pubmedqa": "labelled PubMedQA items outside the test split",
    "truthfulqa_med": "TruthfulQA questions of the other (non-medical) categories",
}


def _fewshot_pool(name: str, test: BenchmarkSet, cfg: EvalConfig, data_dir: Path):
    from meditron.eval.modes import FewshotPool

    fs_dir = Path(cfg.fewshot_file_dir) if cfg.fewshot_file_dir else data_dir
    fs = load_benchmark(name, fs_dir, split="fewshot")
    # A demonstration must never be a test question: drop pool items sharing an id (PubMedQA PMIDs) or the exact
    # question text with the test set (e.g. a fewshot_file_dir whose PubMedQA folder lacks test_ground_truth.json).
    test_ids = {it.id for it in test.items}
    test_questions = {" ".join(it.question.split()).lower() for it in test.items}
    kept = [
        it for it in fs.items if it.id not in test_ids and " ".join(it.question.split()).lower() not in test_questions
    ]
    if kept:
        files = ", ".join(p.name for p in fs.source_files)
        what = _POOL_KINDS.get(name, "train/dev file")
        n_dropped = len(fs.items) - len(kept) + len(fs.excluded)  # here, and in the loader (repeats of test items)
        dropped = f", {n_dropped} overlapping the test set dropped" if n_dropped else ""
        return FewshotPool(kept, f"{what} ({files}, {len(kept)} items{dropped})", from_test=False)
    return FewshotPool(
        test.items, "test set: other items of the same set, excluding the question itself", from_test=True
    )


def _data_entry(bset: BenchmarkSet, items: list, pool_source: str, from_test: bool) -> dict[str, Any]:
    from meditron.run import sha256_file

    return {
        "files": [{"name": p.name, "sha256": sha256_file(p)} for p in bset.source_files],
        "missing": list(bset.missing),
        "n_total": len(bset.items),
        "n_items": len(items),
        "fewshot_source": pool_source,
        "fewshot_from_test": from_test,
    }


def _context_entry(session: Session, bench: BenchRun, backend_cuts: int) -> dict[str, Any]:
    """results.json's account of the context rule for one benchmark: budget, prompts cut, per rule."""
    checked = [f for f in bench.fitters.values() if f.active]
    cuts: dict[str, int] = {}
    for f in bench.fitters.values():
        for rule, n in f.cuts.items():
            cuts[rule] = cuts.get(rule, 0) + n
    return {
        "max_context": session.max_context,
        "max_context_source": session.max_context_source,
        "context_checked": bool(checked) and len(checked) == len(bench.fitters),
        "truncated_prompts": sum(f.prompts_cut for f in bench.fitters.values()),
        "truncation": dict(sorted(cuts.items())),
        "backend_truncations": backend_cuts,
    }


def _output_dir(cfg: EvalConfig, run: RunDir | None) -> Path:
    if cfg.out is not None:
        return Path(cfg.out)
    if run is not None:
        return run.eval
    raise ConfigError("eval.out is required when no run directory is given (e.g. --out runs/eval)")


def _open_session(cfg: EvalConfig, model: str | None) -> Session:
    """Load the models the modes need (one for log-likelihood, one for generation unless the same serves both)."""
    from meditron.eval.backends import make_lm

    tok = str(cfg.tokenizer) if cfg.tokenizer else (model if model and Path(model).is_dir() else None)
    max_context, source = resolve_max_context(cfg.max_context, model if model and Path(model).is_dir() else tok)
    s = Session(cfg, max_context=max_context, max_context_source=source)
    common = dict(base_url=cfg.base_url, batch_size=cfg.batch_size, max_length=max_context)
    if needs_loglikelihood(cfg):
        s.lm_ll = make_lm(cfg.backend, model, generative=False, tokenizer=tok, **common)
    if needs_generation(cfg):
        reuse = s.lm_ll is not None and not s.chat_api
        s.lm_gen = s.lm_ll if reuse else make_lm(cfg.backend, model, generative=True, **common)
    return s


def _bench_run(name: str, bset: BenchmarkSet, cfg: EvalConfig, data_dir: Path, out: Path) -> BenchRun:
    items = stratified_sample(bset.items, cfg.limit, cfg.sample_seed) if cfg.limit else list(bset.items)
    pool = _fewshot_pool(name, bset, cfg, data_dir) if wants_fewshot_pool(cfg) else None
    return BenchRun(name, bset, items, pool, out / "items" / name)


def _run_modes(session: Session, bench: BenchRun, timing: dict, contamination) -> tuple[dict, list | None]:
    """Every mode of one benchmark through its runner; returns {mode: summary} and the reliability bins."""
    results: dict[str, Any] = {}
    bins = None
    for mode in modes_for(session.cfg, bench.items):
        tm = time.perf_counter()
        log.info("%s %s: %d questions (%s)", bench.name, mode, len(bench.items), bench.bset.source_files[0].parent)
        res = runner(mode).run(session, bench, mode)
        summary = res.summary
        summary["breakdown"] = R.breakdowns(res.records, bench.name)
        if contamination is not None:
            summary["contamination"] = R.contamination_split(res.records, contamination, bench.name)
        if res.ece_bins is not None and bins is None:
            bins = res.ece_bins
        results[mode] = summary
        timing[f"{bench.name}/{mode}_seconds"] = seconds = time.perf_counter() - tm
        lo, hi = summary["ci95"]
        log.info(
            "%s %s: accuracy %.4f [%.4f, %.4f] n=%d unparsed=%s (%.1f s)",
            bench.name, mode, summary["accuracy"], lo, hi, summary["n"], summary["unparsed"], seconds,
        )
    return results, bins


def _log_truncation(data: dict[str, Any]) -> None:
    """The one line that says how many prompts the context rule cut (docs/EVALUATION.md, "Context length")."""
    cut = {b: d for b, d in data.items() if d["truncated_prompts"] or d["backend_truncations"]}
    if not cut:
        return
    budget = next(iter(data.values()))["max_context"]
    parts = "; ".join(
        f"{b} {d['truncated_prompts']} ({', '.join(f'{r} {n}' for r, n in d['truncation'].items())})"
        + (f", {d['backend_truncations']} more cut by the backend" if d["backend_truncations"] else "")
        for b, d in cut.items()
    )
    total = sum(d["truncated_prompts"] for d in cut.values())
    log.info("%d prompts exceeded max_context %s and were cut: %s", total, budget, parts)


def run_eval(cfg: EvalConfig, run: RunDir | None = None) -> dict[str, Any]:
    """Evaluate ``cfg.model`` on ``cfg.benchmarks`` in ``cfg.modes``; write the reports; return results.json's dict."""
    out = _output_dir(cfg, run)
    if not cfg.data_dir:
        raise ConfigError("eval.data_dir is required: a folder holding the official benchmark files (--data-dir)")
    data_dir = Path(cfg.data_dir)
    model = str(cfg.model) if cfg.model else None
    contamination = (
        R.load_contamination_index(Path(cfg.contamination_index)) if cfg.contamination_index else None
    )
    t0 = time.perf_counter()
    sets = {name: load_benchmark(name, data_dir) for name in cfg.benchmarks}  # fail on bad data before loading a model
    session = _open_session(cfg, model)
    timing: dict[str, Any] = {"load_seconds": time.perf_counter() - t0}
    results: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    ece_bins: dict[str, list] = {}
    for name, bset in sets.items():
        bench = _bench_run(name, bset, cfg, data_dir, out)
        pool_source = bench.pool.source if bench.pool else "not used (zero-shot only)"
        data[name] = _data_entry(bset, bench.items, pool_source, bool(bench.pool and bench.pool.from_test))
        data[name].update(sample_record(bset.items, bench.items, cfg.limit, cfg.sample_seed))
        with quiet_backend_truncation() as backend_cuts:
            results[name], bins = _run_modes(session, bench, timing, contamination)
        data[name].update(_context_entry(session, bench, backend_cuts.count))
        if bins is not None:
            ece_bins[name] = bins
    _log_truncation(data)
    stages = run.read_manifest().get("stages") if run is not None else None
    doc = _write_outputs(cfg, out, data, results, ece_bins, contamination, timing, t0, stages)
    if run is not None:
        headline = {f"{b}/{m}": r["accuracy"] for b, ms in results.items() for m, r in ms.items()}
        artifacts: dict[str, str | Path] = {"results": out / "results.json", "report": out / "report.md"}
        artifacts.update({p.stem: p for p in doc.pop("_plots")})
        inputs = [p for bset in sets.values() for p in bset.source_files]
        run.record_stage("eval", artifacts, metrics=headline, inputs=inputs)
    else:
        doc.pop("_plots")
    return doc


def _write_outputs(cfg, out: Path, data, results, ece_bins, contamination, timing, t0, stages) -> dict[str, Any]:
    """results.json (byte-identical for one config), report.md, plots/ and timing.json."""
    config = cfg.model_dump(mode="json", exclude={"out"})
    doc: dict[str, Any] = {
        "config": config,
        "data": data,
        "results": results,
        "paper": R.paper_comparison(results, config=config, data=data, run_stages=stages),
    }
    if contamination is not None:
        doc["contamination"] = {
            "index": Path(str(cfg.contamination_index)).name,
            "contaminated_items": sum(1 for v in contamination.items.values() if v),
            "unchecked_items": len(contamination.unchecked),
            "skipped_benchmarks": contamination.skipped,
        }
    write_json_atomic(out / "results.json", doc)
    (out / "report.md").write_text(R.markdown(doc), encoding="utf-8")
    plot_files = R.plots(doc, ece_bins, out / "plots")
    timing["total_seconds"] = time.perf_counter() - t0
    write_json_atomic(out / "timing.json", {k: round(v, 3) for k, v in timing.items()})
    log.info("wrote %s, report.md, items/, plots/", out / "results.json")
    return {**doc, "_plots": plot_files}
