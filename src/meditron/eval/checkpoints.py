"""``meditron eval --checkpoints RUN_DIR``: every saved step of a pretraining run scored by the evaluation stage, in the
paper's Table 6 layout (rows = iteration and tokens seen, columns = benchmarks, plus their average).

The out-of-process alternative to ``train.downstream_eval`` for jobs whose GPUs should not pause for evaluation:
each DCP checkpoint in ``<run>/checkpoints/pretrain/`` is consolidated into a temporary HF directory by training's
own export code (:func:`meditron.train.hf_export.consolidate_checkpoint`, which verifies it against its manifest
first), evaluated by :func:`meditron.eval.run.run_eval` in the top-token mode (Table 6's; other configured modes are
not run here), and removed. Per-step results go to ``<run>/eval/checkpoints/step_XXXXXXX/``; the table to
``<run>/eval/checkpoints.json`` and ``checkpoints.md`` (:attr:`meditron.run.RunDir.eval_checkpoints_table`). With the
settings of ``train.downstream_eval`` (:func:`meditron.eval.downstream.eval_config`) the numbers equal the ones the
trainer logged at those steps.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from meditron.errors import InputError
from meditron.eval.config import EvalConfig
from meditron.json_io import write_json_atomic
from meditron.run import RunDir

log = logging.getLogger(__name__)

MODE = "top_token"


def table_row(step: int, tokens: int | None, results: dict[str, Any]) -> dict[str, Any]:
    """One Table 6 row from a results.json ``results`` section: per benchmark the top-token accuracy (mean over
    seeds), its std and each seed's; the average of the benchmarks' accuracies."""
    accuracy = {}
    for bench, modes in results.items():
        r = modes[MODE]
        seeds = {seed: s["accuracy"] for seed, s in r.get("seeds", {}).items()}
        accuracy[bench] = {"mean": r["accuracy"], "std": r.get("std") if seeds else None, "seeds": seeds}
    means = [a["mean"] for a in accuracy.values()]
    return {"step": step, "tokens": tokens, "accuracy": accuracy, "average": round(sum(means) / len(means), 6)}


def run_checkpoint_evals(cfg: EvalConfig, run: RunDir, stage: str = "pretrain") -> dict[str, Any]:
    """Evaluate each complete checkpoint of ``run``'s ``stage``, oldest first; write and return the table."""
    from meditron.eval.run import run_eval
    from meditron.train.checkpoint import list_checkpoints, read_trainer_state
    from meditron.train.hf_export import consolidate_checkpoint
    from meditron.train.report import accuracy_table_markdown

    ckdir = run.stage_dir(stage)
    found = list_checkpoints(ckdir)
    if not found:
        raise InputError("no complete step_XXXXXXX checkpoint to evaluate (keep more with "
                         "train.checkpoint.keep_last)", path=str(ckdir))  # fmt: skip
    if list(cfg.modes) != [MODE]:
        log.info("--checkpoints scores %s only (the paper's Table 6 mode); eval.modes %s are not run", MODE, cfg.modes)
    cfg = cfg.model_copy(update={"modes": [MODE]})
    rows = []
    for step, path in found:
        log.info("checkpoint %s (%d of %d)", path.name, len(rows) + 1, len(found))
        with tempfile.TemporaryDirectory(prefix=f"meditron-{path.name}-") as tmp:
            consolidate_checkpoint(path, tmp)
            doc = run_eval(cfg.model_copy(update={"model": tmp, "out": run.eval_checkpoints / path.name}))
        state, _ = read_trainer_state(path)
        rows.append(table_row(step, state.tokens_seen, doc["results"]))
    config = cfg.model_dump(mode="json", exclude={"model", "out"})
    table = {"checkpoints": str(ckdir), "mode": MODE, "config": config, "rows": rows}
    out = run.eval_checkpoints_table
    write_json_atomic(out, table)
    seeds = ", ".join(map(str, cfg.seeds))
    shots = f"{cfg.num_fewshot}-shot, mean ± std over seeds {seeds}" if cfg.num_fewshot else "zero-shot"
    limit = f"; a seeded sample of {cfg.limit} items per benchmark" if cfg.limit else ""
    md = (f"# Checkpoints of {ckdir}\n\nTop-token accuracy (%), {shots}{limit} (the layout of the paper's Table 6)."
          f"\n\n{accuracy_table_markdown(rows)}")  # fmt: skip
    out.with_suffix(".md").write_text(md, encoding="utf-8")
    run.record_stage("eval_checkpoints", {"table": out, "markdown": out.with_suffix(".md")},
                     metrics={f"step_{r['step']}/average": r["average"] for r in rows})  # fmt: skip
    log.info("wrote %s and %s", out, out.with_suffix(".md").name)
    return table

