"""The last stage: shard manifest, merged ledger, contamination index, ``corpus_report.json`` and its Markdown summary.

Totals come from the ledger (one line per input record) and are checked against the number of records the readers
produced: ``input == kept + dropped + quarantined`` or the run fails loudly — a record that vanished is a bug.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING, Any

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.counts import merge_nested, read_task_counts
from meditron.corpus.ledger import ledger_files, summarize_ledger
from meditron.data.shards import MANIFEST, write_manifest
from meditron.json_io import write_json_atomic

if TYPE_CHECKING:
    from meditron.corpus.pipeline import CorpusPaths
    from meditron.run import RunDir


class CorpusFinalizer(PipelineStep):
    """Runs ``finalize_corpus`` as a one-task datatrove stage, so Slurm/Ray runs finish on their own."""

    name = "📊 Corpus report"
    type = "📊 - REPORT"

    def __init__(self, paths: CorpusPaths, run: RunDir, meta: dict[str, Any], inputs: list[str]):
        super().__init__()
        self.paths, self.run_dir, self.meta, self.inputs = paths, run, meta, inputs

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        finalize_corpus(self.paths, self.run_dir, self.meta, self.inputs)
        return
        yield


def _manifest_sources(paths: CorpusPaths) -> dict[str, dict[str, Any]]:
    """Per source → split → files/num_tokens/num_docs, from the shard writer's and the replay selector's counts."""
    sources: dict[str, dict[str, Any]] = {}
    for part in [*read_task_counts(paths.counts("shards")), *read_task_counts(paths.counts("replay"))]:
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


def _merge_ledger(paths: CorpusPaths) -> None:
    """Concatenate the ledger parts into ``ledger.jsonl`` (streamed; stable order: step, then task)."""
    tmp = paths.ledger.with_name(f".{paths.ledger.name}.tmp")
    with open(tmp, "wb") as out:
        for part in ledger_files(paths.ledger_parts):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    os.replace(tmp, paths.ledger)


def _contamination(paths: CorpusPaths) -> dict[str, Any]:
    """Write the per-item index (item id → ids of the documents containing it) and return the report section."""
    summary = json.loads(paths.decont_index.read_text(encoding="utf-8"))
    if not summary.get("enabled"):
        return {"enabled": False, "skipped": summary.get("skipped")}
    items: dict[str, list[str]] = {}
    docs_flagged = 0
    per_source: dict[str, int] = {}
    for hits in sorted(paths.decont_hits.glob("*.jsonl")):
        with open(hits, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                docs_flagged += 1
                per_source[rec["source"]] = per_source.get(rec["source"], 0) + 1
                for item in rec["items"]:
                    items.setdefault(item, []).append(rec["doc"])
    benchmark_of = summary.pop("item_benchmarks")
    per_benchmark: dict[str, int] = {}
    for item in items:
        per_benchmark[benchmark_of[item]] = per_benchmark.get(benchmark_of[item], 0) + 1
    index = {
        "ngram": summary["ngram"],
        "action": summary["action"],
        "benchmarks": summary["benchmarks"],
        "skipped": summary["skipped"],
        "unchecked_items": summary["unchecked_items"],
        "items": {k: sorted(v) for k, v in sorted(items.items())},
    }
    write_json_atomic(paths.contamination_index, index)
    return {
        "enabled": True,
        "index": str(paths.contamination_index),
        "ngram": summary["ngram"],
        "action": summary["action"],
        "docs_flagged": docs_flagged,
        "docs_flagged_per_source": dict(sorted(per_source.items())),
        "items_contaminated": dict(sorted(per_benchmark.items())),
        "items_checked": {k: v["checked"] for k, v in summary["benchmarks"].items()},
        "benchmarks_skipped": summary["skipped"],
    }


def finalize_corpus(paths: CorpusPaths, run: RunDir, meta: dict[str, Any], inputs: list[str]) -> dict[str, Any]:
    sources = _manifest_sources(paths)
    write_manifest(
        paths.shards,
        {
            "token_size": meta["token_size"],
            "tokenizer": "tokenizer",
            "eos_id": meta["eos_id"],
            "tokenization": meta["tokenization"],
            "vocab_size": meta["vocab_size"],
            "seed": meta["seed"],
            "weights": meta["weights"],
            "sources": sources,
        },
    )
    _merge_ledger(paths)
    ledger = summarize_ledger(paths.ledger_parts)
    gate = merge_nested(read_task_counts(paths.counts("gate")))
    num_input = sum(gate.get("input", {}).values())
    states = ledger["states"]
    totals = {"input": num_input, **states}
    replay = (read_task_counts(paths.counts("replay")) or [{}])[0]
    train_tokens = sum(s.get("train", {}).get("num_tokens", 0) for s in sources.values())
    replay_tokens = sum(sources.get(s, {}).get("train", {}).get("num_tokens", 0) for s in meta["replay_sources"])
    per_source: dict[str, Any] = {}
    for name in sorted(set(gate.get("input", {})) | set(sources) | set(ledger["per_source"])):
        per_source[name] = {
            "input": gate.get("input", {}).get(name, 0),
            "input_bytes": gate.get("input_bytes", {}).get(name, 0),
            **ledger["per_source"].get(name, {}),
            "splits": {split: {"num_docs": e["num_docs"], "num_tokens": e["num_tokens"]}
                       for split, e in sources.get(name, {}).items()},
        }
    clusters_file = paths.clusters / "clusters.json"
    report = {
        "totals": totals,
        "ledger_consistent": num_input == sum(states.values()),
        "per_source": per_source,
        "drop_reasons": ledger["drop_reasons"],
        "quarantine_errors": ledger["quarantine_errors"],
        "dedup": json.loads(clusters_file.read_text(encoding="utf-8")) if clusters_file.exists() else None,
        "contamination": _contamination(paths),
        "phi": merge_nested(read_task_counts(paths.counts("phi"))),
        "replay": {
            **{k: v for k, v in replay.items() if k != "sources"},
            "replay_train_tokens": replay_tokens,
            "realised_share": replay_tokens / train_tokens if train_tokens else 0.0,
        },
        "tokens": {"train": train_tokens,
                   "validation": sum(s.get("validation", {}).get("num_tokens", 0) for s in sources.values())},
        "paths": {"shards": str(paths.shards), "manifest": str(paths.shards / MANIFEST), "ledger": str(paths.ledger),
                  "report_md": str(paths.out / "corpus_report.md"), "work": str(paths.work)},
        "seed": meta["seed"],
        "config": meta["config"],
    }
    write_json_atomic(paths.report, report)
    (paths.out / "corpus_report.md").write_text(render_markdown(report), encoding="utf-8")
    artifacts = {"report": paths.report, "ledger": paths.ledger, "shards": paths.shards,
                 "manifest": paths.shards / MANIFEST}
    if report["contamination"].get("index"):
        artifacts["contamination_index"] = paths.contamination_index
    run.record_stage("corpus", artifacts=artifacts, metrics=totals, inputs=inputs)
    if not report["ledger_consistent"]:
        raise RuntimeError(f"ledger totals {states} do not add up to the {num_input} input records: see {paths.report}")
    return report


def render_markdown(report: dict[str, Any]) -> str:
    t = report["totals"]
    lines = [
        "# Corpus report",
        "",
        f"**{t['input']}** input records → **{t['kept']}** kept, **{t['dropped']}** dropped, "
        f"**{t['quarantined']}** quarantined. Tokens: {report['tokens']['train']} train, "
        f"{report['tokens']['validation']} validation.",
        "",
        "| source | input | kept | dropped | quarantined | train docs | train tokens | validation docs | "
        "validation tokens |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in report["per_source"].items():
        tr, va = s["splits"].get("train", {}), s["splits"].get("validation", {})
        lines.append(
            f"| {name} | {s['input']} | {s.get('kept', 0)} | {s.get('dropped', 0)} | {s.get('quarantined', 0)} | "
            f"{tr.get('num_docs', 0)} | {tr.get('num_tokens', 0)} | {va.get('num_docs', 0)} | "
            f"{va.get('num_tokens', 0)} |"
        )
    lines += ["", "## Drop reasons", "", "| reason | documents |", "|---|---:|"]
    lines += [f"| {r} | {n} |" for r, n in report["drop_reasons"].items()] or ["| (none) | 0 |"]
    if report["quarantine_errors"]:
        lines += ["", "## Quarantined", "", "| error | records |", "|---|---:|"]
        lines += [f"| {e} | {n} |" for e, n in report["quarantine_errors"].items()]
    if report["dedup"]:
        d = report["dedup"]
        lines += ["", "## Deduplication", "",
                  f"{d['clusters']} clusters; removed {d['removed_exact']} exact and {d['removed_near']} near "
                  f"duplicates. Cluster sizes: "
                  + ", ".join(f"{k}: {v}" for k, v in d["cluster_sizes"].items())]
    c = report["contamination"]
    lines += ["", "## Decontamination", ""]
    if c.get("enabled"):
        lines.append(f"{c['ngram']}-gram overlap, action `{c['action']}`: {c['docs_flagged']} documents flagged; "
                     f"contaminated items per benchmark: {c['items_contaminated'] or 'none'}; index: `{c['index']}`.")
        if c["benchmarks_skipped"]:
            lines.append(f"Not checked: {c['benchmarks_skipped']}.")
    else:
        lines.append(f"Not run ({c.get('skipped')}).")
    phi = report["phi"].get("replacements", {})
    lines += ["", "## PHI scrubbing", "", ", ".join(f"{k}: {v}" for k, v in phi.items()) or "nothing found"]
    r = report["replay"]
    lines += ["", "## Replay", "",
              f"target share {r.get('target_share', 0)}, realised {r['realised_share']:.4f} "
              f"({r['replay_train_tokens']} tokens)."]
    return "\n".join(lines) + "\n"
