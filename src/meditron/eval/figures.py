"""Grouped bar charts with error bars, shared by the eval report (ours vs the paper) and ``meditron eval compare``.

Matplotlib is imported inside the functions (Agg backend) so importing the eval package stays light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Series:
    """One bar per group: ``values`` (nan = gap, never a zero bar), optional error bars (below, above)."""

    label: str
    values: list[float]
    err_low: list[float] | None = None
    err_high: list[float] | None = None
    hatched: list[bool] = field(default_factory=list)
    color_key: str | None = None  # series sharing a key share a colour (one model in several tables)


@dataclass
class Panel:
    title: str
    groups: list[str]
    series: list[Series]


def _draw_panel(ax, panel: Panel, colors: dict[str, str]) -> None:
    n = max(1, len(panel.series))
    width = 0.8 / n
    xs = range(len(panel.groups))
    for i, s in enumerate(panel.series):
        pos = [x - 0.4 + width * (i + 0.5) for x in xs]
        bars = ax.bar(pos, s.values, width=width, label=s.label, color=colors[s.color_key or s.label])
        for bar, hatch in zip(bars, s.hatched or [], strict=False):
            if hatch:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
        if s.err_low is None or s.err_high is None:
            continue
        # Error bars only where both the value and the error are known (a missing std draws nothing, not a 0 bar).
        keep = [j for j, v in enumerate(s.values) if all(map(math.isfinite, (v, s.err_low[j], s.err_high[j])))]
        if keep:
            ax.errorbar(
                [pos[j] for j in keep],
                [s.values[j] for j in keep],
                yerr=[[s.err_low[j] for j in keep], [s.err_high[j] for j in keep]],
                fmt="none",
                ecolor="0.2",
                elinewidth=0.8,
                capsize=2,
            )
    ax.set_xticks(list(xs), panel.groups, fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", linewidth=0.3)
    ax.set_title(panel.title, fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def grouped_bars(panels: list[Panel], path: Path, suptitle: str) -> Path:
    """One row per panel; the same label has the same colour in every panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(s.color_key or s.label for p in panels for s in p.series))
    palette = plt.get_cmap("tab10").colors[:7] + plt.get_cmap("tab10").colors[8:] + plt.get_cmap("Dark2").colors
    colors = {lab: ("0.15" if i == 0 else palette[(i - 1) % len(palette)]) for i, lab in enumerate(labels)}
    widest = max((len(p.groups) * max(1, len(p.series)) for p in panels), default=1)
    fig, axes = plt.subplots(
        len(panels) or 1, 1, figsize=(max(8.0, 0.28 * widest + 4), 3.2 * max(1, len(panels))), squeeze=False
    )
    for ax, panel in zip(axes[:, 0], panels, strict=False):
        _draw_panel(ax, panel, colors)
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
