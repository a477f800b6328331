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


def _sentencepiece_ids(sp_file: Path, texts: list[str]) -> list[list[int]]:
    """Raw ``sentencepiece`` ids with BOS first: the tokenizer that pretrained the model is the ground truth."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_file))
    return [[sp.bos_id(), *sp.encode(t)] for t in texts]


@sp_models.requires_aidreams
def test_real_pretrained_aidreams_model(tmp_path: Path, capsys):
    """The real llama2.c model, GGUF exported straight from its folder: llama.cpp's ids equal meditron's tokenizer's on
    all 14 prompts (leading spaces included: the tokenizer is rebuilt on tokenizer.model, as SentencePiece, which
    pretrained it, encodes), its next token is HF's, and both equal raw SentencePiece on every plain-text prompt."""
    from meditron.serve.gguf_check import DEFAULT_PROMPTS, compare_with_llamacpp, main

    gguf_file = _export_gguf(sp_models.AIDREAMS, tmp_path / "gguf")
    r = compare_with_llamacpp(sp_models.AIDREAMS, gguf_file)
    assert r["prompts"] == 14 and r["same_tokens"] == 14 and r["same_next_token"] == 14
    plain = [n for n in DEFAULT_PROMPTS if n not in ("markers", "chatml")]  # SentencePiece knows no added tokens
    rows = {row.name: row for row in r["rows"]}
    assert [rows[n].llama_ids for n in plain] == _sentencepiece_ids(sp_models.AIDREAMS / "tokenizer.model",
                                                                    [DEFAULT_PROMPTS[n] for n in plain])
    assert main([str(sp_models.AIDREAMS), str(gguf_file), "--tokens-only"]) == 0
    assert "token ids identical on 14/14 prompts" in capsys.readouterr().out


def _chat_prompt_ids(gguf_file: Path, messages: list[dict[str, str]]) -> list[int]:
    """The prompt ids llama-cpp-python evaluates for a chat completion (the GGUF's own chat template and BOS flag)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf_file), n_ctx=256, verbose=False, n_threads=1)
    try:
        llm.create_chat_completion(messages, max_tokens=1, temperature=0.0)
        return [int(i) for i in llm.input_ids[: llm.n_tokens]]
    finally:
        llm.close()


CHAT = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": " Epinephrine dose?"}]


@sp_models.requires_aidreams
def test_aidreams_with_meditron_tokens_hf_export_and_gguf_agree(tmp_path: Path, capsys):
    """aidreams + MEDITRON's 12 tokens + ChatML, as finetuning leaves it: plain ``AutoTokenizer`` on the HF export
    gives meditron's ids on every prompt, llama.cpp gives the same on all 16 (two chat turns included), and a chat
    completion in llama.cpp evaluates exactly the HF export's ``apply_chat_template`` ids, starting with one BOS."""
    from transformers import AutoTokenizer

    from meditron.serve.export import run_export
    from meditron.serve.gguf_check import main, prompt_set
    from meditron.tokenizer import load_tokenizer

    src = sp_models.aidreams_meditron(tmp_path / "aidreams-meditron")
    hf = run_export(src, tmp_path / "hf", "hf")
    ours, plain = load_tokenizer(src), AutoTokenizer.from_pretrained(hf, local_files_only=True)
    cases = prompt_set(ours)
    assert len(cases) == 16
    assert [plain(t, add_special_tokens=a).input_ids for _, t, a in cases] == \
        [ours(t, add_special_tokens=a).input_ids for _, t, a in cases]
    gguf_file = _export_gguf(src, tmp_path / "gguf")
    assert main([str(hf), str(gguf_file)]) == 0
    assert "token ids identical on 16/16 prompts; next token identical on 16/16" in capsys.readouterr().out
    want = plain.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    got = _chat_prompt_ids(gguf_file, CHAT)
    assert got == list(want) and got[:2] == [1, plain.convert_tokens_to_ids("<|im_start|>")]


def test_quickstart_style_chat_completion_has_no_bos(tiny_model: Path, files):
    """Byte-level BPE that adds no BOS (the quickstart's convention): llama.cpp's chat prompt is the HF template's
    ids exactly, with no BOS."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    want = tok.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    got = _chat_prompt_ids(files["f16"], CHAT)
    assert got == list(want) and tok.bos_token_id not in got and got[0] == tok.convert_tokens_to_ids("<|im_start|>")


@sp_models.requires_sp32k
def test_transformers5_first_scheme_folder_is_read_as_sentencepiece(tmp_path: Path):
    """A folder saved by transformers 5's ``LlamaTokenizer.from_pretrained`` (Metaspace ``prepend_scheme='first'``)
    beside its tokenizer.model: meditron reads it rebuilt on the .model, so llama.cpp agrees on all 16 prompts; the
    folder's tokenizer.json alone differs from SentencePiece exactly where the rebuild matters (after special tokens,
    before a leading space) and on one merge order."""
    from transformers import AutoTokenizer

    from meditron.serve.gguf_check import prompt_set
    from meditron.tokenizer import load_tokenizer

    hf = sp_models.sp32k_meditron(tmp_path / "sp32k", "from_pretrained")
    rows = _token_rows(hf, _export_gguf(hf, tmp_path / "gguf"))
    assert len(rows) == 16 and all(rows.values()), rows
    ours, first = load_tokenizer(hf), AutoTokenizer.from_pretrained(hf, local_files_only=True)
    differ = [n for n, t, a in prompt_set(ours) if ours(t, add_special_tokens=a).input_ids !=
              first(t, add_special_tokens=a).input_ids]
    assert differ == ["leading spaces", "leading space", "spaces+tabs", "markers", "chatml", "chat template",
                      "chat turn"]
