"""The training report: ``<run>/reports/training.md`` with the loss curves and, when ``train.downstream_eval`` ran,
the benchmark accuracy curves and their table in the paper's Table 6 layout — all read from ``logs/train.jsonl``, so
the report can be rebuilt from the log alone (``write_training_report(run)``).

Written by ``meditron pretrain`` when it completes and by the quickstart. Figures are PNGs beside the Markdown
(matplotlib, Agg backend, imported inside the functions so importing this module stays light, as ``eval/figures.py``).
The accuracy table's layout is shared with ``meditron eval --checkpoints`` (:func:`accuracy_table_markdown`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from meditron.json_io import read_json_lines
from meditron.run import RunDir

log = logging.getLogger(__name__)

#: Figures written beside ``training.md``.
LOSS_PNG = "training_loss.png"
DOWNSTREAM_PNG = "training_downstream.png"


def read_log(path: Path) -> list[dict[str, Any]]:
    """The step records of a training log, in file order (lines without a step are not step records)."""
    return [row for _, row in read_json_lines(path) if "step" in row]


def downstream_entry(step: int, tokens: int | None, scores: dict[str, float]) -> dict[str, Any]:
    """One table row from a ``downstream`` record: per benchmark its mean over seeds (and std), and the average."""
    benches = [k for k in scores if "/" not in k and k != "average"]
    return {
        "step": step,
        "tokens": tokens,
        "accuracy": {b: {"mean": scores[b], "std": scores.get(f"{b}/std")} for b in benches},
        "average": scores.get("average"),
    }


def _tokens(n: int | None) -> str:
    """Tokens seen as the paper writes them (10B, 21B), down to K for tiny runs."""
    if n is None:
        return "–"
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _cell(mean: float | None, std: float | None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return f"{100 * mean:.1f}" + (f"±{100 * std:.2f}" if std is not None else "")


def accuracy_table_markdown(entries: list[dict[str, Any]]) -> str:
    """The paper's Table 6 layout: one row per step (iteration, tokens seen), a column per benchmark (accuracy in %,
    ± std over seeds), and the average of the benchmarks."""
    if not entries:
        return "_no evaluations_\n"
    benches = list(dict.fromkeys(b for e in entries for b in e["accuracy"]))
    lines = [
        "| iteration | tokens | " + " | ".join(benches) + " | Avg |",
        "|---:|---:|" + "---|" * len(benches) + "---:|",
    ]
    for e in entries:
        cells = [_cell(e["accuracy"].get(b, {}).get("mean"), e["accuracy"].get(b, {}).get("std")) for b in benches]
        avg = e.get("average")
        lines.append(f"| {e['step']:,} | {_tokens(e.get('tokens'))} | " + " | ".join(cells)
                     + f" | {_cell(avg, None)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _plot_loss(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    train = [(r["step"], r["loss"]) for r in rows if isinstance(r.get("loss"), (int, float))]
    val = [(r["step"], r["val_loss"]) for r in rows if isinstance(r.get("val_loss"), (int, float))]
    ax.plot([s for s, _ in train], [v for _, v in train], linewidth=0.9, label="train loss")
    if val:
        ax.plot([s for s, _ in val], [v for _, v in val], marker="o", markersize=3, label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def _plot_downstream(entries: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    steps = [e["step"] for e in entries]
    for bench in dict.fromkeys(b for e in entries for b in e["accuracy"]):
        ys = [100 * e["accuracy"].get(bench, {}).get("mean", math.nan) for e in entries]
        ax.plot(steps, ys, marker="o", markersize=3, linewidth=0.9, label=bench)
    avg = [100 * e["average"] if e.get("average") is not None else math.nan for e in entries]
    ax.plot(steps, avg, color="0.15", linewidth=1.6, label="average")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(linewidth=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def write_training_report(run: RunDir, log_path: Path | None = None) -> Path:
    """Write ``run.training_report`` (and its PNGs) from the pretraining log; returns the Markdown path."""
    log_path = log_path or run.stage_log("pretrain")
    rows = read_log(log_path)
    out = run.training_report
    out.parent.mkdir(parents=True, exist_ok=True)
    losses = [r for r in rows if isinstance(r.get("loss"), (int, float))]
    lines = [f"# Training report: {run.root.name}", "", f"From `{log_path}` ({len(rows)} steps logged).", ""]
    if losses:
        last_val = next((r for r in reversed(rows) if isinstance(r.get("val_loss"), (int, float))), None)
        lines += [
            "## Loss",
            "",
            f"Train loss {losses[0]['loss']:.4f} at step {losses[0]['step']} → {losses[-1]['loss']:.4f} at step "
            f"{losses[-1]['step']}"
            + (f"; validation loss {last_val['val_loss']:.4f} at step {last_val['step']}." if last_val else "."),
            "",
            f"![loss]({_plot_loss(rows, out.parent / LOSS_PNG).name})",
            "",
        ]
    entries = [downstream_entry(r["step"], r.get("tokens_seen"), r["downstream"]) for r in rows if r.get("downstream")]
    if entries:
        lines += [
            "## Downstream accuracy during training",
            "",
            "Top-token accuracy (%) of the model being trained (`train.downstream_eval`), mean ± std over the few-shot "
            "seeds, in the layout of the paper's Table 6.",
            "",
            accuracy_table_markdown(entries),
            f"![downstream]({_plot_downstream(entries, out.parent / DOWNSTREAM_PNG).name})",
            "",
        ]
    out.write_text("\n".join(lines), encoding="utf-8")
    log.info("wrote %s", out)
    return out
