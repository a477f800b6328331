"""``meditron eval compare``: several models' results side by side, with which differences are real.

For every benchmark and setting (mode + shots) that two models share, on the items both evaluated (joined by item
id from ``items/<benchmark>/*.jsonl``): the accuracy difference, its paired bootstrap 95% interval (the same resampled
items for both models) and McNemar's exact p-value (a two-sided binomial test on the discordant items: one model
right, the other wrong). The paper's Table 4 prints PubMedQA 49.1 ± 51.1; this says whether 2 points is noise.

Few-shot top_token runs score each item once per seed. The accuracy difference and its interval use the per-item
fraction of seeds answered correctly (so the difference is that of the headline accuracies on the shared items);
McNemar, which needs right/wrong, counts an item right when a majority of the seeds got it right (with an even number
of seeds a tie counts as wrong).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from meditron.errors import InputError
from meditron.eval.metrics import BOOTSTRAP_SEED
from meditron.eval.paper import bench_name, our_settings, resolve_finetuned
from meditron.json_io import write_json_atomic


@dataclass
class Outcome:
    """One model's result on one item: ``score`` in [0, 1] (seed-averaged), ``right`` for McNemar."""

    score: float
    right: bool


@dataclass
class EvalResult:
    """One results.json with where it came from and the per-item records beside it."""

    label: str
    path: Path
    doc: dict[str, Any]
    finetuned: bool | None

    @property
    def items_dir(self) -> Path:
        return self.path.parent / "items"


def locate_results(arg: str | Path) -> Path:
    """A results.json path, an eval output folder holding one, or a run folder holding ``eval/results.json``."""
    p = Path(arg)
    for candidate in (p, p / "results.json", p / "eval" / "results.json"):
        if candidate.is_file():
            return candidate
    raise InputError(
        "no results.json here: pass a results.json, an eval output folder or a run folder with eval/results.json",
        path=str(p),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(path), record=f"line {e.lineno}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise InputError("not a meditron eval results.json (no 'results' object)", path=str(path))
    return doc


def load_result(arg: str | Path) -> EvalResult:
    """Read one model's results; a run folder's run.json tells whether it was finetuned (unless eval.finetuned)."""
    path = locate_results(arg)
    doc = _read_json(path)
    run_json = path.parent.parent / "run.json" if path.parent.name == "eval" else None
    stages = None
    if run_json is not None and run_json.is_file():
        stages = json.loads(run_json.read_text(encoding="utf-8")).get("stages")
    finetuned, _ = resolve_finetuned(doc.get("config"), stages)
    label = path.parent.parent.name if run_json is not None and run_json.is_file() else path.parent.name
    return EvalResult(label=label or str(path), path=path, doc=doc, finetuned=finetuned)


def _unique_labels(results: list[EvalResult]) -> None:
    """Make labels distinct by adding parent folder names (``a/eval`` and ``b/eval`` → ``a``, ``b``)."""
    seen: dict[str, int] = {}
    for r in results:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in results:
        if seen[r.label] > 1:
            r.label = str(r.path.parent.resolve())


def _read_records(path: Path) -> dict[str, bool]:
    out: dict[str, bool] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON ({e.msg})", path=str(path), record=f"line {lineno}") from None
            if "id" not in rec or "correct" not in rec:
                raise InputError("record lacks 'id' or 'correct'", path=str(path), record=f"line {lineno}")
            if rec["id"] in out:
                raise InputError(f"duplicate item id {rec['id']!r}", path=str(path), record=f"line {lineno}")
            out[str(rec["id"])] = bool(rec["correct"])
    return out


def item_files(items_dir: Path, bench: str, mode: str, shots: int) -> list[Path]:
    """The JSONL files holding one setting's items: one per seed for few-shot top_token, else one."""
    folder = items_dir / bench
    if shots:
        return sorted(folder.glob(f"{mode}_{shots}shot_seed*.jsonl"))
    for name in (f"{mode}_zero_shot.jsonl", f"{mode}.jsonl"):
        if (folder / name).is_file():
            return [folder / name]
    return []


def item_outcomes(result: EvalResult, bench: str, mode: str, shots: int) -> dict[str, Outcome] | None:
    """Per-item outcomes of one setting (None when the items folder lacks them: the table shows no pair stats)."""
    files = item_files(result.items_dir, bench, mode, shots)
    if not files:
        return None
    per_seed = [_read_records(f) for f in files]
    ids = set(per_seed[0])
    for f, recs in zip(files[1:], per_seed[1:], strict=True):
        if set(recs) != ids:
            raise InputError(f"its items differ from those of {files[0].name}", path=str(f))
    out = {}
    for i in ids:
        hits = sum(recs[i] for recs in per_seed)
        out[i] = Outcome(score=hits / len(per_seed), right=2 * hits > len(per_seed))
    return out


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: Binomial(n = discordant pairs, 1/2), twice the smaller tail, at most 1.

    Exact integer arithmetic (no float tail sums), so 8 vs 2 gives 2·(1+10+45)/2¹⁰ = 0.109375 exactly.
    """
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_bootstrap(diff: np.ndarray, samples: int, seed: int, chunk: int = 256) -> list[float]:
    """Percentile 95% interval of the mean per-item difference, resampling items (the same for both models)."""
    n = len(diff)
    if n == 0:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, chunk):  # bounded memory on MedMCQA-sized sets
        stop = min(samples, start + chunk)
        means[start:stop] = diff[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [round(float(lo), 6), round(float(hi), 6)]


def pair_stats(a: dict[str, Outcome], b: dict[str, Outcome], *, samples: int, seed: int) -> dict[str, Any]:
    """Accuracy difference a − b on the shared items, its paired bootstrap 95% CI, and McNemar's exact p-value."""
    shared = sorted(set(a) & set(b))
    xa = np.asarray([a[i].score for i in shared], dtype=np.float64)
    xb = np.asarray([b[i].score for i in shared], dtype=np.float64)
    a_only = sum(1 for i in shared if a[i].right and not b[i].right)
    b_only = sum(1 for i in shared if b[i].right and not a[i].right)
    return {
        "n_shared": len(shared),
        "n_a": len(a),
        "n_b": len(b),
        "accuracy_a": round(float(xa.mean()), 6) if shared else 0.0,
        "accuracy_b": round(float(xb.mean()), 6) if shared else 0.0,
        "difference": round(float((xa - xb).mean()), 6) if shared else 0.0,
        "ci95": paired_bootstrap(xa - xb, samples, seed),
        "a_right_b_wrong": a_only,
        "a_wrong_b_right": b_only,
        "mcnemar_p": mcnemar_exact(a_only, b_only),
    }


def setting_key(mode: str, shots: int) -> str:
    return f"{mode} {shots}-shot" if mode.startswith("top_token") else mode


def _score_cell(res: EvalResult, bench: str, summary: dict[str, Any]) -> dict[str, Any]:
    d = (res.doc.get("data") or {}).get(bench, {})
    limit = (res.doc.get("config") or {}).get("limit")
    limited = bool(d.get("limited")) or bool(limit and d.get("n_items", 0) < d.get("n_total", 0))
    return {
        "accuracy": summary.get("accuracy", 0.0),
        "ci95": summary.get("ci95", [0.0, 0.0]),
        "n": summary.get("n", 0),
        "limited": limited,
        "missing_subjects": list(d.get("missing") or []),
    }


def _collect(results: list[EvalResult]) -> dict[tuple[str, int], dict[str, dict[str, Any]]]:
    """(mode, shots) → benchmark → model label → (cell, result) for every setting any model has."""
    table: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for res in results:
        for bench, modes in res.doc["results"].items():
            for mode, summary in modes.items():
                for s in our_settings(mode, summary):
                    cell = _score_cell(res, bench, s["summary"])
                    table.setdefault((s["mode"], s["shots"]), {}).setdefault(bench, {})[res.label] = cell
    return table


def compare(paths: list[str | Path], *, bootstrap: int = 2000, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """The comparison document (compare.json): per setting, each model's scores and every pair's statistics."""
    if len(paths) < 2:
        raise InputError("compare needs at least two results (run folders, eval folders or results.json files)")
    results = [load_result(p) for p in paths]
    _unique_labels(results)
    by_label = {r.label: r for r in results}
    cache: dict[tuple[str, str, str, int], dict[str, Outcome] | None] = {}

    def outcomes(label: str, bench: str, mode: str, shots: int) -> dict[str, Outcome] | None:
        key = (label, bench, mode, shots)
        if key not in cache:
            cache[key] = item_outcomes(by_label[label], bench, mode, shots)
        return cache[key]

    settings = []
    for (mode, shots), benches in _collect(results).items():
        pairs = []
        for a, b in combinations([r.label for r in results], 2):
            stats = {}
            for bench, cells in benches.items():
                if a not in cells or b not in cells:
                    continue
                oa, ob = outcomes(a, bench, mode, shots), outcomes(b, bench, mode, shots)
                if oa is None or ob is None:
                    stats[bench] = {"unavailable": "per-item records (items/*.jsonl) not found"}
                else:
                    stats[bench] = pair_stats(oa, ob, samples=bootstrap, seed=seed)
            if stats:
                pairs.append({"a": a, "b": b, "benchmarks": stats})
        settings.append(
            {"setting": setting_key(mode, shots), "mode": mode, "shots": shots, "scores": benches, "pairs": pairs}
        )
    return {
        "models": [
            {"label": r.label, "results": str(r.path), "model": (r.doc.get("config") or {}).get("model"),
             "finetuned": r.finetuned}
            for r in results
        ],
        "bootstrap": {"samples": bootstrap, "seed": seed},
        "settings": settings,
    }


# ---------------------------------------------------------------- rendering: rows of text cells, then rich/Markdown


def _fmt_score(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    lo, hi = cell["ci95"]
    mark = " †" if cell["limited"] or cell["missing_subjects"] else ""
    return f"{100 * cell['accuracy']:.1f} [{100 * lo:.1f}–{100 * hi:.1f}] n={cell['n']}{mark}"


def _fmt_pair(stats: dict[str, Any] | None) -> str:
    if stats is None:
        return "–"
    if "unavailable" in stats:
        return "no item records"
    lo, hi = stats["ci95"]
    n = f"n={stats['n_shared']}"
    if stats["n_shared"] < max(stats["n_a"], stats["n_b"]):
        n += f" shared of {stats['n_a']}/{stats['n_b']}"
    return (
        f"{100 * stats['difference']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] "
        f"p={stats['mcnemar_p']:.3g} ({stats['a_right_b_wrong']}/{stats['a_wrong_b_right']}) {n}"
    )


def text_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) per setting: scores (models × benchmarks), then pairs (pairs × benchmarks)."""
    out = []
    labels = [m["label"] for m in doc["models"]]
    for s in doc["settings"]:
        benches = list(s["scores"])
        header = ["model", *[bench_name(b) for b in benches]]
        rows = [[lab, *[_fmt_score(s["scores"][b].get(lab)) for b in benches]] for lab in labels]
        out.append((f"{s['setting']}: accuracy % [95% CI]", header, rows))
        if s["pairs"]:
            prow = [[f"{p['a']} − {p['b']}", *[_fmt_pair(p["benchmarks"].get(b)) for b in benches]] for p in s["pairs"]]
            out.append((f"{s['setting']}: difference in points [paired bootstrap 95% CI], McNemar exact p "
                        "(a right only / b right only)", ["pair", *header[1:]], prow))
    return out


def markdown(doc: dict[str, Any]) -> str:
    b = doc["bootstrap"]
    lines = ["# Model comparison", ""]
    lines += [f"- **{m['label']}**: `{m['results']}` (model `{m['model']}`)" for m in doc["models"]]
    lines += [
        "",
        f"Differences are the first model minus the second, on the items both evaluated (joined by item id); "
        f"interval: paired bootstrap, {b['samples']} resamples, seed {b['seed']}; p: McNemar's exact test on the "
        "discordant items. Few-shot top_token: per-item fraction of seeds right for the difference, majority of seeds "
        "for McNemar. † = a limited sample or missing subjects.",
    ]
    for title, header, rows in text_tables(doc):
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def tables(doc: dict[str, Any]) -> list[Any]:
    """The comparison as rich renderables (one table per setting, then the footnote) for the CLI to print."""
    from rich.markup import escape
    from rich.table import Table

    out: list[Any] = []
    for title, header, rows in text_tables(doc):
        table = Table(title=escape(title), title_justify="left")
        for h in header:
            table.add_column(escape(h), overflow="fold")
        for r in rows:
            table.add_row(*map(escape, r))
        out.append(table)
    b = doc["bootstrap"]
    out.append(
        escape(
            f"Differences: first model − second, on the items both evaluated; paired bootstrap {b['samples']} "
            f"resamples (seed {b['seed']}); McNemar exact p on the discordant items. † = limited sample or missing "
            "subjects."
        )
    )
    return out


def plot(doc: dict[str, Any], path: Path) -> Path:
    """One panel per setting: each model's accuracy per benchmark with its 95% CI (hatched: limited sample)."""
    from meditron.eval.figures import Panel, Series, grouped_bars

    panels = []
    for s in doc["settings"]:
        benches = list(s["scores"])
        series = []
        for m in doc["models"]:
            cells = [s["scores"][b].get(m["label"]) for b in benches]
            val = [100 * c["accuracy"] if c else math.nan for c in cells]
            lo = [v - 100 * c["ci95"][0] if c else math.nan for v, c in zip(val, cells, strict=True)]
            hi = [100 * c["ci95"][1] - v if c else math.nan for v, c in zip(val, cells, strict=True)]
            hatch = [bool(c and (c["limited"] or c["missing_subjects"])) for c in cells]
            series.append(Series(m["label"], val, lo, hi, hatch))
        limited = any(h for se in series for h in se.hatched)
        panels.append(Panel(s["setting"] + (" · hatched = limited sample" if limited else ""),
                            [bench_name(b) for b in benches], series))
    return grouped_bars(panels, path, "Accuracy with 95% bootstrap intervals")


def write_outputs(doc: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "compare.json", doc)
    (out / "compare.md").write_text(markdown(doc), encoding="utf-8")
    return [out / "compare.json", out / "compare.md", plot(doc, out / "compare.png")]
