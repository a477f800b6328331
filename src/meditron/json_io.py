"""JSON files: strict readers for the official JSON Lines files (errors name file and line), and the one atomic writer
that every manifest, report and state file goes through (a crash never leaves a half-written JSON file)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
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


def write_json_atomic(
    path: str | Path, data: Any, *, indent: int | None = 2,
    sort_keys: bool = True,
    fsync: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> Path:
    """Write ``data`` as UTF-8 JSON to a unique temp file beside ``path``, then rename it over ``path``.

    Readers see the old file or the new one, never a partial one; concurrent writers never share a temp file.
    ``fsync`` makes the content durable before the rename, for files that commit something (a checkpoint manifest);
    ``default`` converts values JSON does not know (as in ``json.dump``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=default)
            fh.write("\n")
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
