"""The ledger: one JSON line per input record saying where it ended — kept (with split), dropped (with reason) or
quarantined (with error).

Each step writes the records it decides about (a filter its rejects, the shard writer what it keeps) through a
``LedgerWriter``, a datatrove ``JsonlWriter`` used as the filter's exclusion writer, into
``<corpus>/ledger/<step>/<rank>.jsonl``. A rerun of a crashed task rewrites its files, so a record is never counted
twice. Users query the folder with ``jq``/DuckDB (``read_json('ledger/*/*.jsonl')``) or ``iter_ledger``; the report's
totals are counted from it, and checked against the number of records the readers produced.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.jsonl import JsonlWriter

KEPT, DROPPED, QUARANTINED = "kept", "dropped", "quarantined"
STATES = (KEPT, DROPPED, QUARANTINED)


def ledger_record(doc: Document, step: str) -> dict[str, Any]:
    """The ledger line of a document at the step that decided its fate (state inferred from its metadata)."""
    meta = doc.metadata
    record: dict[str, Any] = {"id": doc.id, "source": meta.get("source"), "step": step}
    if meta.get("quarantined"):
        q = meta["quarantined"]
        record.update(state=QUARANTINED, error=q.get("error"), file=q.get("file"), position=q.get("position"))
    elif meta.get("drop_reason") or meta.get("filter_reason"):
        record.update(state=DROPPED, reason=meta.get("drop_reason") or meta.get("filter_reason"))
    else:
        record.update(state=KEPT, split=meta.get("split"), tokens=meta.get("num_tokens"))
        if meta.get("copies", 1) > 1:  # upsampled: written this many times in the shards (still one document)
            record["copies"] = meta["copies"]
        if meta.get("contamination"):
            record["contamination"] = meta["contamination"]
    return record


class LedgerWriter(JsonlWriter):
    """An exclusion writer that records ledger lines instead of documents (plain JSONL, one file per task)."""

    name = "📒 Ledger"

    def __init__(self, ledger_dir: str | Path, step: str):
        self.step = step
        super().__init__(
            str(Path(ledger_dir) / step), output_filename="${rank}.jsonl", compression=None, adapter=_adapter
        )


def _adapter(self: LedgerWriter, doc: Document) -> dict[str, Any]:
    return ledger_record(doc, self.step)


def ledger_files(ledger_dir: str | Path) -> list[Path]:
    """All part files, in a stable order (step, then task rank)."""
    return sorted(Path(ledger_dir).glob("*/*.jsonl"))


def iter_ledger(ledger_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Stream every ledger record (constant memory)."""
    for path in ledger_files(ledger_dir):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def summarize_ledger(ledger_dir: str | Path) -> dict[str, Any]:
    """Counts per state, per source × state, and drop reasons (``near-dup of X`` grouped as ``near-dup``)."""
    states: Counter[str] = Counter()
    per_source: dict[str, Counter[str]] = {}
    reasons: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for rec in iter_ledger(ledger_dir):
        state = rec["state"]
        states[state] += 1
        per_source.setdefault(rec.get("source") or "?", Counter())[state] += 1
        if state == DROPPED:
            reasons[reason_group(rec.get("reason") or "unknown")] += 1
        elif state == QUARANTINED:
            errors[(rec.get("error") or "unknown").split(":")[0]] += 1
    return {
        "states": {s: states.get(s, 0) for s in STATES},
        "per_source": {src: {s: c.get(s, 0) for s in STATES} for src, c in sorted(per_source.items())},
        "drop_reasons": dict(sorted(reasons.items())),
        "quarantine_errors": dict(sorted(errors.items())),
    }


def reason_group(reason: str) -> str:
    """``near-dup of PMID:1`` → ``near-dup``; ``contaminated: medqa4-0001`` → ``contaminated``; others unchanged."""
    for sep in (" of ", ": "):
        if sep in reason:
            return reason.split(sep, 1)[0]
    return reason
