"""Turn per-item records into the numbers a reviewer checks, and write them as JSON, Markdown, JSONL and PNG.

Everything in ``results.json`` is a pure function of the records and the config (sorted keys, rounded floats, seeded
bootstrap, no timestamps), so the same config and seed give a byte-identical file; timings go to ``timing.json``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meditron.errors import InputError
from meditron.eval import paper
from meditron.eval.metrics import accuracy, bootstrap_ci, expected_calibration_error, mean_std
from meditron.eval.paper import paper_comparison, paper_markdown  # paper_comparison: part of the report's API


def _r(x: float) -> float:
    return round(float(x), 6)


def summarize(records: list[dict[str, Any]], *, bootstrap_samples: int) -> dict[str, Any]:
    """Accuracy (records' ``correct`` may be a fraction: seed-averaged), bootstrap CI, n and unparsed count."""
    scores = [float(r["correct"]) for r in records]
    return {
        "accuracy": _r(sum(scores) / len(scores)) if scores else 0.0,
        "ci95": bootstrap_ci(scores, samples=bootstrap_samples),
        "n": len(records),
        "unparsed": sum(1 for r in records if r.get("parsed") is None),
    }


def breakdowns(records: list[dict[str, Any]], benchmark: str) -> dict[str, dict[str, Any]]:
    """Accuracy per MMLU subject, MedMCQA subject, MedQA step or TruthfulQA category (the groups the paper compares);
    TruthfulQA also gets the macro ``average`` over its categories."""
    key = {
        "mmlu_medical": "subject",
        "medmcqa": "subject",
        "medqa4": "step",
        "medqa5": "step",
        "truthfulqa_med": "subject",
        "truthfulqa": "subject",
    }.get(benchmark)
    if key is None:
        return {}
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        groups[str(r.get(key))].append(float(r["correct"]))
    out: dict[str, dict[str, Any]] = {g: {"accuracy": _r(accuracy(v)), "n": len(v)} for g, v in sorted(groups.items())}
    if benchmark.startswith("truthfulqa") and out:  # the paper's Table 13 "Avg": the macro average over categories
        out["average"] = {"accuracy": _r(sum(v["accuracy"] for v in out.values()) / len(out)), "n": len(records)}
    return out


@dataclass
class ContaminationIndex:
    """The corpus stage's decontamination index: which documents contain each benchmark item.

    ``items`` maps item id → document ids (an item with at least one is contaminated); ``unchecked`` items were too
    short to test and ``skipped`` benchmarks were not checked at all, so neither is counted as clean.
    """

    items: dict[str, list[str]]
    unchecked: set[str]
    skipped: dict[str, str]


def load_contamination_index(path: str | Path) -> ContaminationIndex:
    """Read ``contamination_index.json`` (the corpus report's ``{"items": {...}, ...}`` or a bare ``{id: [docs]}``)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("contamination index not found", path=str(p)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(p), record=f"line {e.lineno}") from None
    if not isinstance(data, dict):
        raise InputError("expected an object {item id: [document ids]}", path=str(p))
    unchecked: set[str] = set()
    skipped: dict[str, str] = {}
    if isinstance(data.get("items"), dict):
        unchecked = {str(x) for x in data.get("unchecked_items") or []}
        skipped = {str(k): str(v) for k, v in (data.get("skipped") or {}).items()}
        data = data["items"]
    for item_id, docs in data.items():
        if not isinstance(docs, list):
            raise InputError(
                f"value must be a list of document ids, got {type(docs).__name__}", path=str(p), record=item_id
            )
    return ContaminationIndex({k: [str(d) for d in v] for k, v in data.items()}, unchecked, skipped)


def contamination_split(records: list[dict[str, Any]], index: ContaminationIndex, benchmark: str) -> dict[str, Any]:
    """Accuracy on clean vs contaminated items; unchecked items and unchecked benchmarks are reported, not guessed."""
    if benchmark in index.skipped:
        return {"not_checked": index.skipped[benchmark]}
    clean = [float(r["correct"]) for r in records if not index.items.get(r["id"]) and r["id"] not in index.unchecked]
    dirty = [float(r["correct"]) for r in records if index.items.get(r["id"])]
    unchecked = sum(1 for r in records if r["id"] in index.unchecked and not index.items.get(r["id"]))
    return {
        "clean": {"accuracy": _r(accuracy(clean)), "n": len(clean)},
        "contaminated": {"accuracy": _r(accuracy(dirty)), "n": len(dirty)},
        "unchecked": unchecked,
    }


def top_token_summary(
    zero: list[dict], runs: dict[str, list[dict]], merged: list[dict], *, bootstrap_samples: int
) -> dict:
    """Zero-shot and k-shot (per seed, mean ± std over seeds) results; the headline is k-shot when k > 0."""
    out: dict[str, Any] = {"zero_shot": summarize(zero, bootstrap_samples=bootstrap_samples)}
    out["zero_shot"]["ece"] = expected_calibration_error([r["confidence"] for r in zero], [r["correct"] for r in zero])
    if runs:
        per_seed = {}
        for seed, recs in runs.items():
            s = summarize(recs, bootstrap_samples=bootstrap_samples)
            s["ece"] = expected_calibration_error([r["confidence"] for r in recs], [r["correct"] for r in recs])["ece"]
            per_seed[seed] = s
        mean, std = mean_std([s["accuracy"] for s in per_seed.values()])
        head = summarize(merged, bootstrap_samples=bootstrap_samples)
        pooled = [r for recs in runs.values() for r in recs]
        head.update(
            # Like the accuracy, the headline count is over all seeds (mean); each seed's own is under ``seeds``.
            unparsed=_mean_count([s["unparsed"] for s in per_seed.values()]),
            mean=_r(mean),
            std=_r(std),
            seeds=per_seed,
            num_fewshot=merged[0]["num_fewshot"] if merged else 0,
            ece=expected_calibration_error([r["confidence"] for r in pooled], [r["correct"] for r in pooled]),
        )
    else:
        head = dict(out["zero_shot"])
        head.update(mean=head["accuracy"], std=0.0, seeds={}, num_fewshot=0)
    head["zero_shot"] = out["zero_shot"]
    return head


def _mean_count(counts: list[int]) -> int | float:
    """The mean of per-seed counts: an int when whole (one seed, or seeds that agree), else to 2 decimals."""
    mean = sum(counts) / len(counts)
    return int(mean) if mean.is_integer() else round(mean, 2)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _is_limited(cfg: dict[str, Any], d: dict[str, Any]) -> bool:
    return bool(d.get("limited")) or bool(cfg.get("limit") and d.get("n_items", 0) < d.get("n_total", 0))


def _run_line(doc: dict[str, Any]) -> str:
    """One line: model, backend, modes, shots and seeds, and how items were chosen when limited."""
    cfg = doc["config"]
    seeds = ", ".join(map(str, cfg.get("seeds", [])))
    shots = (
        f"top-token zero-shot and {cfg['num_fewshot']}-shot over seeds {seeds}"
        if cfg.get("num_fewshot")
        else "top-token zero-shot"
    )
    limit = ""
    if cfg.get("limit"):
        seed = cfg.get("sample_seed")
        limit = (
            f" · **limited**: a seeded random sample of {cfg['limit']} items per benchmark (seed {seed})"
            if seed is not None
            else f" · **limited**: {cfg['limit']} items per benchmark"
        )
    tuned = {True: "finetuned", False: "not finetuned"}.get(cfg.get("finetuned"), "finetuned: not recorded")
    return (
        f"Model `{cfg.get('model')}` · backend `{cfg.get('backend')}` · modes {', '.join(cfg.get('modes', []))} · "
        f"{shots} · {tuned}{limit}"
    )


def _mode_note(mode: str, r: dict[str, Any]) -> str:
    note = ""
    if r.get("zero_shot") is not None:
        z = r["zero_shot"]
        ece = (z.get("ece") or {}).get("ece")
        note = f"zero-shot {_pct(z['accuracy'])}" + (f"; ECE {ece:.3f}" if ece is not None else "")
        if r.get("seeds"):
            note = f"{r['num_fewshot']}-shot mean {_pct(r['mean'])} ± {_pct(r['std'])} over seeds; " + note
    if mode == "sc_cot" and r.get("samples"):
        note = f"majority of {r['samples']} samples at temperature {r.get('temperature')}"
    return note


def _headline_lines(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| benchmark | mode | accuracy % | 95% CI | n | unparsed | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    cfg, data = doc["config"], doc.get("data", {})
    for bench, modes in doc["results"].items():
        d = data.get(bench, {})
        limited = f"**limited sample ({d.get('n_items')} of {d.get('n_total')})**" if _is_limited(cfg, d) else ""
        for mode, r in modes.items():
            lo, hi = r["ci95"]
            note = "; ".join(x for x in (limited, _mode_note(mode, r)) if x)
            lines.append(
                f"| {bench} | {mode} | {_pct(r['accuracy'])} | {_pct(lo)}–{_pct(hi)} | {r['n']} | {r['unparsed']} | "
                f"{note} |"
            )
    return lines


def _data_lines(doc: dict[str, Any]) -> list[str]:
    lines = []
    for bench, d in doc.get("data", {}).items():
        files = ", ".join(f"`{f['name']}`" for f in d.get("files", []))
        extra = f"; missing MMLU subjects: {', '.join(d['missing'])}" if d.get("missing") else ""
        if _is_limited(doc["config"], d):
            seed = d.get("sample_seed", doc["config"].get("sample_seed"))
            extra += "; **limited sample**" + (f" (seed {seed})" if seed is not None else "")
        if d.get("truncated_prompts"):
            extra += f"; {d['truncated_prompts']} prompts truncated"
        fewshot = d.get("fewshot_source", "")
        if d.get("fewshot_from_test"):
            fewshot += " (**from the test set**: no train/dev file found)"
        lines.append(f"- **{bench}**: {d.get('n_items')} items evaluated of {d.get('n_total')} ({files}){extra}. "
                     f"Few-shot: {fewshot}.")
    return lines


def _breakdown_lines(doc: dict[str, Any]) -> list[str]:
    lines = []
    for bench, modes in doc["results"].items():
        for mode, r in modes.items():
            if r.get("breakdown"):
                parts = ", ".join(f"{g} {_pct(v['accuracy'])} (n={v['n']})" for g, v in r["breakdown"].items())
                lines.append(f"- {bench} / {mode}: {parts}")
    return lines


def _contamination_lines(doc: dict[str, Any]) -> list[str]:
    lines = ["", "## Clean vs contaminated items", "", f"Index: `{doc['contamination']['index']}`", ""]
    lines += ["| benchmark | mode | clean % (n) | contaminated % (n) | unchecked |", "|---|---|---|---|---|"]
    for bench, modes in doc["results"].items():
        for mode, r in modes.items():
            c = r.get("contamination")
            if c and "not_checked" in c:
                lines.append(f"| {bench} | {mode} | not checked: {c['not_checked']} | |")
            elif c:
                lines.append(
                    f"| {bench} | {mode} | {_pct(c['clean']['accuracy'])} ({c['clean']['n']}) | "
                    f"{_pct(c['contaminated']['accuracy'])} ({c['contaminated']['n']}) | {c['unchecked']} |"
                )
    return lines


def _comparison_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The paper comparison recomputed from the whole document (config: finetuned, limit; data: coverage).

    Recomputing (cheap, deterministic) keeps report.md right for a results.json whose ``paper`` entry was built
    from the results alone or in an older format; a finetune stage found in run.json is carried over.
    """
    setting = (doc.get("paper") or {}).get("setting") or {}
    from_run = str(setting.get("finetuned_from", "")).startswith("run.json")
    return paper_comparison(
        doc["results"], config=doc.get("config"), data=doc.get("data"), run_stages=["finetune"] if from_run else None
    )


def markdown(doc: dict[str, Any]) -> str:
    """A human-readable report of results.json: headline table, data, breakdowns, contamination, the paper."""
    lines = ["# Evaluation report", "", _run_line(doc), "", *_headline_lines(doc)]
    lines += ["", "## Data", "", *_data_lines(doc)]
    lines += ["", "## Breakdowns", "", *_breakdown_lines(doc)]
    if doc.get("contamination"):
        lines += _contamination_lines(doc)
    lines += ["", *paper_markdown(_comparison_of(doc))]
    lines += ["", "Per-item records (prompt, output, parsed answer, gold): `items/<benchmark>/<mode>.jsonl`.", ""]
    return "\n".join(lines)


def paper_panels(comp: dict[str, Any]) -> list[Any]:
    """One panel per setting (mode, shots, finetuned): ours with its 95% CI, the paper's rows with their ± std."""
    from meditron.eval.figures import Panel, Series

    panels = []
    for label, rows in paper.group_by_setting(comp["rows"]).items():
        groups = [
            paper.bench_name(r["benchmark"]) + (f"\n† n={r['n']}, not comparable" if r["not_comparable"] else "")
            for r in rows
        ]
        lo = [r["ours"] - r["ci95"][0] if r.get("ci95") else math.nan for r in rows]
        hi = [r["ci95"][1] - r["ours"] if r.get("ci95") else math.nan for r in rows]
        series = [Series("ours (95% CI)", [r["ours"] for r in rows], lo, hi, [bool(r["not_comparable"]) for r in rows])]
        models = list(dict.fromkeys((c["model"], c["table"]) for r in rows for c in r["paper"]))
        for model, table in models:
            cells = [next((c for c in r["paper"] if (c["model"], c["table"]) == (model, table)), None) for r in rows]
            std = [c.get("std", math.nan) if c else math.nan for c in cells]
            series.append(
                Series(f"{model} (Table {table})", [c["score"] if c else math.nan for c in cells], std, std, color_key=model)
            )
        flagged = any(r["not_comparable"] for r in rows)
        title = label + ("" if models else " (no paper row)") + (" · † ours not comparable" if flagged else "")
        panels.append(Panel(title, groups, series))
    return panels


def plots(doc: dict[str, Any], ece_bins: dict[str, list[dict]], out: Path) -> list[Path]:
    """Scores vs the paper (one panel per setting, error bars) and a reliability diagram per top_token benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from meditron.eval.figures import grouped_bars

    out.mkdir(parents=True, exist_ok=True)
    limited = any(_is_limited(doc["config"], d) for d in doc.get("data", {}).values())
    title = "Scores vs the MEDITRON paper, like with like (error bars: our 95% CI, the paper's ± std over seeds)"
    if limited:
        title += "\nLIMITED RUN: benchmarks marked † are a sample, not comparable with the paper"
    written = [grouped_bars(paper_panels(_comparison_of(doc)), out / "scores_vs_paper.png", title)]
    for bench, bins in ece_bins.items():
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], "k--", linewidth=1)
        if bins:
            centers = [(b["lo"] + b["hi"]) / 2 for b in bins]
            ax.bar(centers, [b["accuracy"] for b in bins], width=0.1, alpha=0.7, edgecolor="k", label="accuracy")
            ax.plot(
                [b["confidence"] for b in bins],
                [b["accuracy"] for b in bins],
                "o",
                color="C3",
                label="mean confidence",
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(f"Reliability: {bench} (top_token)" + (" · limited" if limited else ""))
        ax.legend(fontsize=7)
        fig.tight_layout()
        p = out / f"reliability_{bench}.png"
        fig.savefig(p, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written.append(p)
    return written
