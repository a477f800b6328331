"""Our scores next to the MEDITRON paper's, like with like only.

A published number is shown next to ours only when the paper row has the same setting: mode (the paper's top-token
is ``top_token``, its CoT ``cot``, its SC-CoT ``sc_cot``), shots, and finetuned or not. A benchmark our run did not
cover as the paper did (a ``--limit`` sample, missing MMLU subjects, fewer items than the paper's test set) is kept
but labelled *not comparable*, with the reason. The published numbers live in ``reference/meditron_paper.yaml``
(data, checked against the paper's tables by ``tests/eval/test_report.py``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

REFERENCE_FILE = "reference/meditron_paper.yaml"
MODE_LABELS = {"top_token": "top-token", "cot": "CoT", "sc_cot": "SC-CoT"}
#: Our modes with a paper counterpart (``top_token_options`` and ``chat`` have none: see docs/EVALUATION.md).
PAPER_MODES = tuple(MODE_LABELS)
COMPARABLE, NOT_COMPARABLE, UNKNOWN, NO_ROW = "comparable", "not comparable", "setting unknown", "no paper row"


@lru_cache(maxsize=1)
def load_reference() -> dict[str, Any]:
    """The shipped reference data (parsed once; callers must not mutate it)."""
    text = resources.files("meditron.eval").joinpath(REFERENCE_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def resolve_finetuned(config: dict[str, Any] | None, run_stages: Any = None) -> tuple[bool | None, str]:
    """Finetuned or not: the config's ``finetuned`` when set, else True when the run has a finetune stage.

    A run without a finetune stage may still evaluate a finetuned ``--model``, so absence proves nothing: unknown.
    """
    value = (config or {}).get("finetuned")
    if value is not None:
        return bool(value), "eval.finetuned"
    if run_stages and "finetune" in run_stages:
        return True, "run.json (finetune stage)"
    return None, "unknown"


def _pct(x: float) -> float:
    return round(100 * float(x), 1)


def _setting_label(mode: str, shots: int, finetuned: bool | None) -> str:
    tuned = {True: "finetuned", False: "not finetuned", None: "finetuned unknown"}[finetuned]
    return f"{MODE_LABELS.get(mode, mode)}, {shots}-shot, {tuned}"


def our_settings(mode: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The (mode, shots) settings one result summary holds: a few-shot top_token run also holds its zero-shot pass."""
    if summary.get("zero_shot") is not None:  # top_token / top_token_options: headline k-shot + zero-shot
        shots = int(summary.get("num_fewshot") or 0)
        out = [{"mode": mode, "shots": shots, "summary": summary}]
        if shots:
            out.append({"mode": mode, "shots": 0, "summary": summary["zero_shot"]})
        return out
    return [{"mode": mode, "shots": 0, "summary": summary}]


def coverage_notes(
    bench: str, n: int, data_entry: dict[str, Any] | None, config: dict[str, Any] | None, shots: int
) -> tuple[list[str], list[str]]:
    """(reasons the benchmark is not comparable, informational notes) for one benchmark of our run."""
    ref = load_reference()["benchmarks"].get(bench, {})
    d = data_entry or {}
    blocking: list[str] = []
    notes: list[str] = []
    n_total = d.get("n_total")
    limited = bool(d.get("limited")) or bool((config or {}).get("limit") and n_total and n < n_total)
    if limited:
        seed = d.get("sample_seed", (config or {}).get("sample_seed"))
        how = f"seeded random sample (seed {seed})" if seed is not None else "limited sample (--limit)"
        blocking.append(f"{how}: {n} of {n_total} items")
    if d.get("missing"):
        blocking.append(f"subjects missing: {', '.join(d['missing'])}")
    paper_n = ref.get("paper_n_test")
    if paper_n and n < paper_n and not limited:
        blocking.append(f"{n} items, fewer than the paper's {paper_n:,}")
    elif paper_n and n > paper_n and not limited:
        notes.append(f"the paper reports {paper_n:,} questions; these files hold {n:,}")
    if shots and d.get("fewshot_from_test"):
        notes.append("demonstrations drawn from the test set (no train/dev file); the paper used the training set")
    if d.get("truncated_prompts"):
        notes.append(f"{d['truncated_prompts']} prompts truncated to the model's context")
    return blocking, notes


def matching_rows(bench: str, mode: str, shots: int, finetuned: bool | None) -> list[dict[str, Any]]:
    """The paper's headline rows scoring ``bench`` in this setting (both finetuned states when ours is unknown)."""
    return [
        r
        for r in load_reference()["rows"]
        if r["kind"] == "main"
        and bench in r.get("scores", {})
        and r["mode"] == mode
        and r["shots"] == shots
        and (finetuned is None or r["finetuned"] == finetuned)
    ]


def _paper_cell(row: dict[str, Any], bench: str) -> dict[str, Any]:
    cell = {
        "model": row["model"],
        "size": row["size"],
        "table": row["table"],
        "score": row["scores"][bench],
        "finetuned": row["finetuned"],
        "instruction_tuned": bool(row.get("instruction_tuned")),
    }
    if bench in row.get("std", {}):
        cell["std"] = row["std"][bench]
    return cell


def _category_average(breakdown: dict[str, Any], subjects: list[str]) -> float | None:
    """Table 13's score: the mean of the per-category accuracies, when every category is present."""
    got = {str(k).lower(): v["accuracy"] for k, v in (breakdown or {}).items()}
    if not subjects or any(s not in got for s in subjects):
        return None
    return sum(got[s] for s in subjects) / len(subjects)


def _status(blocking: list[str], finetuned: bool | None, paper: list) -> str:
    if not paper:
        return NO_ROW
    if blocking:
        return NOT_COMPARABLE
    return UNKNOWN if finetuned is None else COMPARABLE


def comparison_row(
    bench: str, setting: dict[str, Any], finetuned: bool | None, data_entry: dict | None, config: dict | None
) -> dict[str, Any]:
    """One benchmark × setting of our run, the matching paper rows and whether the two can be compared."""
    s, mode, shots = setting["summary"], setting["mode"], setting["shots"]
    n = int(s.get("n", 0))
    blocking, notes = coverage_notes(bench, n, data_entry, config, shots)
    ours, ci = _pct(s.get("accuracy", 0.0)), [_pct(x) for x in s.get("ci95", [0.0, 0.0])]
    ref_bench = load_reference()["benchmarks"].get(bench, {})
    if bench == "truthfulqa_med":
        avg = _category_average(s.get("breakdown", {}), ref_bench.get("subjects", []))
        if avg is None:
            blocking.append("no per-category accuracies: the paper's score is the average of the 4 categories")
        else:
            ours, ci = _pct(avg), None
            notes.append("ours = average of the 4 category accuracies, as Table 13")
    paper = [_paper_cell(r, bench) for r in matching_rows(bench, mode, shots, finetuned)] if mode in PAPER_MODES else []
    if mode not in PAPER_MODES:
        notes.append(f"the paper has no {mode} mode" + (": its top-token is mode top_token" if "top_token" in mode else ""))
    if finetuned is None and paper:
        notes.append("finetuned or not is unknown (set eval.finetuned): paper rows of both kinds shown")
    return {
        "benchmark": bench,
        "mode": mode,
        "shots": shots,
        "finetuned": finetuned,
        "setting": _setting_label(mode, shots, finetuned),
        "ours": ours,
        "ci95": ci,
        "n": n,
        "status": _status(blocking, finetuned, paper),
        "not_comparable": blocking,
        "notes": notes,
        "paper": paper,
    }


def subject_rows(results: dict[str, dict[str, Any]], finetuned: bool | None, data: dict | None, config: dict | None):
    """Per-subject comparisons: MMLU-Medical against Table 12, TruthfulQA's categories against Table 13."""
    ref = load_reference()
    out = []
    for bench, modes in results.items():
        for mode, summary in modes.items():
            breakdown = summary.get("breakdown") or {}
            if not breakdown or mode not in PAPER_MODES:
                continue
            shots = int(summary.get("num_fewshot") or 0) if summary.get("zero_shot") is not None else 0
            rows = [
                r
                for r in ref["rows"]
                if r["kind"] == "main"
                and bench in r.get("subjects", {})
                and r["mode"] == mode
                and r["shots"] == shots
                and (finetuned is None or r["finetuned"] == finetuned)
            ]
            if not rows:
                continue
            ours = {str(k).lower(): _pct(v["accuracy"]) for k, v in breakdown.items()}
            n = {str(k).lower(): v["n"] for k, v in breakdown.items()}
            blocking, _ = coverage_notes(bench, int(summary.get("n", 0)), (data or {}).get(bench), config, shots)
            out.append(
                {
                    "benchmark": bench,
                    "mode": mode,
                    "shots": shots,
                    "setting": _setting_label(mode, shots, finetuned),
                    "ours": ours,
                    "n": n,
                    "status": _status(blocking, finetuned, rows),
                    "not_comparable": blocking,
                    "paper": [
                        {"model": r["model"], "table": r["table"], "scores": r["subjects"][bench]} for r in rows
                    ],
                }
            )
    return out


def paper_comparison(
    results: dict[str, dict[str, Any]],
    config: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    run_stages: Any = None,
) -> dict[str, Any]:
    """Every benchmark × mode × shots of our run with the paper rows of the same setting (results.json ``paper``)."""
    ref = load_reference()
    finetuned, finetuned_from = resolve_finetuned(config, run_stages)
    rows = [
        comparison_row(bench, setting, finetuned, (data or {}).get(bench), config)
        for bench, modes in results.items()
        for mode, summary in modes.items()
        for setting in our_settings(mode, summary)
    ]
    return {
        "source": ref["source"],
        "reference": f"src/meditron/eval/{REFERENCE_FILE}",
        "tables": {k: v["title"] for k, v in ref["tables"].items()},
        "setting": {"finetuned": finetuned, "finetuned_from": finetuned_from},
        "rows": rows,
        "subjects": subject_rows(results, finetuned, data, config),
    }


def bench_name(bench: str) -> str:
    return load_reference()["benchmarks"].get(bench, {}).get("name", bench)


def group_by_setting(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["setting"], []).append(r)
    return groups


def _ours_cell(r: dict[str, Any]) -> str:
    ci = f" [{r['ci95'][0]:.1f}–{r['ci95'][1]:.1f}]" if r.get("ci95") else ""
    mark = " †" if r["not_comparable"] else ""
    return f"{r['ours']:.1f}{ci} (n={r['n']}){mark}"


def _row_setting(cell: dict[str, Any]) -> str:
    if cell["instruction_tuned"]:
        return "instruction-tuned, as is"
    return "finetuned" if cell["finetuned"] else "pretrained"


def _setting_table(rows: list[dict[str, Any]]) -> list[str]:
    """The paper's layout for one setting: models × benchmarks, our run first, each paper row with its table."""
    benches = [r["benchmark"] for r in rows]
    models: dict[tuple[str, str, str], dict[str, str]] = {}
    for r in rows:
        for c in r["paper"]:
            std = f" ± {c['std']}" if "std" in c else ""
            key = (c["model"], f"Table {c['table']} · {_row_setting(c)}", c["table"])
            models.setdefault(key, {})[r["benchmark"]] = f"{c['score']}{std}"
    lines = ["| model | source | " + " | ".join(bench_name(b) for b in benches) + " |"]
    lines.append("|---|---|" + "---|" * len(benches))
    lines.append("| **ours** | this run | " + " | ".join(_ours_cell(r) for r in rows) + " |")
    for (model, source, _), cells in models.items():
        lines.append(f"| {model} | {source} | " + " | ".join(cells.get(b, "–") for b in benches) + " |")
    return lines


def _setting_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Reasons (†) per benchmark, then notes; a note every benchmark shares is written once."""
    out = [f"- † {r['benchmark']}: not comparable: {why}." for r in rows for why in r["not_comparable"]]
    shared = [n for n in rows[0]["notes"] if all(n in r["notes"] for r in rows)] if len(rows) > 1 else []
    out += [f"- {note}." for note in shared]
    out += [f"- {r['benchmark']}: {note}." for r in rows for note in r["notes"] if note not in shared]
    return out


def _subject_lines(subjects: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for s in subjects:
        keys = load_reference()["benchmarks"][s["benchmark"]]["subjects"]
        tables = ", ".join(sorted({p["table"] for p in s["paper"]}))
        mark = " †" if s["not_comparable"] else ""
        lines += ["", f"### {bench_name(s['benchmark'])} per subject: {s['setting']} (Table {tables}){mark}", ""]
        lines.append("| model | " + " | ".join(keys) + " |")
        lines.append("|---|" + "---|" * len(keys))
        ours = [f"{s['ours'][k]:.1f} (n={s['n'][k]})" if k in s["ours"] else "–" for k in keys]
        lines.append("| **ours** | " + " | ".join(ours) + " |")
        for p in s["paper"]:
            lines.append(f"| {p['model']} | " + " | ".join(str(p["scores"].get(k, "–")) for k in keys) + " |")
        lines += [f"- † not comparable: {why}." for why in s["not_comparable"]]
    return lines


def paper_markdown(comp: dict[str, Any]) -> list[str]:
    """The report's "Compared with the MEDITRON paper" section, one table per setting (like with like)."""
    setting = comp.get("setting", {})
    tuned = {True: "yes", False: "no"}.get(setting.get("finetuned"), "unknown (set eval.finetuned)")
    lines = [
        "## Compared with the MEDITRON paper",
        "",
        f"Source: {comp['source']}; reference data `{comp.get('reference', REFERENCE_FILE)}`.",
        "",
        "A published number is shown only next to ours in the same setting (mode, shots, finetuned or not); "
        f"† marks a benchmark of ours that is not comparable, with the reason. Finetuned: {tuned}"
        + (f" (from {setting['finetuned_from']})." if setting.get("finetuned") is not None else "."),
    ]
    for label, rows in group_by_setting(comp["rows"]).items():
        tables = sorted({c["table"] for r in rows for c in r["paper"]})
        where = f"paper Table {', '.join(tables)}" if tables else "no paper row in this setting"
        lines += ["", f"### {label} ({where})", "", *_setting_table(rows)]
        notes = _setting_notes(rows)
        if notes:
            lines += ["", *notes]
    lines += _subject_lines(comp.get("subjects", []))
    return lines
