"""Per-task counters saved as small JSON files (one per step and task), merged by the report.

A task that is rerun after a crash rewrites its file, so merged counts never double count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meditron.json_io import write_json_atomic


def write_task_counts(folder: str | Path, rank: int, data: dict[str, Any]) -> None:
    write_json_atomic(Path(folder) / f"{rank:05d}.json", data, indent=None)


def read_task_counts(folder: str | Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.json"))]


def merge_nested(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum nested dicts of numbers (``{"a": {"b": 1}} + {"a": {"b": 2}} → {"a": {"b": 3}}``)."""
    out: dict[str, Any] = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, dict):
                out[k] = merge_nested([out.get(k, {}), v])
            else:
                out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))
