"""Check a GGUF export against its HF model in llama.cpp itself: token ids on a fixed prompt set, then the next token.

Why: a GGUF file can load and still be wrong (placeholder token scores, token types, the ``▁`` llama.cpp puts after
special tokens, Q/K permutation); only llama.cpp's own tokenizer and kernels can tell. Needs ``llama-cpp-python``.
Exits 1 on any token-id difference, or on a different next token where HF's choice is not a near-tie (its top two
logits closer than twice the two models' largest logit difference there, i.e. within the format's numeric error);
0 otherwise.

    python -m meditron.serve.gguf_check runs/x/hf runs/x/gguf/x-q8_0.gguf
    python -m meditron.serve.gguf_check runs/x/hf runs/x/gguf/x-f16.gguf --tokens-only   # tokenizer only, fast
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from meditron.special_tokens import IM_END, IM_START

#: The fixed prompt set: medical text, digits, whitespace and Unicode edge cases, MEDITRON markers, a raw ChatML turn.
#: Chat turns rendered with the model's own chat template are added by :func:`prompt_set`.
DEFAULT_PROMPTS: dict[str, str] = {
    "medical": "The patient presented with chest pain radiating to the left arm",
    "sepsis": "Sepsis guidelines recommend early antibiotics, fluid resuscitation and source control.",
    "question": "What is the first-line treatment for anaphylaxis? Intramuscular epinephrine 0.5 mg.",
    "digits": "HbA1c 7.2% (55 mmol/mol), eGFR 60 mL/min/1.73 m2, dose 12500 IU, 2024-03-17 08:45",
    "accents+emoji": "Hypertension 140/90 mmHg — résumé naïve café 😀 in 2024",
    "µ ≥ CJK": "Vitamin B12 500 µg daily if ≥ 65; 糖尿病 (diabetes) and 高血压 ≤ 3 months",
    "leading spaces": "  Iron deficiency anaemia: low ferritin (12 ng/mL), MCV 71 fL.\nNext step?",
    "leading space": " Aspirin inhibits cyclooxygenase.",
    "trailing spaces": "Metformin is first-line in type 2 diabetes.   ",
    "spaces+tabs": "Blood pressure:\t120/80\t\tmmHg,  pulse   72 bpm",
    "newlines": "Assessment:\n\n1. Pneumonia\n2. Sepsis\n",
    "leading newline": "\nPlan: start ceftriaxone 2 g IV",
    "markers": "Asthma [bib_ref] exacerbations [/bib_ref] are treated with salbutamol",
    "chatml": f"{IM_START}user\nWhat causes pneumonia?{IM_END}\n{IM_START}assistant\n",
}
CHAT = [  # short enough for a 128-token model
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Epinephrine dose?"},
    {"role": "assistant", "content": "0.5 mg IM."},
    {"role": "user", "content": "  And in children?"},
]


@dataclass
class Row:
    """One prompt: HF and llama.cpp ids, and (when the model ran) each side's next greedy token."""

    name: str
    hf_ids: list[int]
    llama_ids: list[int]
    hf_next: int | None = None
    llama_next: int | None = None
    near_tie: bool = False  # HF's top two next tokens closer than the two models' logit difference there

    @property
    def same_ids(self) -> bool:
        return self.hf_ids == self.llama_ids

    @property
    def same_next(self) -> bool:
        return self.hf_next == self.llama_next

    @property
    def next_ok(self) -> bool:
        """The same next token, or a different one only where HF's choice is a near-tie (numeric format error)."""
        return self.same_next or self.near_tie

    def first_difference(self) -> int | None:
        pairs = zip(self.hf_ids, self.llama_ids, strict=False)
        return next((i for i, (a, b) in enumerate(pairs) if a != b), None if self.same_ids else
                    min(len(self.hf_ids), len(self.llama_ids)))


def prompt_set(tok, prompts: dict[str, str] | None = None) -> list[tuple[str, str, bool]]:
    """(name, text, add special tokens?) for every prompt: plain texts get BOS/EOS as the tokenizer adds them; chat
    turns rendered with the model's chat template are compared as rendered (the template writes its own markers)."""
    out = [(name, text, True) for name, text in (prompts or DEFAULT_PROMPTS).items()]
    if getattr(tok, "chat_template", None):
        out.append(("chat template", tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True), False))
        out.append(("chat turn", tok.apply_chat_template(CHAT[1:2], tokenize=False, add_generation_prompt=True), False))
    return out


def compare_tokens(tok, llm, prompts: list[tuple[str, str, bool]]) -> list[Row]:
    """HF ids vs llama.cpp ids (special tokens parsed, BOS/EOS added when the GGUF's flags say so)."""
    rows = []
    for name, text, add_special in prompts:
        hf = tok(text, add_special_tokens=add_special).input_ids
        ll = llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=True)
        rows.append(Row(name, list(hf), list(ll)))
    return rows


def compare_next_tokens(hf_dir: Path, llm, rows: list[Row]) -> dict[str, Any]:
    """Feed the HF ids to both models: the next greedy token per prompt, top-1 agreement at every position and the
    largest logit difference."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True, dtype=torch.float32).eval()
    stats = {"positions": 0, "same_top1": 0, "max_abs_logit_diff": 0.0}
    for row in rows:
        ids = row.hf_ids
        llm.reset()
        llm.eval(ids)
        got = np.array(llm.scores[: len(ids)], dtype=np.float32)
        with torch.no_grad():
            ref = model(torch.tensor([ids])).logits[0].float().numpy()
        row.hf_next, row.llama_next = int(ref[-1].argmax()), int(got[-1].argmax())
        top2 = np.sort(ref[-1])[-2:]
        row.near_tie = bool(top2[1] - top2[0] < 2 * np.abs(got[-1] - ref[-1]).max())
        stats["positions"] += len(ids)
        stats["same_top1"] += int((got.argmax(-1) == ref.argmax(-1)).sum())
        stats["max_abs_logit_diff"] = max(stats["max_abs_logit_diff"], float(np.abs(got - ref).max()))
    return stats


def compare_with_llamacpp(hf_dir: Path, gguf_file: Path, prompts: dict[str, str] | None = None,
                          next_token: bool = True) -> dict[str, Any]:
    """Counts of prompts with identical token ids and identical next token (plus ``rows``, one :class:`Row` each)."""
    from llama_cpp import Llama

    from meditron.serve.gguf_vocab import load_hf_tokenizer

    tok = load_hf_tokenizer(Path(hf_dir))
    cases = prompt_set(tok, prompts)
    n_ctx = max(len(tok(text).input_ids) for _, text, _ in cases) + 16
    llm = Llama(model_path=str(gguf_file), n_ctx=n_ctx, logits_all=next_token, verbose=False, n_threads=1,
                vocab_only=not next_token)
    try:
        rows = compare_tokens(tok, llm, cases)
        stats = compare_next_tokens(Path(hf_dir), llm, rows) if next_token else {}
    finally:
        llm.close()
    out = {"prompts": len(rows), "same_tokens": sum(r.same_ids for r in rows), "rows": rows, **stats}
    if next_token:
        out["same_next_token"] = sum(r.same_next for r in rows)
    return out


def _show(tok, ids: list[int], at: int) -> str:
    part = ids[max(0, at - 1): at + 3]
    return " ".join(f"{tok.convert_ids_to_tokens(i)!s}({i})" for i in part) or "(end)"


def report(result: dict[str, Any], tok) -> str:
    """A table, one line per prompt, then the summary line."""
    lines = [f"{'prompt':<16} {'HF':>4} {'gguf':>4}  ids   next  first difference (HF | llama.cpp)"]
    for r in result["rows"]:
        at = r.first_difference()
        diff = "" if at is None else f"@{at}: {_show(tok, r.hf_ids, at)} | {_show(tok, r.llama_ids, at)}"
        nxt = "-" if r.hf_next is None else ("same" if r.same_next else
                                             f"{r.hf_next}≠{r.llama_next}{' (tie)' if r.near_tie else ''}")
        lines.append(f"{r.name[:16]:<16} {len(r.hf_ids):>4} {len(r.llama_ids):>4}  "
                     f"{'same' if r.same_ids else 'DIFF':<5} {nxt:<5} {diff}")
    n = result["prompts"]
    summary = f"token ids identical on {result['same_tokens']}/{n} prompts"
    if "same_next_token" in result:
        ties = sum(r.near_tie and not r.same_next for r in result["rows"])
        summary += (f"; next token identical on {result['same_next_token']}/{n}"
                    + (f" ({ties} other near-ties within the format's error)" if ties else "") + "; top-1 identical at "
                    f"{result['same_top1']}/{result['positions']} positions; max |logit diff| "
                    f"{result['max_abs_logit_diff']:.4g}")
    return "\n".join([*lines, summary])


def passed(result: dict[str, Any]) -> bool:
    """Every prompt has identical ids, and the next token is identical or (only) a near-tie."""
    return result["same_tokens"] == result["prompts"] and all(r.next_ok for r in result["rows"] if r.hf_next is not None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir", type=Path)
    ap.add_argument("gguf_file", type=Path)
    ap.add_argument("--prompts", type=Path, help="Text file, one prompt per line (default: the built-in fixed set)")
    ap.add_argument("--tokens-only", action="store_true", help="Compare token ids only (loads the vocabulary only)")
    args = ap.parse_args(argv)
    prompts = None
    if args.prompts:
        lines = [p for p in args.prompts.read_text(encoding="utf-8").splitlines() if p.strip()]
        prompts = {f"line {i + 1}": p for i, p in enumerate(lines)}
    from meditron.errors import MeditronError
    from meditron.serve.gguf_vocab import load_hf_tokenizer

    try:
        if not args.gguf_file.is_file():
            raise MeditronError(f"{args.gguf_file}: no such GGUF file")
        result = compare_with_llamacpp(args.hf_dir, args.gguf_file, prompts, next_token=not args.tokens_only)
        print(report(result, load_hf_tokenizer(args.hf_dir)))
    except MeditronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ok = passed(result)
    print("OK: llama.cpp agrees with the HF model" if ok else "FAIL: llama.cpp differs from the HF model")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
