"""The plan as Rich tables (people) or JSON (programs)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

_MEMORY_ROWS = (
    ("parameters", "parameters (sharded, master dtype)"),
    ("gradients", "gradients (sharded)"),
    ("optimizer", "AdamW states (2 moments + step)"),
    ("gathered_parameters", "all-gathered layers + root (FSDP)"),
    ("accumulated_gradients", "unsharded gradients (accumulation)"),
    ("activations", "activations"),
    ("loss", "LM head + loss"),
    ("overhead", "CUDA/NCCL workspace (allowance)"),
)


def _gb(value: float) -> str:
    return f"{value / 1e9:,.2f}"


def memory_table(plan: dict[str, Any]) -> Table:
    stages = plan["stages"]
    table = Table(title=f"Memory per GPU (GB), {_layout_text(plan)}")
    table.add_column("")
    for s in stages:
        stage = s["stage"]
        parts = [f"{stage['layers']} layers"] + (["embeddings"] if stage["embedding"] else []) + (
            ["head"] if stage["head"] else [])
        table.add_column(f"stage {stage['index']}\n({', '.join(parts)})" if len(stages) > 1 else "per GPU",
                         justify="right")
    for key, label in _MEMORY_ROWS:
        table.add_row(label, *(_gb(s["bytes"][key]) for s in stages))
    budget = plan["cluster"]["gpu_memory_gb"]
    total_label = "total" + (f" (budget {budget:g})" if budget else "")
    table.add_row(total_label, *(_gb(s["bytes"]["total"]) for s in stages), style="bold")
    return table


def _layout_text(plan: dict[str, Any]) -> str:
    lay = plan["layout"]
    ckpt = "on" if lay["activation_checkpointing"] else "off"
    return (f"{lay['world']} GPUs = dp {lay['dp']} × tp {lay['tp']} × pp {lay['pp']}, checkpointing {ckpt}, "
            f"gradients reduced {lay['reduce_grads']}")


def summary_table(plan: dict[str, Any]) -> Table:
    t, arch, work, perf = Table(title="Plan"), plan["architecture"], plan["workload"], plan["throughput"]
    t.add_column("")
    t.add_column("value", justify="right")
    comm = plan["communication"]
    rows = [
        ("model", f"{plan['config']['model']}: {plan['parameters']['total']:,} parameters"),
        ("shape", f"{arch['layers']} layers, hidden {arch['hidden']}, heads {arch['heads']}/{arch['kv_heads']} KV, "
                  f"MLP {arch['intermediate']}, vocab {arch['vocab']:,}"),
        ("batch", f"{work['global_batch']} × {work['seq_len']} tokens; micro-batch {work['micro_batch']} × "
                  f"{work['accumulation']} accumulation"),
        ("FLOPs per token", f"{plan['flops_per_token']:.4g} (6·N + 12·L·h·s, N = {plan['parameters']['flops_counted']:,})"),
        ("sent per GPU per step", f"{_gb(comm['total'])} GB (FSDP all-gather {_gb(comm['fsdp_all_gather'])}, "
                                  f"reduce-scatter {_gb(comm['fsdp_reduce_scatter'])}, TP all-reduce "
                                  f"{_gb(comm['tp_all_reduce'])}, PP {_gb(comm['pp_send'])})"),
        ("step time", f"{perf['step_seconds']:.2f} s at MFU {plan['cluster']['mfu']:.0%} of "
                      f"{plan['cluster']['gpu_tflops']:g} TFLOP/s per GPU"),
        ("throughput", f"{perf['tokens_per_second']:,.0f} tokens/s ({perf['tokens_per_second_per_gpu']:,.0f} per GPU)"),
    ]
    if perf["days"] is not None:
        rows.append(("token budget", f"{perf['steps']:,} steps = {perf['total_tokens'] / 1e9:,.1f} B tokens: "
                                     f"{perf['days']:.1f} days, {perf['gpu_hours']:,.0f} GPU-hours"))
    if plan["layout"]["pp"] > 1:
        rows.append(("pipeline bubble (1F1B)", f"{plan['pipeline_bubble']:.1%} of a step (included in the MFU)"))
    for label, value in rows:
        t.add_row(label, value)
    return t


def print_plan(plan: dict[str, Any], console: Console) -> None:
    console.print(summary_table(plan))
    console.print(memory_table(plan))
    for note in plan["notes"]:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)


def plan_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False)
