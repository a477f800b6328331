"""``meditron eval``: load the official benchmark files, run the requested modes through an lm-eval model, report.

Outputs in ``<out>/``: ``results.json`` (byte-identical for the same config), ``report.md``, ``items/<bench>/<mode>.jsonl``
(prompt, output, parsed answer, gold per item; per seed for few-shot top_token), ``plots/*.png`` and ``timing.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.errors import ConfigError, MeditronError
from meditron.eval.benchmarks import BenchmarkSet, load_benchmark
from meditron.eval.config import EvalConfig
from meditron.sample import resolve_path

if TYPE_CHECKING:
    from meditron.run import RunDir


def _fewshot_pool(name: str, test: BenchmarkSet, cfg: EvalConfig, data_dir: Path):
    from meditron.eval.modes import FewshotPool

    fs_dir = resolve_path(cfg.fewshot_file_dir) if cfg.fewshot_file_dir else data_dir
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
        what = "labelled PubMedQA items outside the test split" if name == "pubmedqa" else "train/dev file"
        dropped = (
            f", {len(fs.items) - len(kept)} overlapping the test set dropped" if len(kept) < len(fs.items) else ""
        )
        return FewshotPool(kept, f"{what} ({files}, {len(kept)} items{dropped})", from_test=False)
    return FewshotPool(
        test.items, "test set: other items of the same set, excluding the question itself", from_test=True
    )


def _data_entry(bset: BenchmarkSet, items: list, pool_source: str) -> dict[str, Any]:
    from meditron.run import sha256_file

    return {
        "files": [{"name": p.name, "sha256": sha256_file(p)} for p in bset.source_files],
        "missing": list(bset.missing),
        "n_total": len(bset.items),
        "n_items": len(items),
        "fewshot_source": pool_source,
    }


def _say(text: str) -> None:
    """One progress line per pass on stderr (evaluations run for hours on real models)."""
    print(f"eval: {text}", file=sys.stderr, flush=True)


def _scored(fn, lm, items, cfg: EvalConfig, **kw):
    """Run a top_token pass; an HTTP server without prompt log-probabilities gets a clear error, not a KeyError."""
    if cfg.backend != "openai":
        return fn(lm, items, **kw)
    try:
        return fn(lm, items, **kw)
    except Exception as e:  # lm-eval raises assorted errors when a server returns no prompt logprobs
        raise MeditronError(
            f"top_token over HTTP failed ({type(e).__name__}: {e}); it needs a /v1/completions endpoint that returns "
            f"prompt log-probabilities (echo=true, logprobs>=1) at {cfg.base_url} (meditron serve does, with its "
            "transformers backend); otherwise use modes cot/sc_cot/chat there, or a local --backend meditron"
        ) from None


def run_eval(cfg: EvalConfig, run: RunDir | None = None) -> dict[str, Any]:
    """Evaluate ``cfg.model`` on ``cfg.benchmarks`` in ``cfg.modes``; write the reports; return results.json's dict."""
    from meditron.eval import modes as M
    from meditron.eval import report as R
    from meditron.eval.backends import make_lm

    if cfg.out is not None:
        out = Path(cfg.out)
    elif run is not None:
        out = run.eval
    else:
        raise ConfigError("eval.out is required when no run directory is given (e.g. --out runs/eval)")
    if not cfg.data_dir:
        raise ConfigError("eval.data_dir is required: a folder holding the official benchmark files (--data-dir)")
    data_dir = resolve_path(cfg.data_dir)
    model = str(resolve_path(cfg.model)) if cfg.model else None
    contamination = (
        R.load_contamination_index(resolve_path(cfg.contamination_index)) if cfg.contamination_index else None
    )

    t0 = time.perf_counter()
    timing: dict[str, Any] = {}
    sets = {name: load_benchmark(name, data_dir) for name in cfg.benchmarks}  # fail on bad data before loading a model
    generative = [m for m in cfg.modes if m != "top_token"]
    chat_api = cfg.backend == "openai"
    tok = str(resolve_path(cfg.tokenizer)) if cfg.tokenizer else (model if model and Path(model).is_dir() else None)
    lm_ll = (
        make_lm(cfg.backend, model, base_url=cfg.base_url, batch_size=cfg.batch_size, generative=False, tokenizer=tok)
        if "top_token" in cfg.modes
        else None
    )
    if generative:
        lm_gen = (
            lm_ll
            if (lm_ll is not None and not chat_api)
            else make_lm(cfg.backend, model, base_url=cfg.base_url, batch_size=cfg.batch_size, generative=True)
        )
    timing["load_seconds"] = time.perf_counter() - t0

    results: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    ece_bins: dict[str, list] = {}
    items_dir = out / "items"
    for name, bset in sets.items():
        items = bset.items[: cfg.limit] if cfg.limit else bset.items
        pool = _fewshot_pool(name, bset, cfg, data_dir) if "top_token" in cfg.modes and cfg.num_fewshot else None
        data[name] = _data_entry(bset, items, pool.source if pool else "not used (zero-shot only)")
        results[name] = {}
        for mode in cfg.modes:
            tm = time.perf_counter()
            _say(f"{name} {mode}: {len(items)} questions ({bset.source_files[0].parent})")
            if mode == "top_token":
                zero = _scored(M.top_token, lm_ll, items, cfg, k=0, seed=None, pool=None)
                runs = {}
                if cfg.num_fewshot and pool is not None:
                    for seed in cfg.seeds:
                        _say(f"{name} top_token {cfg.num_fewshot}-shot, seed {seed}")
                        runs[str(seed)] = _scored(
                            M.top_token, lm_ll, items, cfg, k=cfg.num_fewshot, seed=seed, pool=pool
                        )
                merged = M.per_item_mean(runs) if runs else zero
                summary = R.top_token_summary(zero, runs, merged, bootstrap_samples=cfg.bootstrap_samples)
                ece_bins[name] = summary["ece"]["bins"] if runs else summary["zero_shot"]["ece"]["bins"]
                R.write_jsonl(items_dir / name / "top_token_zero_shot.jsonl", zero)
                for seed, recs in runs.items():
                    R.write_jsonl(items_dir / name / f"top_token_{cfg.num_fewshot}shot_seed{seed}.jsonl", recs)
                records = merged
            else:
                sc = mode == "sc_cot"
                records = M.generate(
                    lm_gen,
                    items,
                    mode=mode,
                    max_new_tokens=cfg.max_new_tokens,
                    samples=cfg.sc_samples if sc else 1,
                    temperature=cfg.sc_temperature if sc else 0.0,
                    seed=cfg.seeds[0] if cfg.seeds else 1234,
                    chat_api=chat_api,
                )
                summary = R.summarize(records, bootstrap_samples=cfg.bootstrap_samples)
                if sc:
                    summary.update(samples=cfg.sc_samples, temperature=cfg.sc_temperature)
                R.write_jsonl(items_dir / name / f"{mode}.jsonl", records)
            summary["breakdown"] = R.breakdowns(records, name)
            if contamination is not None:
                summary["contamination"] = R.contamination_split(records, contamination, name)
            results[name][mode] = summary
            timing[f"{name}/{mode}_seconds"] = time.perf_counter() - tm
            lo, hi = summary["ci95"]
            _say(
                f"{name} {mode}: accuracy {summary['accuracy']:.4f} [{lo:.4f}, {hi:.4f}] n={summary['n']} "
                f"unparsed={summary['unparsed']} ({timing[f'{name}/{mode}_seconds']:.1f} s)"
            )

    doc: dict[str, Any] = {
        "config": cfg.model_dump(mode="json", exclude={"out"}),
        "data": data,
        "results": results,
        "paper": R.paper_comparison(results),
    }
    if contamination is not None:
        doc["contamination"] = {
            "index": Path(str(cfg.contamination_index)).name,
            "contaminated_items": sum(1 for v in contamination.items.values() if v),
            "unchecked_items": len(contamination.unchecked),
            "skipped_benchmarks": contamination.skipped,
        }
    R.write_json(out / "results.json", doc)
    (out / "report.md").write_text(R.markdown(doc), encoding="utf-8")
    plot_files = R.plots(doc, ece_bins, out / "plots")
    timing["total_seconds"] = time.perf_counter() - t0
    R.write_json(out / "timing.json", {k: round(v, 3) for k, v in timing.items()})
    _say(f"wrote {out / 'results.json'}, report.md, items/, plots/")
    if run is not None:
        headline = {f"{b}/{m}": r["accuracy"] for b, ms in results.items() for m, r in ms.items()}
        artifacts: dict[str, str | Path] = {"results": out / "results.json", "report": out / "report.md"}
        artifacts.update({p.stem: p for p in plot_files})
        inputs = [p for bset in sets.values() for p in bset.source_files]
        run.record_stage("eval", artifacts, metrics=headline, inputs=inputs)
    return doc
