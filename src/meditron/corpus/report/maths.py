"""The report's numbers, as pure functions of what the stages saved (task counts, ledger summary, decontamination
hits): no file is read or written here, so each section is testable on plain dicts.

Totals come from the ledger (one line per input record) and are checked against the number of records the readers
produced: ``input == kept + dropped + quarantined``, or the run fails loudly — a record that vanished is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meditron.corpus.counts import merge_nested


def manifest_sources(count_parts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source → split → files/num_tokens/num_docs, from the shard writer's and the replay selector's counts
    (replay candidates are left out: only the selected ones are shards)."""
    sources: dict[str, dict[str, Any]] = {}
    for part in count_parts:
        for source, splits in part.get("sources", {}).items():
            for split, entry in splits.items():
                if entry.get("replay_candidates"):
                    continue
                slot = sources.setdefault(source, {}).setdefault(split, {"files": [], "num_tokens": 0, "num_docs": 0})
                slot["files"] += entry["files"]
                slot["num_tokens"] += entry["num_tokens"]
                slot["num_docs"] += entry["num_docs"]
    for splits in sources.values():
        for entry in splits.values():
            entry["files"].sort()
    return dict(sorted(sources.items()))


def contamination(summary: dict[str, Any], hits: Iterable[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict]:
    """(the per-item index: item id → ids of the documents containing it, or None when decontamination did not run;
    the report section without the index path). ``summary``: the contamination-index step's; ``hits``: the
    decontamination filter's records (document, source, item ids)."""
    if not summary.get("enabled"):
        return None, {"enabled": False, "skipped": summary.get("skipped")}
    items: dict[str, list[str]] = {}
    docs_flagged = 0
    per_source: dict[str, int] = {}
    for rec in hits:
        docs_flagged += 1
        per_source[rec["source"]] = per_source.get(rec["source"], 0) + 1
        for item in rec["items"]:
            items.setdefault(item, []).append(rec["doc"])
    benchmark_of = summary["item_benchmarks"]
    per_benchmark: dict[str, int] = {}
    for item in items:
        per_benchmark[benchmark_of[item]] = per_benchmark.get(benchmark_of[item], 0) + 1
    index = {key: summary[key] for key in ("ngram", "action", "benchmarks", "skipped", "unchecked_items")}
    index["items"] = {k: sorted(v) for k, v in sorted(items.items())}
    section = {
        "enabled": True,
        "ngram": summary["ngram"],
        "action": summary["action"],
        "docs_flagged": docs_flagged,
        "docs_flagged_per_source": dict(sorted(per_source.items())),
        "items_contaminated": dict(sorted(per_benchmark.items())),
        "items_checked": {k: v["checked"] for k, v in summary["benchmarks"].items()},
        "benchmarks_skipped": summary["skipped"],
    }
    return index, section


def per_source(gate: dict[str, Any], sources: dict[str, Any], ledger: dict[str, Any]) -> dict[str, Any]:
    """Input records and bytes (gate counts), ledger states and shard docs/tokens per split, for every source."""
    inputs, input_bytes = gate.get("input", {}), gate.get("input_bytes", {})
    out: dict[str, Any] = {}
    for name in sorted(set(inputs) | set(sources) | set(ledger["per_source"])):
        out[name] = {
            "input": inputs.get(name, 0),
            "input_bytes": input_bytes.get(name, 0),
            **ledger["per_source"].get(name, {}),
            "splits": {split: {"num_docs": e["num_docs"], "num_tokens": e["num_tokens"]}
                       for split, e in sources.get(name, {}).items()},
        }
    return out


def split_tokens(sources: dict[str, Any], split: str, names: Iterable[str] | None = None) -> int:
    """Tokens of ``split`` over ``names`` (default: every source)."""
    chosen = sources if names is None else {n: sources.get(n, {}) for n in names}
    return sum(s.get(split, {}).get("num_tokens", 0) for s in chosen.values())


def replay_section(replay_counts: dict[str, Any], sources: dict[str, Any], replay_sources: list[str]) -> dict:
    """The replay selector's summary with the realised share of replay tokens in the training split."""
    train_tokens = split_tokens(sources, "train")
    replay_tokens = split_tokens(sources, "train", replay_sources)
    return {
        **{k: v for k, v in replay_counts.items() if k != "sources"},
        "replay_train_tokens": replay_tokens,
        "realised_share": replay_tokens / train_tokens if train_tokens else 0.0,
    }


def upsampling_section(step_parts: list[dict[str, Any]], shard_parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The upsampling step's counts (documents scored/dropped/upsampled, per rule: documents matched, dropped, copies
    added — a document's added copies shared between its rules by their part of its score — and matched values)
    with the copies and tokens the shard writer added per source and split. Copies are not ledger documents."""
    step = merge_nested(step_parts)
    added = merge_nested([p.get("upsampled", {}) for p in shard_parts])
    rules = {name: {k: round(v, 3) if isinstance(v, float) else v for k, v in entry.items()}
             for name, entry in step.get("rules", {}).items()}
    return {
        "enabled": True,
        "documents": step.get("documents", {}),
        "publication_types_from": step.get("publication_types_from", {}),
        "rules": rules,
        "added_per_source": added,
        "copies_added": sum(e["copies"] for splits in added.values() for e in splits.values()),
        "tokens_added": sum(e["tokens"] for splits in added.values() for e in splits.values()),
    }


def build_report(
    *, gate_parts: list[dict[str, Any]], ledger: dict[str, Any], sources: dict[str, Any], replay_counts: dict,
    replay_sources: list[str], contamination_section: dict[str, Any], phi_parts: list[dict[str, Any]],
    dedup: dict[str, Any] | None, paths: dict[str, str], seed: int, config: dict[str, Any],
    upsampling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``corpus_report.json``: totals (checked against the ledger), per-source counts, drop reasons, dedup,
    decontamination, PHI, replay and tokens."""
    gate = merge_nested(gate_parts)
    num_input = sum(gate.get("input", {}).values())
    states = ledger["states"]
    return {
        "totals": {"input": num_input, **states},
        "ledger_consistent": num_input == sum(states.values()),
        "per_source": per_source(gate, sources, ledger),
        "drop_reasons": ledger["drop_reasons"],
        "quarantine_errors": ledger["quarantine_errors"],
        "dedup": dedup,
        "contamination": contamination_section,
        "phi": merge_nested(phi_parts),
        "replay": replay_section(replay_counts, sources, replay_sources),
        "upsampling": upsampling or {"enabled": False},
        "tokens": {"train": split_tokens(sources, "train"), "validation": split_tokens(sources, "validation")},
        "paths": paths,
        "seed": seed,
        "config": config,
    }
