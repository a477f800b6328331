"""Turn per-item records into the numbers a reviewer checks, and write them as JSON, Markdown, JSONL and PNG.

Everything in ``results.json`` is a pure function of the records and the config (sorted keys, rounded floats, seeded
bootstrap, no timestamps), so the same config and seed give a byte-identical file; timings go to ``timing.json``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from meditron.errors import InputError
from meditron.eval.metrics import accuracy, bootstrap_ci, expected_calibration_error, mean_std


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
    """Accuracy per MMLU subject, MedMCQA subject or MedQA step (the groups the paper and its readers compare)."""
    key = {"mmlu_medical": "subject", "medmcqa": "subject", "medqa4": "step", "medqa5": "step"}.get(benchmark)
    if key is None:
        return {}
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        groups[str(r.get(key))].append(float(r["correct"]))
    return {g: {"accuracy": _r(accuracy(v)), "n": len(v)} for g, v in sorted(groups.items())}


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


def paper_reference() -> dict[str, Any]:
    text = resources.files("meditron.eval").joinpath("reference/meditron_paper.json").read_text(encoding="utf-8")
    return json.loads(text)


def paper_comparison(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Our accuracy (%) per benchmark and mode next to each published model's score."""
    ref = paper_reference()
    rows = {}
    for bench, modes in results.items():
        ours = {m: _r(100 * v["accuracy"]) for m, v in modes.items()}
        paper = {name: m["scores"][bench] for name, m in ref["models"].items() if bench in m["scores"]}
        rows[bench] = {"ours": ours, "paper": paper}
    return {"source": ref["source"], "rows": rows}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown(doc: dict[str, Any]) -> str:
    """A human-readable report of results.json: headline table, seeds, breakdowns, contamination, paper, data."""
    lines = ["# Evaluation report", ""]
    cfg = doc["config"]
    shots = (
        f"top-token zero-shot and {cfg['num_fewshot']}-shot over seeds {', '.join(map(str, cfg['seeds']))}"
        if cfg["num_fewshot"]
        else "top-token zero-shot"
    )
    limit = f" · first {cfg['limit']} items per benchmark" if cfg.get("limit") else ""
    lines += [
        f"Model `{cfg['model']}` · backend `{cfg['backend']}` · modes {', '.join(cfg['modes'])} · {shots}{limit}",
        "",
        "| benchmark | mode | accuracy % | 95% CI | n | unparsed | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for bench, modes in doc["results"].items():
        for mode, r in modes.items():
            note = ""
            if mode == "top_token":
                z = r["zero_shot"]
                note = f"zero-shot {_pct(z['accuracy'])}; ECE {z['ece']['ece']:.3f}"
                if r.get("seeds"):
                    note = f"{r['num_fewshot']}-shot mean {_pct(r['mean'])} ± {_pct(r['std'])} over seeds; " + note
            if mode == "sc_cot":
                note = f"majority of {r['samples']} samples at temperature {r['temperature']}"
            lo, hi = r["ci95"]
            lines.append(
                f"| {bench} | {mode} | {_pct(r['accuracy'])} | {_pct(lo)}–{_pct(hi)} | {r['n']} | {r['unparsed']} | {note} |"
            )
    lines += ["", "## Data", ""]
    for bench, d in doc["data"].items():
        files = ", ".join(f"`{f['name']}`" for f in d["files"])
        extra = f"; missing MMLU subjects: {', '.join(d['missing'])}" if d.get("missing") else ""
        lines.append(
            f"- **{bench}**: {d['n_items']} items evaluated of {d['n_total']} ({files}){extra}. Few-shot: {d['fewshot_source']}."
        )
    lines += ["", "## Breakdowns", ""]
    for bench, modes in doc["results"].items():
        for mode, r in modes.items():
            if r.get("breakdown"):
                parts = ", ".join(f"{g} {_pct(v['accuracy'])} (n={v['n']})" for g, v in r["breakdown"].items())
                lines.append(f"- {bench} / {mode}: {parts}")
    if doc.get("contamination"):
        lines += ["", "## Clean vs contaminated items", "", f"Index: `{doc['contamination']['index']}`", ""]
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
    comp = doc["paper"]
    lines += ["", "## Compared with the MEDITRON paper", "", comp["source"], ""]
    models = sorted({m for row in comp["rows"].values() for m in row["paper"]})
    lines += ["| benchmark | ours (mode: %) | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for bench, row in comp["rows"].items():
        ours = ", ".join(f"{m}: {v:.1f}" for m, v in row["ours"].items())
        lines.append(f"| {bench} | {ours} | " + " | ".join(str(row["paper"].get(m, "–")) for m in models) + " |")
    lines += ["", "Per-item records (prompt, output, parsed answer, gold): `items/<benchmark>/<mode>.jsonl`.", ""]
    return "\n".join(lines)


def plots(doc: dict[str, Any], ece_bins: dict[str, list[dict]], out: Path) -> list[Path]:
    """Scores vs the paper (bar chart) and one reliability diagram per benchmark in top_token mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = doc["paper"]["rows"]
    benches = list(rows)
    models = sorted({m for row in rows.values() for m in row["paper"]})
    ours_modes = sorted({m for row in rows.values() for m in row["ours"]})
    series = [(f"ours: {m}", [rows[b]["ours"].get(m, math.nan) for b in benches]) for m in ours_modes]
    series += [(m, [rows[b]["paper"].get(m, math.nan) for b in benches]) for m in models]
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(benches)), 4))
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series):
        ax.bar([x + i * width for x in range(len(benches))], values, width=width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(benches))], benches)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Scores vs MEDITRON paper")
    fig.tight_layout()
    p = out / "scores_vs_paper.png"
    fig.savefig(p, dpi=100, metadata={"Software": None})
    plt.close(fig)
    written.append(p)
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
        ax.set_title(f"Reliability: {bench} (top_token)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        p = out / f"reliability_{bench}.png"
        fig.savefig(p, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written.append(p)
    return written
