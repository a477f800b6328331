"""The lineage manifest (``lineage.json``): hashes tying data → checkpoint → export → evaluation results.

Why: a released model must be traceable. A reviewer holding the card can re-hash the corpus report, the shards
manifest, the checkpoint files, the exported weights and the results file and check they are the ones this model came
from. Everything here is read from the run directory's files; nothing is recomputed or estimated.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from meditron.json_io import write_json_atomic
from meditron.run import RunDir, sha256_file

LINEAGE_FILE = "lineage.json"
CARD_FILE = "README.md"
_NOT_HASHED = {LINEAGE_FILE, CARD_FILE}


def find_run_dir(*paths: Path) -> RunDir | None:
    """The nearest ancestor (or the path itself) holding ``run.json``, tried for each path in order."""
    for p in paths:
        p = Path(p).resolve()
        for run in map(RunDir, (p, *p.parents)):
            if run.manifest_path.is_file():
                return run
    return None


def hash_files(root: Path, *, exclude: set[str] = _NOT_HASHED) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (relative posix path → hex), sorted, skipping card and lineage."""
    root = Path(root)
    if root.is_file():
        return {root.name: sha256_file(root)}
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.name not in exclude:
            out[f.relative_to(root).as_posix()] = sha256_file(f)
    return out


def _file_entry(path: Path, run: RunDir | None) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return {"path": _rel(path, run), "sha256": sha256_file(path)}


def _rel(path: Path, run: RunDir | None) -> str:
    if run is not None:
        try:
            return Path(path).resolve().relative_to(run.root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def results_path(run: RunDir | None) -> Path | None:
    if run is None:
        return None
    p = run.eval_results
    return p if p.is_file() else None


def build_lineage(*, run: RunDir | None, checkpoint: Path, checkpoint_kind: str, export_dir: Path,
                  export_format: str) -> dict[str, Any]:
    """The manifest as a dict (see module docstring); ``export_dir`` must already hold the exported files."""
    manifest = run.read_manifest() if run else {}
    data: dict[str, Any] = {}
    if run is not None:
        data["corpus_report"] = _file_entry(run.corpus_report, run)
        data["shards_manifest"] = _file_entry(run.shards_manifest, run)
        data["inputs"] = manifest.get("inputs", {})
    res = results_path(run)
    return {
        "schema": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run": {
            "dir": str(run.root.resolve()) if run else None,
            "name": manifest.get("name"),
            "seed": manifest.get("seed"),
            "versions": manifest.get("versions", {}),
        },
        "data": data,
        "checkpoint": _checkpoint_entry(checkpoint, checkpoint_kind, run),
        "export": {"format": export_format, "files": hash_files(export_dir)},
        "results": {"path": _rel(res, run), "sha256": sha256_file(res)} if res else None,
    }


def _checkpoint_entry(checkpoint: Path, kind: str, run: RunDir | None) -> dict[str, Any]:
    """Hashes of the checkpoint; for an HF dir consolidated by the trainer, also of the DCP step it came from."""
    entry: dict[str, Any] = {"path": _rel(checkpoint, run), "kind": kind, "files": hash_files(checkpoint)}
    marker = Path(checkpoint) / "meditron_checkpoint.txt"  # written by train.hf_export.consolidate_checkpoint
    if kind == "hf" and marker.is_file():
        lines = marker.read_text(encoding="utf-8").splitlines()
        source = Path(lines[0].strip()) if lines else None
        if source is not None and source.is_dir():
            entry["consolidated_from"] = {"path": _rel(source, run), "kind": "dcp", "files": hash_files(source),
                                          "step": lines[1].removeprefix("step ").strip() if len(lines) > 1 else None}
    return entry


def write_lineage(lineage: dict[str, Any], out_dir: Path) -> Path:
    path = Path(out_dir) / LINEAGE_FILE
    write_json_atomic(path, lineage)
    return path


def verify_lineage(out_dir: Path) -> list[str]:
    """Re-hash the exported files against ``lineage.json``; returns the mismatches (empty = intact)."""
    lineage = json.loads((Path(out_dir) / LINEAGE_FILE).read_text(encoding="utf-8"))
    now = hash_files(Path(out_dir))
    want = lineage["export"]["files"]
    problems = [f"{name}: changed" for name, h in want.items() if now.get(name) != h]
    problems += [f"{name}: not in lineage" for name in now if name not in want]
    return problems
