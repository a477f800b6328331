"""``manifest.json`` of a checkpoint: the size and sha256 of every file in it, written last, atomically.

Why: a checkpoint is many files written by many processes, then copied, shared and stored for months. Without a
record of what was written, overwritten bytes inside a ``.distcp`` load as NaN weights, and a truncated or missing
file surfaces as a traceback deep in DCP. With it, a checkpoint is checked before anything in it is read (let alone
unpickled): sizes first (free), then hashes, streamed in chunks and spread over the ranks and threads.

What it does not prove: who wrote the checkpoint (anyone can write a matching manifest). Loading stays safe for a
crafted folder because ``safe_dcp`` never runs code from it.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from meditron.json_io import write_json_atomic

MANIFEST_FILE = "manifest.json"
SCHEMA = "meditron.checkpoint-manifest"
VERSION = 1
CHUNK_BYTES = 4 * 1024 * 1024
HASH_THREADS = 4  # hashlib releases the GIL on large updates: files hash in parallel


def file_digest(path: Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of one file, read in chunks (constant memory whatever its size)."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            h.update(block)
            size += len(block)
    return {"size": size, "sha256": h.hexdigest()}


def checkpoint_files(root: Path) -> list[str]:
    """Every regular file under ``root`` (relative posix paths, sorted), the manifest and its temp file excluded."""
    root = Path(root)
    names = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in (MANIFEST_FILE, f".{MANIFEST_FILE}.tmp"):
            names.append(rel)
    return sorted(names)


def hash_files(root: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"size", "sha256"}}`` for ``names`` under ``root``, hashed by a few threads."""
    root = Path(root)
    with ThreadPoolExecutor(max_workers=max(1, min(HASH_THREADS, len(names)))) as pool:
        digests = list(pool.map(lambda n: file_digest(root / n), names))
    return dict(zip(names, digests, strict=True))


def write_manifest(root: Path, files: dict[str, dict[str, Any]], step: int) -> Path:
    """Write ``root/manifest.json`` atomically (temp file, fsync, rename): a reader sees all of it or none."""
    root = Path(root)
    payload = {"schema": SCHEMA, "version": VERSION, "step": step, "files": dict(sorted(files.items()))}
    return write_json_atomic(root / MANIFEST_FILE, payload, indent=1, fsync=True)


def read_manifest(root: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None) or (None, why it is not usable)."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        return None, f"no {MANIFEST_FILE} (not saved by this version of meditron, or the save did not finish)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"{MANIFEST_FILE} is unreadable ({type(e).__name__}: {e})"
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(files, dict):
        return None, f"{MANIFEST_FILE} is not a meditron checkpoint manifest"
    if any(not isinstance(v, dict) or not isinstance(v.get("size"), int) or not isinstance(v.get("sha256"), str)
           for v in files.values()):
        return None, f"{MANIFEST_FILE} has malformed entries"
    return data, None


def structure_problems(root: Path, manifest: dict[str, Any]) -> list[str]:
    """Cheap checks against the manifest: every listed file present with its size, nothing unlisted (no hashing)."""
    root = Path(root)
    listed: dict[str, dict[str, Any]] = manifest["files"]
    problems = []
    for name, entry in listed.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{name} has {path.stat().st_size} bytes, the manifest says {entry['size']}")
    problems += [f"{name} is not in the manifest" for name in checkpoint_files(root) if name not in listed]
    return problems


def hash_problems(root: Path, manifest: dict[str, Any], names: list[str]) -> list[str]:
    """Hash ``names`` (a share of the manifest's files) and report those whose sha256 differs."""
    digests = hash_files(Path(root), names)
    return [f"{name} has different contents (sha256 {digests[name]['sha256'][:12]}…, the manifest says "
            f"{manifest['files'][name]['sha256'][:12]}…)" for name in names
            if digests[name]["sha256"] != manifest["files"][name]["sha256"]]


def verify_checkpoint(root: Path) -> list[str]:
    """Everything wrong with ``root`` against its manifest, in one process (empty list = intact)."""
    manifest, why = read_manifest(root)
    if manifest is None:
        return [why or "no manifest"]
    problems = structure_problems(root, manifest)
    if problems:
        return problems
    return hash_problems(root, manifest, sorted(manifest["files"]))
