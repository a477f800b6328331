"""Strict readers for the official JSON Lines files (benchmark test and training sets): errors name file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from meditron.errors import InputError


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; a bad line raises InputError naming it."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(
                    f"not valid JSON ({e.msg}, column {e.colno})", path=str(path), record=f"line {lineno}"
                ) from None
            if not isinstance(row, dict):
                raise InputError(
                    f"expected a JSON object, got {type(row).__name__}", path=str(path), record=f"line {lineno}"
                )
            yield lineno, row


def require_text(row: dict[str, Any], key: str, path: Path, where: str, *, allow_empty: bool = False) -> str:
    """``row[key]`` when it is a (non-empty) string; otherwise an InputError naming the field, file and record."""
    value = row.get(key)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise InputError(f"field {key!r} must be a non-empty string, got {value!r:.80}", path=str(path), record=where)
    return value
