"""Questions/s of meditron's prefix-sharing lm-eval backend vs lm-eval's stock ``hf`` backend (same model, same questions).

Both backends score MedQA-USMLE 4-option questions in top_token mode (log-likelihood of `` A``..`` D``), zero-shot and
3-shot (MEDITRON's 7B setting, one seed), through the same request builder (``meditron.eval.modes.top_token``), in the
same process, alternating rounds; the best round of each is kept. Accuracy and log-likelihoods must be identical.

Model: a random Llama built from ``LlamaConfig`` (hidden 512, 4 layers) with the real 32k SentencePiece tokenizer of
``../shared/data/tokenizers`` — real token counts for real questions, small enough for a 2-core CPU.

    python benchmarks/eval_throughput.py --questions 40 --rounds 2                  # top_token table
    python benchmarks/eval_throughput.py --part generation --threads 1 --gen-rounds 3  # CoT / SC-CoT table

Generation (``--part generation``): the first ``--gen-questions`` questions as CoT prompts, greedy and SC-CoT
(``--samples`` at T=0.8), both backends' ``generate_until``, the SC-CoT list being each request repeated as lm-eval's
``repeats`` does. The model's EOS logit is given a text-dependent boost (``--eos-strength``, see ``build_model``) so
outputs end at varied lengths as a trained model's do; ``--eos-strength 0`` gives outputs that always run to
``--max-gen-toks``. ``--gen-model DIR`` runs the generation part on an existing model folder instead (e.g. the real
pretrained ``../shared/models/aidreams260K-hf``, whose outputs end on their own; its 128-token context left-truncates
the prompts to ``128 - --max-gen-toks`` tokens in both backends).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def build_model(out: Path, hidden: int, layers: int, eos_strength: float = 0.0) -> Path:
    """Random Llama with the real 32k tokenizer; ``eos_strength`` > 0 makes it end its outputs at varied lengths.

    A random model almost never samples EOS (1 in 32k), so every output would run to ``max_gen_toks`` — unlike a
    trained model, whose CoT answers end at different lengths. Setting the EOS row of the LM head to
    ``eos_strength`` x a random unit vector gives EOS a logit that varies with the hidden state (std ≈ eos_strength),
    i.e. a per-token stop probability that depends on the text, the same for both backends (same weights).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from meditron.tokenizer import load_tokenizer

    tok = load_tokenizer(SHARED / "tokenizers" / "tokenizer.model.v1")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = LlamaForCausalLM(cfg).to(torch.float32)
    if eos_strength:
        direction = torch.randn(hidden, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            model.lm_head.weight[tok.eos_token_id] = eos_strength * direction / direction.norm()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def top_token_rows(args: argparse.Namespace, model_dir: Path, bset) -> bool:
    """The log-likelihood table: top_token 0-shot and 3-shot, best round of each backend."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from meditron.eval.backends import PrefixSharingHFLM
    from meditron.eval.modes import FewshotPool, top_token

    items = bset.items[: args.questions]
    pool = FewshotPool(bset.items, "test set", from_test=True)
    stock = HFLM(pretrained=str(model_dir), device="cpu", batch_size=args.batch_size)
    ours = PrefixSharingHFLM(pretrained=str(model_dir), device="cpu", batch_size=args.batch_size)
    rows = []
    for k in (0, 3):
        best = {"hf": float("inf"), "meditron": float("inf")}
        recs = {}
        for _ in range(args.rounds):
            for name, lm in (("hf", stock), ("meditron", ours)):
                t = time.perf_counter()
                recs[name] = top_token(lm, items, k=k, seed=1234 if k else None, pool=pool if k else None)
                best[name] = min(best[name], time.perf_counter() - t)
        diff = max(
            abs(a["loglikelihoods"][key] - b["loglikelihoods"][key])
            for a, b in zip(recs["hf"], recs["meditron"], strict=True)
            for key in a["loglikelihoods"]
        )
        acc = {n: sum(r["correct"] for r in v) / len(v) for n, v in recs.items()}
        tokens = sum(len(stock.tok_encode(r["prompt"])) for r in recs["hf"]) / len(items)
        rows.append((k, best, acc, diff, tokens))
    print(f"# {len(items)} MedQA-4 questions · Llama hidden {args.hidden} x {args.layers} layers, 32k vocab, fp32")
    print(
        f"# {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(
        "| setting | prompt tokens/question | hf q/s | meditron q/s | speed-up | accuracy hf / meditron | max |Δ loglik| |"
    )
    print("|---|---:|---:|---:|---:|---|---:|")
    ok = True
    for k, best, acc, diff, tokens in rows:
        qs = {n: len(items) / t for n, t in best.items()}
        print(
            f"| {k}-shot | {tokens:.0f} | {qs['hf']:.2f} | {qs['meditron']:.2f} | {qs['meditron'] / qs['hf']:.2f}x | "
            f"{acc['hf']:.3f} / {acc['meditron']:.3f} | {diff:.1e} |"
        )
        ok &= acc["hf"] == acc["meditron"] and diff <= 1e-4
    return ok


def generation_rows(args: argparse.Namespace, model_dir: Path, bset) -> bool:
    """CoT (greedy) and SC-CoT (``--samples`` at temperature 0.8) through ``generate_until`` of both backends.

    The SC-CoT requests are what lm-eval's evaluator sends for ``repeats=N``: each request N times in a row. Both
    backends get the same list; rounds alternate between them; the median round of each is reported.
    """
    import statistics

    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from meditron.benchmarks import prompts
    from meditron.eval.backends import PrefixSharingHFLM
    from meditron.eval.modes import STOP_SEQUENCES

    items = bset.items[: args.gen_questions]
    texts = [prompts.cot_prompt(item) for item in items]
    stock = HFLM(pretrained=str(model_dir), device="cpu", batch_size=args.batch_size)
    ours = PrefixSharingHFLM(pretrained=str(model_dir), device="cpu", batch_size=args.batch_size)
    base = {"until": STOP_SEQUENCES, "max_gen_toks": args.max_gen_toks}
    greedy = {**base, "do_sample": False}
    sampled = {**base, "do_sample": True, "temperature": 0.8}
    workloads = {
        "CoT (greedy)": [Instance("generate_until", {}, (t, dict(greedy)), i) for i, t in enumerate(texts)],
        f"SC-CoT ({args.samples} samples, T=0.8)": [
            Instance("generate_until", {}, (t, dict(sampled)), i)
            for i, t in enumerate(texts)
            for _ in range(args.samples)
        ],
    }
    prompt_tokens = sum(len(stock.tok_encode(t)) for t in texts) // len(texts)
    print(
        f"\n# generation: {model_dir.name}, {len(items)} MedQA-4 questions, CoT prompt {prompt_tokens}"
        f" tokens/question, max_gen_toks {args.max_gen_toks}, eos_strength {args.eos_strength},"
        f" batch {args.batch_size},"
        f" {args.gen_rounds} rounds (median), torch threads {torch.get_num_threads()},"
        f" load average before: {os.getloadavg()[0]:.1f}"
    )
    print("| workload | hf q/s | meditron q/s | speed-up | output tokens/sample hf / meditron | identical outputs |")
    print("|---|---:|---:|---:|---|---|")
    ok = True
    for label, reqs in workloads.items():
        times: dict[str, list[float]] = {"hf": [], "meditron": []}
        outs: dict[str, list[str]] = {}
        for _ in range(args.gen_rounds):
            for name, lm in (("hf", stock), ("meditron", ours)):
                torch.manual_seed(1234)
                t = time.perf_counter()
                outs[name] = lm.generate_until(reqs, disable_tqdm=True)
                times[name].append(time.perf_counter() - t)
        qs = {n: len(items) / statistics.median(v) for n, v in times.items()}
        toks = {n: sum(len(stock.tok_encode(o)) for o in v) / len(v) for n, v in outs.items()}
        same = outs["hf"] == outs["meditron"]
        sampled_run = "SC" in label
        print(
            f"| {label} | {qs['hf']:.3f} | {qs['meditron']:.3f} | {qs['meditron'] / qs['hf']:.2f}x | "
            f"{toks['hf']:.0f} / {toks['meditron']:.0f} | {'n/a (sampled)' if sampled_run else same} |"
        )
        rounds = {n: [round(x, 1) for x in v] for n, v in times.items()}
        print(f"#   seconds per round: hf {rounds['hf']}, meditron {rounds['meditron']}")
        ok &= sampled_run or same
    print(f"# load average after: {os.getloadavg()[0]:.1f}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "top_token", "generation"], default="all")
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--gen-questions", type=int, default=8)
    ap.add_argument("--gen-rounds", type=int, default=3)
    ap.add_argument("--max-gen-toks", type=int, default=128)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--eos-strength", type=float, default=3.0)
    ap.add_argument("--gen-model", type=Path, default=None, help="model folder for the generation part")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from meditron.benchmarks import load_benchmark

    bset = load_benchmark("medqa4", SHARED / "benchmarks")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("all", "top_token"):
            ok &= top_token_rows(args, build_model(Path(tmp) / "model", args.hidden, args.layers), bset)
        if args.part in ("all", "generation"):
            gen_dir = args.gen_model or build_model(
                Path(tmp) / "gen_model", args.hidden, args.layers, args.eos_strength
            )
            ok &= generation_rows(args, gen_dir, bset)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
