"""Check a GGUF export against its HF model in llama.cpp itself: token ids and next-token choices on prompts.

Why: a GGUF file can load and still be wrong (Q/K permutation, pre-tokenizer, special tokens); only llama.cpp's own
tokenizer and kernels can tell. Needs ``llama-cpp-python``.

    python -m meditron.serve.gguf_check runs/x/hf runs/x/gguf/x-q8_0.gguf
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PROMPTS = [
    "The patient presented with chest pain radiating to the left arm",
    "Sepsis guidelines recommend early antibiotics, fluid resuscitation and source control.",
    "What is the first-line treatment for anaphylaxis? Intramuscular epinephrine 0.5 mg.",
    "  Iron deficiency anaemia: low ferritin (12 ng/mL), MCV 71 fL.\nNext step?",
    "Hypertension 140/90 mmHg — résumé naïve café 😀 in 2024",
]


def compare_with_llamacpp(hf_dir: Path, gguf_file: Path, prompts: list[str] | None = None) -> dict[str, Any]:
    """Counts of prompts with identical token ids and identical next token, positions with the same top-1, and the
    largest logit difference. The HF tokenizer's own BOS/EOS behaviour is used on both sides."""
    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = prompts or DEFAULT_PROMPTS
    tok = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True, dtype=torch.float32).eval()
    n_ctx = max(len(tok(p).input_ids) for p in prompts) + 8
    llm = Llama(model_path=str(gguf_file), n_ctx=n_ctx, logits_all=True, verbose=False, n_threads=1)
    out = {"prompts": len(prompts), "same_tokens": 0, "same_next_token": 0, "positions": 0, "same_top1": 0,
           "max_abs_logit_diff": 0.0}
    try:
        for text in prompts:
            ids = tok(text).input_ids
            add_bos = bool(ids) and ids[0] == tok.bos_token_id
            lt = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
            out["same_tokens"] += int(lt == ids)
            llm.reset()
            llm.eval(ids)
            got = np.array(llm.scores[: len(ids)], dtype=np.float32)
            with torch.no_grad():
                ref = model(torch.tensor([ids])).logits[0].float().numpy()
            out["same_next_token"] += int(got[-1].argmax() == ref[-1].argmax())
            out["positions"] += len(ids)
            out["same_top1"] += int((got.argmax(-1) == ref.argmax(-1)).sum())
            out["max_abs_logit_diff"] = max(out["max_abs_logit_diff"], float(np.abs(got - ref).max()))
    finally:
        llm.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir", type=Path)
    ap.add_argument("gguf_file", type=Path)
    ap.add_argument("--prompts", type=Path, help="Text file, one prompt per line (default: built-in medical prompts)")
    args = ap.parse_args()
    prompts = [p for p in args.prompts.read_text(encoding="utf-8").splitlines() if p.strip()] if args.prompts else None
    print(json.dumps(compare_with_llamacpp(args.hf_dir, args.gguf_file, prompts), indent=2))


if __name__ == "__main__":
    main()
