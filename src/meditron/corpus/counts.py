"""Per-task counters saved as small JSON files (one per step and task), merged by the report.

A task that is rerun after a crash rewrites its file, so merged counts never double count.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any


def write_task_counts(folder: str | Path, rank: int, data: dict[str, Any]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{rank:05d}.json.tmp"
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / f"{rank:05d}.json")


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


def counter_dict(c: Counter[str]) -> dict[str, int]:
    return dict(sorted(c.items()))
