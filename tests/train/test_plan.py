"""`meditron plan`: its bytes agree with real runs, its FLOPs with the trainer's counter, its activation formula with
what autograd keeps and with a measured CPU peak, its parameter counts with Llama-2's published ones; the 70B config
fits 128 × 80 GB and a wrong tensor-parallel degree fails in one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings

import pytest
import torch
import yaml
from rich.console import Console

from meditron.config import load_config
from meditron.errors import ConfigError
from meditron.train.config import ParallelConfig
from meditron.train.metrics import flops_per_token
from meditron.train.plan import Cluster, make_plan
from meditron.train.plan.arch import Architecture, shipped_config
from meditron.train.plan.memory import StageSplit, Workload, activation_bytes, layer_activation_bytes, pipeline_stages
from meditron.train.plan.report import print_plan
from meditron.train.plan.shards import measure_shards
from tests.train.helpers import REPO, _free_port, make_shards, run_cli

PROBE = REPO / "tests" / "train" / "plan_probe.py"


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return make_shards(tmp_path_factory.mktemp("plan_shards"), num_docs={"a": 40, "b": 20})


def _config(tmp_path, shards, global_batch_size: int = 4, **parallel):
    """A run config of tiny-llama on the test shards (fp32, gloo), as a YAML file."""
    cfg = {"name": "p", "out_dir": str(tmp_path), "seed": 7,
           "model": {"preset": "tiny-llama", "tokenizer": str(shards / "tokenizer")},
           "train": {"shards_dir": str(shards), "steps": 10, "seq_len": 32, "global_batch_size": global_batch_size,
                     "micro_batch_size": 2, "tensorboard": False, "parallel": {"backend": "gloo", **parallel}}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _probe(config, out, nproc: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    launch = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node",
                                                  str(nproc), "--master-port", str(_free_port())]
    proc = subprocess.run([*launch, str(PROBE), str(config), str(out)], env=env, capture_output=True, text=True,
                          timeout=240, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def _planned(config, world: int) -> dict:
    plan = make_plan(load_config(config), Cluster(nodes=1, gpus_per_node=world, overhead_gb=0))
    return {**plan["stages"][0]["bytes"], "flops_per_token": plan["flops_per_token"]}


def _assert_same(planned: dict, measured: dict) -> None:
    for key in ("parameters", "gradients", "optimizer"):
        assert planned[key] == measured[key], key
    assert planned["flops_per_token"] == measured["flops_per_token"]


def test_plan_bytes_and_flops_equal_a_real_single_process_step(tmp_path, shards):
    config = _config(tmp_path, shards)
    _assert_same(_planned(config, 1), _probe(config, tmp_path / "one.json", 1))


@pytest.mark.slow
@pytest.mark.parametrize("tp", [1, 2])
def test_plan_bytes_equal_rank0_of_a_two_process_fsdp_or_tp_run(tmp_path, shards, tp):
    config = _config(tmp_path, shards, tp=tp)
    measured = _probe(config, tmp_path / "two.json", 2)
    assert (measured["world"], measured["tp"]) == (2, tp)
    _assert_same(_planned(config, 2), measured)


@pytest.mark.slow
@pytest.mark.parametrize("reduce_grads", ["per_step", "per_micro_batch"])
def test_accumulated_gradients_equal_what_fsdp_holds_between_micro_batches(tmp_path, shards, reduce_grads):
    """The plan's "unsharded gradients (accumulation)" row against the gradients FSDP2 really keeps between the two
    micro-batches of a trainer step on 2 processes: all of them per step, none when reducing every micro-batch."""
    config = _config(tmp_path, shards, global_batch_size=8, reduce_grads=reduce_grads)
    measured = _probe(config, tmp_path / "acc.json", 2)
    assert measured["micro_batches"] == 2
    planned = make_plan(load_config(config), Cluster(nodes=1, gpus_per_node=2, overhead_gb=0))
    assert planned["stages"][0]["bytes"]["accumulated_gradients"] == measured["accumulated_gradients"]
    if reduce_grads == "per_step":  # every parameter, unsharded, fp32: the whole model's bytes
        assert measured["accumulated_gradients"] == planned["parameters"]["total"] * 4
    else:
        assert measured["accumulated_gradients"] == 0
        per_step = make_plan(load_config(_config(tmp_path, shards, global_batch_size=8)), Cluster(1, 2, overhead_gb=0))
        sent, sent_per_step = (p["communication"]["fsdp_reduce_scatter"] for p in (planned, per_step))
        assert sent == 2 * sent_per_step  # one reduce-scatter per micro-batch instead of one per step


def _shipped(hub_id: str) -> Architecture:
    from transformers import AutoConfig

    fields = dict(shipped_config(hub_id))
    fields.pop("architectures")
    return Architecture(config=AutoConfig.for_model(fields.pop("model_type"), **fields), source=hub_id)


@pytest.mark.parametrize(("hub_id", "published"), [("meta-llama/Llama-2-7b-hf", 6_738_415_616),
                                                   ("meta-llama/Llama-2-70b-hf", 68_976_648_192)])
def test_llama2_parameter_counts_and_flops_per_token_match_the_published_ones(hub_id, published):
    arch = _shipped(hub_id)
    report = measure_shards(arch.config, 1, 1, ParallelConfig())
    assert report.global_params == published
    # the trainer's N leaves out the input embedding (a lookup): 32000 × hidden
    assert report.flops_params == published - 32000 * arch.hidden
    seq = 4096
    expected = 6 * (published - 32000 * arch.hidden) + 12 * arch.layers * arch.hidden * seq
    assert flops_per_token(report.flops_params, arch.layers, arch.hidden, seq) == expected


def _tiny_arch(dtype=torch.float32):
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model("llama", hidden_size=128, intermediate_size=344, num_hidden_layers=3,
                                  num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
                                  max_position_embeddings=1024, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return Architecture(config=config, source="tiny"), model


def _saved_bytes(model, ids) -> int:
    """Bytes of the distinct storages autograd keeps for backward (parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, use_cache=False)  # logits of the 96-word head: kept by nothing
    return sum(seen.values())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("ckpt", [False, True])
def test_activation_formula_matches_what_autograd_keeps(dtype, ckpt):
    arch, model = _tiny_arch(dtype)
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    b, s = 2, 256
    e = torch.finfo(dtype).bits // 8
    stored = activation_bytes(arch, StageSplit(0, 3, True, True), Workload(b, s, 1, 1, True, "cpu"), 1, e, ckpt)
    measured = _saved_bytes(model, torch.randint(0, 96, (b, s)))
    # the formula leaves out RoPE's cos/sin (b·s·head_dim each, shared by the layers): within 1 %
    assert abs(stored["stored"] - measured) / measured < 0.01, (stored, measured)


@pytest.mark.parametrize("ckpt", [False, True])
def test_activation_estimate_is_within_10_percent_of_the_measured_cpu_peak(ckpt):
    """Peak of live tensors over forward + fused loss + backward (torch's MemTracker), minus parameters and
    gradients, against the plan's activations + recompute + loss."""
    from torch.distributed._tools.mem_tracker import MemTracker

    from meditron.train.lm_head import hidden_states_from
    from meditron.train.loss import linear_cross_entropy_sum

    arch, model = _tiny_arch()
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    b, s = 2, 512
    ids, labels = torch.randint(0, 96, (b, s)), torch.randint(0, 96, (b * s,))
    tracker = MemTracker()
    tracker.track_external(model)
    with warnings.catch_warnings(), tracker:
        warnings.simplefilter("ignore")
        with hidden_states_from(model.lm_head):
            hidden = model(input_ids=ids, use_cache=False).logits
        linear_cross_entropy_sum(hidden.flatten(0, 1), model.lm_head.weight, labels).backward()
    peak = next(iter(tracker.get_tracker_snapshot("peak").values()))
    by_kind = {str(k).rsplit(".", 1)[-1]: v for k, v in peak.items()}
    measured = by_kind["Total"] - by_kind["PARAM"] - by_kind["GRAD"] - by_kind["BUFFER"]
    est = activation_bytes(arch, StageSplit(0, 3, True, True), Workload(b, s, 1, 1, True, "cpu"), 1, 4, ckpt)
    planned = est["stored"] + est["recompute"] + est["loss"]
    assert abs(planned - measured) / measured < 0.10, (planned, measured)


def test_tensor_parallel_divides_attention_and_mlp_activations_not_the_norms():
    arch, _ = _tiny_arch()
    one, two = layer_activation_bytes(arch, 1, 64, 1, 2), layer_activation_bytes(arch, 1, 64, 2, 2)
    norms = 2 * 64 * (128 * 8 + 4)
    assert one - norms == 2 * (two - norms)


def test_70b_config_fits_128_gpus_of_80_gb_and_prints_a_throughput():
    proc = run_cli(["plan", "-c", "configs/meditron-70b.yaml", "--nodes", "16", "--gpus-per-node", "8",
                    "--gpu-memory-gb", "80", "--json"])
    plan = json.loads(proc.stdout)
    assert plan["fits"] and plan["peak_bytes"] < 80e9
    assert plan["layout"] == {"tp": 8, "pp": 1, "dp": 16, "activation_checkpointing": True, "reduce_grads": "per_step",
                              "world": 128}
    assert plan["architecture"]["vocab"] == 32012  # Llama-2's 32000 + MEDITRON's 12 special tokens
    assert plan["parameters"]["total"] == 68_976_648_192 + 2 * 12 * 8192
    assert plan["throughput"]["tokens_per_second"] > 0
    assert plan["throughput"]["total_tokens"] == 23000 * 512 * 4096
    console = Console(record=True, width=160)
    print_plan(plan, console)  # the tables the command prints without --json
    tables = console.export_text()
    assert "tokens/s" in tables and "total (budget 80)" in tables


def test_7b_preset_splits_its_batch_on_64_gpus_and_needs_per_micro_batch_reduction_on_40_gb():
    """The 7B preset's 1600 sequences = micro-batch 5 × 64 GPUs × 5 (docs/SCALING.md); on 40 GB cards the unsharded
    gradients of accumulation (6.74e9 × 4 B) do not fit, and the plan names the setting that removes them."""
    cluster = ["--nodes", "8", "--gpus-per-node", "8"]
    plan = json.loads(run_cli(["plan", "-c", "configs/meditron-7b.yaml", *cluster, "--gpu-memory-gb", "80",
                               "--json"]).stdout)
    assert plan["fits"] and plan["workload"]["accumulation"] == 5
    assert plan["stages"][0]["bytes"]["accumulated_gradients"] == plan["parameters"]["total"] * 4
    proc = run_cli(["plan", "-c", "configs/meditron-7b.yaml", *cluster, "--gpu-memory-gb", "40"], check=False)
    assert proc.returncode != 0
    assert "nearest layout that fits: tp=1, pp=1, activation checkpointing on, gradients reduced per_micro_batch" \
        in proc.stderr


def test_tensor_parallel_3_fails_in_one_line_with_the_nearest_layout():
    proc = run_cli(["plan", "-c", "configs/meditron-70b.yaml", "--nodes", "16", "--gpus-per-node", "8",
                    "--gpu-memory-gb", "80", "--set", "train.parallel.tp=3"], check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "train.parallel.tp=3 does not divide the model's num_attention_heads=64" in lines[0]
    # tp=4 keeping every unsharded gradient would need ~69 GB; reducing them every micro-batch fits
    assert ("nearest layout that fits: tp=4, pp=1, activation checkpointing on, gradients reduced per_micro_batch"
            in lines[0])
    flags = re.search(r"; (--set .*)\)$", lines[0]).group(1).split()
    fits = run_cli(["plan", "-c", "configs/meditron-70b.yaml", "--nodes", "16", "--gpus-per-node", "8",
                    "--gpu-memory-gb", "80", "--json", *flags])
    assert json.loads(fits.stdout)["fits"]


def test_layouts_that_cannot_work_are_refused(tmp_path, shards):
    cfg = load_config(_config(tmp_path, shards))
    with pytest.raises(ConfigError, match="train.parallel.pp=3 does not divide the model's num_hidden_layers=2"):
        make_plan(cfg, Cluster(nodes=1, gpus_per_node=6), pp=3)
    with pytest.raises(ConfigError, match=r"tp × pp = 4 does not divide the 6 GPUs"):
        make_plan(load_config(_config(tmp_path, shards, tp=2)), Cluster(nodes=1, gpus_per_node=6), pp=2)


def test_pipeline_degree_comes_from_the_config_and_stages_follow_the_trainers_split(tmp_path, shards):
    """``train.parallel.pp`` is what the plan lays out (``--pp`` only overrides it); each stage holds the layers
    ``train/pipeline.py:stage_layer_ranges`` gives it, the embedding on the first and the head on the last."""
    cluster = Cluster(nodes=1, gpus_per_node=2, overhead_gb=0)
    from_config = make_plan(load_config(_config(tmp_path, shards), ["train.parallel.pp=2"]), cluster)
    from_flag = make_plan(load_config(_config(tmp_path, shards)), cluster, pp=2)
    assert from_config["layout"] == from_flag["layout"] == {"tp": 1, "pp": 2, "dp": 1, "activation_checkpointing": False,
                                                            "reduce_grads": "per_step", "world": 2}
    assert from_config["peak_bytes"] == from_flag["peak_bytes"]
    assert [(s.layers, s.embedding, s.head) for s in pipeline_stages(2, 2)] == [(1, True, False), (1, False, True)]


def test_a_budget_too_small_fails_and_names_a_layout_that_fits(tmp_path, shards):
    cfg = load_config(_config(tmp_path, shards))
    fits = make_plan(cfg, Cluster(nodes=1, gpus_per_node=2, overhead_gb=0))
    assert fits["layout"]["dp"] == 2
    budget_gb = fits["peak_bytes"] / 1e9 * 0.99
    small = Cluster(nodes=1, gpus_per_node=2, gpu_memory_gb=budget_gb, overhead_gb=0)
    with pytest.raises(ConfigError, match="over the .* GB budget; nearest layout that fits") as err:
        make_plan(cfg, small)
    assert "\n" not in str(err.value)
    tp, pp, ckpt, reduce = re.search(r"fits: tp=(\d+), pp=(\d+), activation checkpointing (on|off), gradients "
                                     r"reduced (per_step|per_micro_batch)", str(err.value)).groups()
    overrides = [f"train.parallel.tp={tp}", f"train.parallel.activation_checkpointing={ckpt == 'on'}",
                 f"train.parallel.reduce_grads={reduce}"]
    suggested = make_plan(load_config(_config(tmp_path, shards), overrides), small, pp=int(pp))
    assert suggested["fits"] and suggested["peak_bytes"] <= budget_gb * 1e9


def test_pipeline_stages_hold_embeddings_first_and_head_last(tmp_path, shards):
    plan = make_plan(load_config(_config(tmp_path, shards)), Cluster(nodes=1, gpus_per_node=2, overhead_gb=0), pp=2)
    first, last = (s["stage"] for s in plan["stages"])
    assert (first["layers"], first["embedding"], first["head"]) == (1, True, False)
    assert (last["layers"], last["embedding"], last["head"]) == (1, False, True)
    # 1F1B: the first stage holds 2 micro-batches in flight, the last one
    assert [s["activation_detail"]["micro_batches_in_flight"] for s in plan["stages"]] == [2, 1]


def test_the_papers_3d_layout_keeps_each_stages_layers_gathered_between_micro_batches():
    """MEDITRON-70B as the paper ran it (TP 8 × PP 8 × DP 2 on 128 GPUs): torch's pipeline schedule leaves every layer
    of a stage gathered after each micro-batch's backward (``set_reshard_after_backward(False)``), so with gradient
    accumulation a stage of 10 layers holds 10 gathered layers; with one micro-batch per step, FSDP's window of 2."""
    cluster = Cluster(nodes=16, gpus_per_node=8, overhead_gb=0)
    accumulating = make_plan(load_config("configs/meditron-70b.yaml", ["train.parallel.pp=8"]), cluster)
    single = make_plan(load_config("configs/meditron-70b.yaml", ["train.parallel.pp=8", "train.global_batch_size=2"]),
                       cluster)
    assert accumulating["layout"]["dp"] == single["layout"]["dp"] == 2
    assert (accumulating["workload"]["accumulation"], single["workload"]["accumulation"]) == (256, 1)
    assert accumulating["stages"][0]["stage"]["layers"] == 10
    # one Llama-2-70B layer on one of 8 TP ranks: q, o 8192², k, v 8192×1024, MLP 3 × 8192 × 28672 split 8 ways, the
    # two RMSNorm weights (8192 each) whole; bf16 (2 B) when gathered
    layer = (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672) // 8 + 2 * 8192
    extra = (accumulating["stages"][0]["bytes"]["gathered_parameters"]
             - single["stages"][0]["bytes"]["gathered_parameters"])
    assert extra == (10 - 2) * layer * 2
