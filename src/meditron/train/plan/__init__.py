"""``meditron plan``: per-GPU memory, communication, FLOPs and time of a training config on a cluster, before launch.

The model is built on the meta device and the trainer's real ``parallelize()`` runs on a fake process group of the
cluster's size (:mod:`.shards`); memory formulas in :mod:`.memory`, time in :mod:`.estimate`, layout checks and the
search for the nearest layout that fits in :mod:`.planner`, tables in :mod:`.report`. See docs/SCALING.md.
"""

from __future__ import annotations

from typing import Any

from meditron.train.plan.planner import Cluster, Layout

__all__ = ["Cluster", "Layout", "make_plan"]


def _tokenizer_candidates(cfg) -> list[str | None]:
    """Where the trainer would find its tokenizer, in its order (model.tokenizer, model.path, corpus.tokenizer)."""
    return [cfg.model.tokenizer and str(cfg.model.tokenizer), cfg.model.path and str(cfg.model.path),
            cfg.corpus.tokenizer and str(cfg.corpus.tokenizer)]


def make_plan(cfg, cluster: Cluster, *, stage: str = "pretrain", pp: int | None = None) -> dict[str, Any]:
    """The plan of ``cfg``'s ``stage`` on ``cluster``; raises ConfigError (one line, with the nearest layout that
    fits) when the configured layout cannot run or does not fit ``cluster.gpu_memory_gb``."""
    from meditron.train.plan.arch import resolve_architecture
    from meditron.train.plan.planner import _ShardCache, evaluate, layout_problem, nearest_fitting, refuse

    section = cfg.train if stage == "pretrain" else cfg.finetune
    prefix = "train" if stage == "pretrain" else "finetune"
    arch = resolve_architecture(cfg.model, _tokenizer_candidates(cfg))
    pp = section.parallel.pp if pp is None else pp
    wanted = Layout(section.parallel.tp, pp, section.parallel.activation_checkpointing,
                    section.parallel.reduce_grads == "per_micro_batch")
    cache = _ShardCache(arch, section)
    steps = section.steps
    problem = layout_problem(arch, section, wanted, cluster, prefix)
    if problem is not None:
        raise refuse(problem, nearest_fitting(arch, section, cluster, wanted, cache, steps), stage)
    result = evaluate(arch, section, wanted, cluster, cache, steps)
    if not result["fits"]:
        reason = (f"{result['peak_bytes'] / 1e9:.1f} GB per GPU with {wanted.describe()} is over the "
                  f"{cluster.gpu_memory_gb:g} GB budget")
        raise refuse(reason, nearest_fitting(arch, section, cluster, wanted, cache, steps), stage)
    notes = list(arch.notes)
    if wanted.tp > cluster.gpus_per_node:
        notes.append(f"tp={wanted.tp} spans nodes ({cluster.gpus_per_node} GPUs per node): keep tp inside a node")
    if pp > 1:
        notes.append("pipeline stages follow the trainer's split (train/pipeline.py: equal shares of the decoder "
                     "layers, embeddings on the first stage, final norm and LM head on the last); per-stage memory "
                     "and the 1F1B in-flight activations come from that split and the formulas, not a fake-PG build")
    if steps is None:
        notes.append(f"{prefix}.steps is not set (derived from epochs at run time): no token budget or days")
    return {
        "config": {"name": cfg.name, "stage": stage, "model": arch.source},
        "architecture": {"layers": arch.layers, "hidden": arch.hidden, "heads": arch.heads, "kv_heads": arch.kv_heads,
                         "intermediate": arch.ffn, "vocab": arch.vocab, "model_type": arch.config.model_type},
        "cluster": {"nodes": cluster.nodes, "gpus_per_node": cluster.gpus_per_node, "world": cluster.world,
                    "gpu_memory_gb": cluster.gpu_memory_gb, "gpu_tflops": cluster.gpu_tflops, "mfu": cluster.mfu,
                    "overhead_gb": cluster.overhead_gb},
        **result,
        "notes": notes,
    }
