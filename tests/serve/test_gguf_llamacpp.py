"""The GGUF export checked in llama.cpp itself (llama-cpp-python): same tokenization and same next token as the HF
model, for f16 and q8_0. transformers' own GGUF loader undoes Q/K permutation errors, so it cannot be the judge; to
show this test would catch one, a file written without the permutation must disagree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meditron.serve import gguf as gguf_mod
from meditron.serve.gguf import write_gguf
from tests.serve import sp_models
from tests.testing import requires_module

pytestmark = [pytest.mark.slow, requires_module("llama_cpp", "(pip install llama-cpp-python; builds from source)")]

PROMPTS = [
    "The patient presented with chest pain radiating to the left arm",
    "Sepsis guidelines recommend early antibiotics, fluid resuscitation and source control.",
    "What is the first-line treatment for anaphylaxis? Intramuscular epinephrine 0.5 mg.",
    "Warfarin requires INR monitoring; DOACs need dose changes in renal failure!",
    "  Iron deficiency anaemia: low ferritin (12 ng/mL), MCV 71 fL.\nNext step?",
    "Asthma [bib_ref] exacerbations [/bib_ref] are treated with salbutamol",
    "<|im_start|>user\nWhat causes pneumonia?<|im_end|>\n<|im_start|>assistant\n",
    "Hypertension 140/90 mmHg — résumé naïve café 😀 in 2024",
]


@pytest.fixture(scope="module")
def hf(tiny_model: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoTokenizer.from_pretrained(tiny_model, local_files_only=True),
            AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True).eval())


def _llama(path: Path):
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=256, logits_all=True, verbose=False, n_threads=1, seed=0)


def _llama_logits(llm, ids: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float32)


def _hf_logits(hf, ids: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return hf[1](torch.tensor([ids])).logits[0].float().numpy()


@pytest.fixture(scope="module")
def files(tiny_model: Path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("llamacpp")
    return {t: write_gguf(tiny_model, out / f"tiny-{t}.gguf", t) for t in ("f16", "q8_0")}


@pytest.mark.parametrize("qtype", ["f16", "q8_0"])
def test_llamacpp_matches_hf(files, hf, qtype):
    tok = hf[0]
    llm = _llama(files[qtype])
    differ = total = 0
    for text in PROMPTS:
        ids = tok(text, add_special_tokens=False).input_ids
        assert llm.tokenize(text.encode("utf-8"), add_bos=False, special=True) == ids, text
        ref, got = _hf_logits(hf, ids), _llama_logits(llm, ids)
        # the next token after the prompt must be the same
        assert int(got[-1].argmax()) == int(ref[-1].argmax()), text
        # at every position llama.cpp picks HF's token unless HF's top two are within the format's numeric error
        # (a near-tie), and that error is small: f16 ≈ 0.3% of the logit range here; q8_0, which in llama.cpp's
        # kernels also quantizes activations, ≈ 10%
        top2 = np.sort(ref, axis=-1)[:, -2:]
        err = np.abs(got - ref).max(-1)
        same = got.argmax(-1) == ref.argmax(-1)
        assert (same | ((top2[:, 1] - top2[:, 0]) < 2 * err)).all(), text
        assert err.max() < (0.01 if qtype == "f16" else 0.15) * np.abs(ref).max(), text
        differ += int((~same).sum())
        total += len(ids)
    assert differ / total < (0.02 if qtype == "f16" else 0.15), (differ, total)
    assert llm.detokenize(tok("Aspirin inhibits cyclooxygenase.").input_ids).decode() == "Aspirin inhibits cyclooxygenase."


def test_unpermuted_qk_would_be_caught(tiny_model: Path, hf, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(gguf_mod, "permute_qk", lambda w, n: w)
    bad = write_gguf(tiny_model, tmp_path / "bad.gguf", "f16")
    llm = _llama(bad)
    ids = hf[0](PROMPTS[0], add_special_tokens=False).input_ids
    ref, got = _hf_logits(hf, ids), _llama_logits(llm, ids)
    assert np.abs(got[0] - ref[0]).max() < 0.05 * np.abs(ref).max()  # position 0: RoPE is the identity
    assert np.abs(got[1:] - ref[1:]).max() > 0.1 * np.abs(ref).max()  # later positions are wrong


def test_gguf_check_tool_reports_agreement(files, tiny_model: Path, capsys):
    from meditron.serve.gguf_check import compare_with_llamacpp, main

    r = compare_with_llamacpp(tiny_model, files["f16"])  # the fixed set + chat turns rendered with the template
    assert r["prompts"] == 16 and r["same_tokens"] == 16 and all(row.next_ok for row in r["rows"])
    assert r["same_next_token"] >= 15  # at most one near-tie on this random tiny model
    assert r["same_top1"] >= r["positions"] - 4 and r["max_abs_logit_diff"] < 0.1
    assert main([str(tiny_model), str(files["q8_0"])]) == 0
    out = capsys.readouterr().out
    assert "token ids identical on 16/16 prompts" in out and "DIFF" not in out and "OK:" in out


# --- SentencePiece tokenizers (Llama-2 / Mistral / llama2.c): the real ones in ../shared -----------------------------


def _export_gguf(model_dir: Path, out: Path) -> Path:
    from meditron.serve.export import run_export

    return next(run_export(model_dir, out, "gguf", gguf_types=["f16"]).glob("*.gguf"))


def _token_rows(hf_dir: Path, gguf_file: Path) -> dict[str, bool]:
    from meditron.serve.gguf_check import compare_with_llamacpp

    return {r.name: r.same_ids for r in compare_with_llamacpp(hf_dir, gguf_file, next_token=False)["rows"]}


@sp_models.requires_sp32k
def test_32k_sentencepiece_model_with_meditron_tokens_tokenizes_like_hf(tmp_path: Path, capsys):
    """The real 32k Mistral tokenizer loaded from its .model (as the corpus stage does) + MEDITRON's 12 tokens + ChatML:
    every prompt of the fixed set, chat turns included, gets the same ids in llama.cpp, and the same next token."""
    from meditron.serve.gguf_check import main

    hf = sp_models.sp32k_meditron(tmp_path / "sp32k")
    gguf_file = _export_gguf(hf, tmp_path / "gguf")
    assert main([str(hf), str(gguf_file)]) == 0
    out = capsys.readouterr().out
    assert "token ids identical on 16/16 prompts; next token identical on 16/16" in out, out


@sp_models.requires_sp32k
def test_placeholder_scores_are_caught(tmp_path: Path, monkeypatch, capsys):
    """A GGUF written with the gguf library's placeholder scores (-1000, what the export wrote before) fails the check."""
    from meditron.serve import gguf_vocab
    from meditron.serve.gguf_check import main

    hf = sp_models.sp32k_meditron(tmp_path / "sp32k")
    real = gguf_vocab._sentencepiece_vocab

    def placeholder(*args, **kwargs):
        v = real(*args, **kwargs)
        v.scores = [-1000.0] * len(v.scores)
        return v

    monkeypatch.setattr(gguf_vocab, "_sentencepiece_vocab", placeholder)
    bad = write_gguf(hf, tmp_path / "placeholder.gguf", "f16")
    assert main([str(hf), str(bad), "--tokens-only"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and out.count("DIFF") >= 8, out


@sp_models.requires_aidreams
def test_real_pretrained_aidreams_model(tmp_path: Path):
    """The real llama2.c model: llama.cpp's ids equal HF's on every prompt that does not start with a space, and its
    next token is HF's. Its transformers-5 tokenizer.json (Metaspace prepend_scheme='first') does not double the ▁ before
    a leading space, which llama.cpp (like SentencePiece and llama2.c, which trained it) does: those two differ."""
    from meditron.serve.gguf_check import compare_with_llamacpp

    gguf_file = _export_gguf(sp_models.AIDREAMS, tmp_path / "gguf")
    r = compare_with_llamacpp(sp_models.AIDREAMS, gguf_file)
    differ = sorted(row.name for row in r["rows"] if not row.same_ids)
    assert differ == ["leading space", "leading spaces"]
    assert r["prompts"] == 14 and r["same_next_token"] == 14  # includes the raw ChatML turn (plain text here)


@sp_models.requires_sp32k
def test_transformers5_first_scheme_differs_only_around_special_tokens_and_leading_spaces(tmp_path: Path):
    """LlamaTokenizer.from_pretrained(folder with tokenizer.model) under transformers 5: its merges are followed (the
    multiple-spaces prompt matches, unlike SentencePiece's order), and the only differences left are the ones llama.cpp
    cannot express: no ▁ after a special token, no doubled ▁ before a leading space."""
    hf = sp_models.sp32k_meditron(tmp_path / "sp32k", "from_pretrained")
    rows = _token_rows(hf, _export_gguf(hf, tmp_path / "gguf"))
    assert sorted(n for n, same in rows.items() if not same) == [
        "chat template", "chat turn", "chatml", "leading space", "leading spaces", "markers"]
