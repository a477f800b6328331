"""The files of the last stage: shard manifest (the commit point of the shard set), merged ledger, contamination
index, ``corpus_report.json``/``.md`` and the run's ``run.json`` entry. The numbers come from ``report.maths``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.corpus.counts import read_task_counts
from meditron.corpus.ledger import ledger_files, summarize_ledger
from meditron.corpus.report import maths
from meditron.corpus.report.markdown import render_markdown
from meditron.corpus.shard_format import write_manifest
from meditron.corpus.tokenization import ShardTokenization
from meditron.json_io import write_json_atomic

if TYPE_CHECKING:
    from meditron.corpus.paths import CorpusPaths
    from meditron.run import RunDir


@dataclass(frozen=True)
class RunFacts:
    """What the report needs from the config and the readers (the rest it reads from the stages' files)."""

    seed: int
    weights: dict[str, float]  # mixture weight per source
    replay_sources: list[str]
    config: dict[str, Any]  # the corpus section, as saved in the report
    inputs: list[str] = field(default_factory=list)  # input files, recorded in run.json


def _merge_ledger(paths: CorpusPaths) -> None:
    """Concatenate the ledger parts into ``ledger.jsonl`` (streamed; stable order: step, then task)."""
    tmp = paths.ledger.with_name(f".{paths.ledger.name}.tmp")
    with open(tmp, "wb") as out:
        for part in ledger_files(paths.ledger_parts):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    os.replace(tmp, paths.ledger)


def _decont_hits(folder: Path) -> Iterator[dict[str, Any]]:
    for hits in sorted(folder.glob("*.jsonl")):
        with open(hits, encoding="utf-8") as f:
            yield from (json.loads(line) for line in f)


def _write_contamination(paths: CorpusPaths) -> dict[str, Any]:
    """Write the per-item index (when decontamination ran) and return the report section."""
    summary = json.loads(paths.decont_index.read_text(encoding="utf-8"))
    index, section = maths.contamination(summary, _decont_hits(paths.decont_hits))
    if index is None:
        return section
    write_json_atomic(paths.contamination_index, index)
    return {**section, "index": str(paths.contamination_index)}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def finalize_corpus(paths: CorpusPaths, run: RunDir, facts: RunFacts) -> dict[str, Any]:
    """Write every output of the corpus stage; fails when the ledger does not account for every input record."""
    shard_counts = read_task_counts(paths.counts("shards"))
    sources = maths.manifest_sources([*shard_counts, *read_task_counts(paths.counts("replay"))])
    upsampling = None
    if facts.config.get("upsampling", {}).get("enabled"):
        upsampling = maths.upsampling_section(read_task_counts(paths.counts("upsampling")), shard_counts)
    tokenization = ShardTokenization.load(paths.tokenization)
    write_manifest(paths.shards, {**tokenization.manifest_fields(), "seed": facts.seed, "weights": facts.weights,
                                  "sources": sources})
    _merge_ledger(paths)
    report = maths.build_report(
        gate_parts=read_task_counts(paths.counts("gate")),
        ledger=summarize_ledger(paths.ledger_parts),
        sources=sources,
        replay_counts=(read_task_counts(paths.counts("replay")) or [{}])[0],
        replay_sources=facts.replay_sources,
        contamination_section=_write_contamination(paths),
        phi_parts=read_task_counts(paths.counts("phi")),
        dedup=_read_json(paths.clusters / "clusters.json"),
        paths={"shards": str(paths.shards), "manifest": str(paths.manifest), "ledger": str(paths.ledger),
               "report_md": str(paths.report_md), "work": str(paths.work)},
        seed=facts.seed,
        config=facts.config,
        upsampling=upsampling,
    )
    write_json_atomic(paths.report, report)
    paths.report_md.write_text(render_markdown(report), encoding="utf-8")
    artifacts = {"report": paths.report, "ledger": paths.ledger, "shards": paths.shards, "manifest": paths.manifest}
    if report["contamination"].get("index"):
        artifacts["contamination_index"] = paths.contamination_index
    totals = report["totals"]
    run.record_stage("corpus", artifacts=artifacts, metrics=totals, inputs=facts.inputs)
    if not report["ledger_consistent"]:
        states = {k: v for k, v in totals.items() if k != "input"}
        raise RuntimeError(f"ledger totals {states} do not add up to the {totals['input']} input records: "
                           f"see {paths.report}")
    return report
