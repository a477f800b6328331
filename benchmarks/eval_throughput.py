"""Questions/s of meditron's prefix-sharing lm-eval backend vs lm-eval's stock ``hf`` backend (same model, same questions).

Both backends score MedQA-USMLE 4-option questions in top_token mode (log-likelihood of `` A``..`` D``), zero-shot and
3-shot (MEDITRON's 7B setting, one seed), through the same request builder (``meditron.eval.modes.top_token``), in the
same process, alternating rounds; the best round of each is kept. Accuracy and log-likelihoods must be identical.

Model: a random Llama built from ``LlamaConfig`` (hidden 512, 4 layers) with the real 32k SentencePiece tokenizer of
``../shared/data/tokenizers`` — real token counts for real questions, small enough for a 2-core CPU.

    python benchmarks/eval_throughput.py --questions 40 --rounds 2
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


def build_model(out: Path, hidden: int, layers: int) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from meditron.data.tokenizer import load_tokenizer

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
    LlamaForCausalLM(cfg).to(torch.float32).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    from meditron.eval.backends import PrefixSharingHFLM
    from meditron.eval.benchmarks import load_benchmark
    from meditron.eval.modes import FewshotPool, top_token

    bset = load_benchmark("medqa4", SHARED / "benchmarks")
    items = bset.items[: args.questions]
    pool = FewshotPool(bset.items, "test set", from_test=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(Path(tmp) / "model", args.hidden, args.layers)
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
