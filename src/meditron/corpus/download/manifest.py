"""``DIR/manifest.json``: every verified file of a download, so a rerun fetches only what is missing or changed.

Why a manifest: at NLM's scale (1,200+ files, tens of GB) a download is interrupted more often than not, and the
corpus report must be able to say where each byte came from. The manifest is rewritten atomically (temp + rename)
after each verified file, so an interrupted run keeps everything that had verified; a file counts as present on a
rerun when its size and mtime still match the entry (no re-hash of 30 GB) and, where the server publishes one, its
md5 still matches the server's.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from meditron.corpus.download.http import FetchResult
from meditron.errors import InputError
from meditron.json_io import write_json_atomic

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Manifest:
    """The verified files under ``root``, keyed by path relative to ``root``; thread-safe."""

    def __init__(self, root: Path, source: str):
        self.root = Path(root)
        self.source = source
        self.path = self.root / MANIFEST_NAME
        self.files: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"unreadable download manifest ({err}); move it aside to re-verify every file",
                             path=str(self.path)) from None
        self.files = {entry["path"]: entry for entry in files}

    def relative(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def entry(self, rel: str) -> dict[str, Any] | None:
        with self._lock:
            return self.files.get(rel)

    def is_current(self, rel: str, *, md5: str | None = None, size: int | None = None) -> bool:
        """True when ``rel`` was verified before and is untouched since: same size and mtime, same md5/size as now."""
        entry = self.entry(rel)
        local = self.root / rel
        if entry is None or not local.is_file():
            return False
        stat = local.stat()
        if stat.st_size != entry.get("size") or stat.st_mtime_ns != entry.get("mtime_ns"):
            return False
        if md5 is not None and (entry.get("md5") or "").lower() != md5.lower():
            return False
        return size is None or size == entry.get("size")

    def record(self, result: FetchResult, *, licence: str | None = None, **extra: Any) -> dict[str, Any]:
        """Add (or replace) the entry of a verified file and rewrite the manifest atomically."""
        if result.path is None or not result.ok:
            raise ValueError(f"only verified files go into the manifest, not {result.url} ({result.status})")
        rel = self.relative(result.path)
        entry: dict[str, Any] = {
            "path": rel,
            "url": result.url,
            "size": result.size,
            "sha256": result.sha256,
            "md5": result.md5,
            "retrieved_at": utc_now(),
            "licence": licence,
            "source": self.source,
            "mtime_ns": result.path.stat().st_mtime_ns,
        }
        if result.etag:
            entry["etag"] = result.etag
        if result.last_modified:
            entry["last_modified"] = result.last_modified
        entry.update(extra)
        with self._lock:
            previous = self.files.get(rel)
            if result.status == "unchanged" and previous:
                entry["retrieved_at"] = previous.get("retrieved_at", entry["retrieved_at"])
            self.files[rel] = entry
            self._write()
        return entry

    def _write(self) -> None:
        payload = {
            "version": MANIFEST_VERSION,
            "source": self.source,
            "updated_at": utc_now(),
            "files": [self.files[k] for k in sorted(self.files)],
        }
        write_json_atomic(self.path, payload, indent=1, sort_keys=False, fsync=True)
