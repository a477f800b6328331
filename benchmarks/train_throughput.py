"""Training throughput: meditron's Trainer vs Hugging Face ``transformers.Trainer`` on the same model and tokens.

Each run is a fresh subprocess (process-wide settings such as our trainer's CPU allocator setting do not leak into
the other's runs). Both train the same randomly initialised Llama (same seed, fp32) on the same fixed-length sequences
read from the same token shards, in the same order (HF's sampler is made sequential), with the same batch (sequences
per optimiser step) and the same optimiser and schedule (fused AdamW β=(0.9, 0.95), decay on matrices only, warm-up
then cosine to a floor, clipping at 1.0; HF's loop is handed the optimiser and scheduler), in one process on this
machine. They therefore compute the same losses step by step (``loss_max_rel_diff``, fp32 rounding aside): the
benchmark times the same arithmetic done by two loops. Runs alternate (ours, HF, ours, HF...) so background load hits
both alike.

Measured: tokens/s over the steps after ``--warmup`` (wall clock between the end of the warm-up step and the end of
the last step, logging included), and for ours the share of that time the loop waited for data (``data_wait_s``);
minor page faults per timed step; and, pooled over all rounds, the median time of one step (end to end, the
loop's own work included), the figure that neighbours' load on a shared machine moves least. Also the median of the
per-round ratios and the best round of each.

    python benchmarks/train_throughput.py --steps 24 --warmup 4 --rounds 8
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _minor_faults() -> int:
    """Minor page faults of this process so far (a fresh page mapped and zero-filled by the kernel)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def make_inputs(root: Path, vocab: int, num_tokens: int, seed: int):
    """A WordLevel tokenizer of ``vocab`` tokens and one shard source of Zipf-distributed ids."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from meditron.data.shards import write_manifest, write_token_file

    words = ["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(vocab - 3)]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tok.save_pretrained(root / "tokenizer")
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.2, num_tokens) + 2, vocab - 1)
    docs = [list(map(int, ids[i : i + 500])) + [2] for i in range(0, num_tokens, 500)]
    t, d = write_token_file(root / "train/bench/00000.ds", docs, 2)
    write_manifest(
        root,
        {
            "token_size": 2,
            "tokenizer": "tokenizer",
            "eos_id": 2,
            "vocab_size": vocab,
            "sources": {"bench": {"train": {"files": ["train/bench/00000.ds"], "num_tokens": t, "num_docs": d}}},
        },
    )
    return tok


def model_config(args, vocab: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=args.seq,
        tie_word_embeddings=False,
    )


def fresh_model(args, vocab: int):
    from transformers import LlamaForCausalLM

    torch.manual_seed(args.seed)
    return LlamaForCausalLM(model_config(args, vocab)).float()


def run_ours(args, shards: Path, tok, out: Path) -> dict:
    from meditron.data.blend import build_pretrain_datasets
    from meditron.train.config import TrainConfig
    from meditron.train.trainer import Trainer

    cfg = TrainConfig(
        steps=args.steps,
        seq_len=args.seq,
        global_batch_size=args.batch,
        micro_batch_size=args.micro,
        lr=3e-4,
        min_lr=3e-5,
        warmup_steps=2,
        weight_decay=0.1,
        grad_clip=1.0,
        tensorboard=False,
        eval_every=10**6,
        prefetch=2,
        checkpoint={"every_steps": 10**6, "keep_last": 1},
        parallel={
            "compile": args.compile,
            "cpu_keep_freed_memory": not args.no_keep_freed_memory,
            "fused_lm_head_loss": not args.no_fused_head,
        },
    )
    train, _, _ = build_pretrain_datasets(shards, args.seq, seed=args.seed)

    class Counted(Trainer):
        """Our trainer, with the process's minor page faults so far in each step's log record."""

        def _step_record(self, *a, **kw):
            return {**super()._step_record(*a, **kw), "minor_faults": _minor_faults()}

    trainer = Counted(
        model_factory=lambda: fresh_model(args, len(tok)),
        tokenizer=tok,
        train_data=train,
        cfg=cfg,
        checkpoint_dir=out / "ckpt",
        log_path=out / "train.jsonl",
    )
    trainer.train()
    log = [json.loads(x) for x in (out / "train.jsonl").read_text().splitlines()]
    timed = log[args.warmup :]
    wall = timed[-1]["wall_time"] - log[args.warmup - 1]["wall_time"]
    cpu = timed[-1]["process_cpu_s"] - log[args.warmup - 1]["process_cpu_s"]
    tokens = sum(args.batch * args.seq for _ in timed)
    return {
        "step_times": np.diff([r["wall_time"] for r in log[args.warmup - 1 :]]).tolist(),
        "tokens_per_s": tokens / wall,
        "tokens_per_cpu_s": tokens / cpu,
        "data_wait_share": sum(r["data_wait_s"] for r in timed) / wall,
        "minor_faults_per_step": (timed[-1]["minor_faults"] - log[args.warmup - 1]["minor_faults"]) / len(timed),
        "first_loss": log[0]["loss"],
        "last_loss": log[-1]["loss"],
        "losses": [r["loss"] for r in log],
    }


def run_hf(args, shards: Path, tok, out: Path) -> dict:
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from meditron.data.blend import build_pretrain_datasets
    from meditron.train.schedule import build_scheduler

    train, _, _ = build_pretrain_datasets(shards, args.seq, seed=args.seed)

    class Samples(torch.utils.data.Dataset):
        """The same global samples our trainer consumes: indices [0, steps × batch)."""

        def __len__(self):
            return args.steps * args.batch

        def __getitem__(self, i):
            s = train[i]
            return {"input_ids": torch.from_numpy(s["input_ids"]), "labels": torch.from_numpy(s["labels"])}

    ends: list[float] = []
    cpu_ends: list[float] = []
    fault_ends: list[int] = []
    losses: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            ends.append(time.time())
            cpu_ends.append(time.process_time())
            fault_ends.append(_minor_faults())

        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    targs = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=args.micro,
        gradient_accumulation_steps=args.batch // args.micro,
        max_steps=args.steps,
        learning_rate=3e-4,
        lr_scheduler_type="cosine",
        warmup_steps=2,
        weight_decay=0.1,
        adam_beta1=0.9,
        adam_beta2=0.95,
        adam_epsilon=1e-5,
        max_grad_norm=1.0,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=args.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
        torch_compile=args.hf_compile,
    )

    class InOrder(Trainer):
        """Batches in index order, as ours: the same sequences in the same steps, so the losses can be compared."""

        def _get_train_sampler(self, *args, **kwargs):
            return torch.utils.data.SequentialSampler(self.train_dataset)

    # The same optimiser and schedule as ours (fused AdamW, decay on matrices only, warm-up then cosine to a floor), so
    # the two runs do the same arithmetic and their losses agree step by step; the HF loop drives them.
    model = fresh_model(args, len(tok))
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), eps=1e-5, fused=True)
    scheduler = build_scheduler(optimizer, lr=3e-4, min_lr=3e-5, warmup_steps=2, total_steps=args.steps)
    trainer = InOrder(
        model=model, args=targs, train_dataset=Samples(), callbacks=[Clock()], optimizers=(optimizer, scheduler)
    )
    trainer.train()
    wall = ends[-1] - ends[args.warmup - 1]
    tokens = (len(ends) - args.warmup) * args.batch * args.seq
    cpu = cpu_ends[-1] - cpu_ends[args.warmup - 1]
    return {
        "step_times": np.diff(ends[args.warmup - 1 :]).tolist(),
        "tokens_per_s": tokens / wall,
        "tokens_per_cpu_s": tokens / cpu,
        "minor_faults_per_step": (fault_ends[-1] - fault_ends[args.warmup - 1]) / (len(ends) - args.warmup),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "losses": losses,
    }


def run_child(args: argparse.Namespace, which: str, root: Path, out: Path) -> dict:
    """Run one trainer in a subprocess with the same arguments; returns its result dict."""
    argv, forwarded = sys.argv[1:], []
    while argv:
        a = argv.pop(0)
        if a == "--json":
            argv.pop(0)
        elif not a.startswith("--json="):
            forwarded.append(a)
    cmd = [sys.executable, __file__, *forwarded, "--child", which, "--root", str(root), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{which} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--intermediate", type=int, default=688)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8, help="sequences per optimiser step")
    p.add_argument("--micro", type=int, default=8, help="sequences per forward pass")
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compile", action="store_true", help="ours with train.parallel.compile (per-layer torch.compile)")
    p.add_argument(
        "--no-keep-freed-memory", action="store_true", help="ours without train.parallel.cpu_keep_freed_memory"
    )
    p.add_argument("--no-fused-head", action="store_true", help="ours without train.parallel.fused_lm_head_loss")
    p.add_argument("--hf-compile", action="store_true", help="HF's Trainer with torch_compile=True (whole model)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--child", choices=["meditron", "hf_trainer"], help=argparse.SUPPRESS)
    p.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    # One trainer in a fresh process: nothing one trainer sets (allocator, compile caches) reaches the other.
    if args.child:
        from transformers import PreTrainedTokenizerFast

        tok = PreTrainedTokenizerFast.from_pretrained(args.root / "shards" / "tokenizer")
        run = run_ours if args.child == "meditron" else run_hf
        print(json.dumps(run(args, args.root / "shards", tok, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_inputs(
            root / "shards", args.vocab, num_tokens=max(200_000, args.steps * args.batch * args.seq * 2), seed=1
        )
        rounds: dict[str, list[dict]] = {"meditron": [], "hf_trainer": []}
        for r in range(args.rounds):
            for which in rounds:
                rounds[which].append(run_child(args, which, root, root / f"{which}{r}"))
            summary = {
                k: {f: x for f, x in v[-1].items() if f not in ("step_times", "losses")} for k, v in rounds.items()
            }
            print(f"round {r}: " + json.dumps(summary), flush=True)
    best = {k: max(v, key=lambda x: x["tokens_per_s"]) for k, v in rounds.items()}
    # The steady statistic on a shared machine: the median step over every timed step of every round (a neighbour's
    # burst slows a few steps of one round; it moves a round's mean, hardly the pooled median).
    median_step = {k: statistics.median(t for x in v for t in x["step_times"]) for k, v in rounds.items()}
    ratio = best["meditron"]["tokens_per_s"] / best["hf_trainer"]["tokens_per_s"]
    params = sum(p.numel() for p in fresh_model(args, args.vocab).parameters())
    result = {
        "command": "python benchmarks/train_throughput.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "json" and v is not None),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "model_params": params,
        "best": best,
        "all_rounds": rounds,
        "speedup": ratio,
        "median_step_s": median_step,
        "median_step_speedup": median_step["hf_trainer"] / median_step["meditron"],
        # Same optimiser, schedule, data order and init: the two loops compute the same losses (fp32 rounding aside).
        "loss_max_rel_diff": max(
            abs(a - b) / abs(b)
            for x, y in zip(rounds["meditron"], rounds["hf_trainer"], strict=True)
            for a, b in zip(x["losses"], y["losses"], strict=True)
        ),
        "median_speedup": statistics.median(
            a["tokens_per_s"] / b["tokens_per_s"]
            for a, b in zip(rounds["meditron"], rounds["hf_trainer"], strict=True)
        ),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
