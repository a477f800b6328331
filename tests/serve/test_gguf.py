"""GGUF writer: metadata, tensor layout, Q/K permutation and vocab as llama.cpp reads them (structure only; the
numeric check in llama.cpp itself is test_gguf_llamacpp.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from meditron.errors import InputError
from meditron.serve.export import run_export
from meditron.serve.gguf import gguf_tensor_name, permute_qk, write_gguf
from tests.serve import sp_models


def _field(reader, key):
    return reader.fields[key].contents()


@pytest.fixture(scope="module")
def gguf_files(tiny_model: Path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gguf")
    return {t: write_gguf(tiny_model, out / f"tiny-{t}.gguf", t) for t in ("f16", "q8_0")}


def test_metadata_and_vocab(gguf_files, tiny_model: Path):
    import gguf
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    cfg = json.loads((tiny_model / "config.json").read_text())
    r = gguf.GGUFReader(gguf_files["q8_0"])
    assert _field(r, "general.architecture") == "llama"
    assert _field(r, "llama.block_count") == cfg["num_hidden_layers"]
    assert _field(r, "llama.attention.head_count_kv") == cfg["num_key_value_heads"]
    assert _field(r, "llama.rope.dimension_count") == cfg["hidden_size"] // cfg["num_attention_heads"]
    assert _field(r, "tokenizer.ggml.model") == "gpt2" and _field(r, "tokenizer.ggml.pre") == "gpt-2"
    tokens = _field(r, "tokenizer.ggml.tokens")
    assert len(tokens) == cfg["vocab_size"]
    vocab = tok.get_vocab()
    assert all(tokens[i] == t for t, i in vocab.items())
    types = _field(r, "tokenizer.ggml.token_type")
    im_end = vocab["<|im_end|>"]
    assert types[im_end] == gguf.TokenType.CONTROL and types[vocab["Ġthe"]] == gguf.TokenType.NORMAL
    assert len(_field(r, "tokenizer.ggml.merges")) == len(json.loads((tiny_model / "tokenizer.json").read_text())["model"]["merges"])
    assert _field(r, "tokenizer.ggml.eos_token_id") == tok.eos_token_id
    assert _field(r, "tokenizer.ggml.eot_token_id") == im_end
    assert _field(r, "tokenizer.chat_template") == (tiny_model / "chat_template.jinja").read_text()
    kinds = {t.name: t.tensor_type.name for t in r.tensors}
    assert len(kinds) == 2 + 2 * 9 + 1  # embed, norm, lm_head + 9 per layer
    assert kinds["blk.0.attn_q.weight"] == "Q8_0" and kinds["blk.1.ffn_norm.weight"] == "F32"
    assert {t.tensor_type.name for t in gguf.GGUFReader(gguf_files["f16"]).tensors} == {"F16", "F32"}


def test_qk_rows_are_permuted_for_ggml_rope(gguf_files, tiny_model: Path):
    import gguf
    from safetensors.numpy import load_file

    hf = load_file(str(tiny_model / "model.safetensors"))
    r = gguf.GGUFReader(gguf_files["f16"])
    tensors = {t.name: np.asarray(t.data) for t in r.tensors}
    q = hf["model.layers.0.self_attn.q_proj.weight"]
    k = hf["model.layers.1.self_attn.k_proj.weight"]
    got_q = tensors["blk.0.attn_q.weight"].astype(np.float32).reshape(q.shape)
    got_k = tensors["blk.1.attn_k.weight"].astype(np.float32).reshape(k.shape)
    np.testing.assert_allclose(got_q, permute_qk(q, 4), atol=2e-3)
    np.testing.assert_allclose(got_k, permute_qk(k, 2), atol=2e-3)
    assert not np.allclose(got_q, q, atol=1e-2)  # the permutation really moves rows
    v = hf["model.layers.0.self_attn.v_proj.weight"]
    np.testing.assert_allclose(tensors["blk.0.attn_v.weight"].astype(np.float32).reshape(v.shape), v, atol=2e-3)


def test_permutation_is_per_head_rotary_halves_to_pairs():
    head_dim, n_head = 4, 2
    w = np.arange(n_head * head_dim, dtype=np.float32)[:, None]
    # per head rows [a0 a1 b0 b1] (first half, second half) become [a0 b0 a1 b1]
    assert permute_qk(w, n_head)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_names_and_errors(tmp_path: Path, tiny_model: Path):
    assert gguf_tensor_name("model.layers.3.mlp.down_proj.weight") == "blk.3.ffn_down.weight"
    assert gguf_tensor_name("lm_head.weight") == "output.weight"
    with pytest.raises(InputError, match="unexpected tensor"):
        gguf_tensor_name("model.layers.0.block_sparse_moe.gate.weight")
    bad = tmp_path / "gpt"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(InputError, match="Llama-architecture"):
        write_gguf(bad, tmp_path / "x.gguf")
    with pytest.raises(InputError, match="not one of"):
        write_gguf(tiny_model, tmp_path / "x.gguf", "q4_k")


def test_export_gguf_format_writes_card_and_lineage(run_dir: Path):
    out = run_export(run_dir / "checkpoints" / "finetune", run_dir / "gguf", "gguf")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "lineage.json", "medrun-f16.gguf", "medrun-q8_0.gguf"]
    lineage = json.loads((out / "lineage.json").read_text())
    assert set(lineage["export"]["files"]) == {"medrun-f16.gguf", "medrun-q8_0.gguf"}
    assert "| 1,500 | 1,203 | 277 | 20 |" in (out / "README.md").read_text()


@sp_models.requires_sp32k
def test_sentencepiece_vocab_has_real_scores_types_and_prefix(tmp_path: Path):
    """Scores are tokenizer.model's, byte pieces BYTE, MEDITRON's added tokens CONTROL, and without tokenizer.model the
    scores derived from tokenizer.json's merges rank the pieces the same way."""
    import gguf
    from sentencepiece import SentencePieceProcessor

    from meditron.serve.gguf_vocab import CONTROL, NORMAL, build_vocab

    hf = sp_models.sp32k_meditron(tmp_path / "sp32k")
    r = gguf.GGUFReader(write_gguf(hf, tmp_path / "sp.gguf", "f16"))
    sp = SentencePieceProcessor(model_file=str(sp_models.SP_32K))
    scores, types = _field(r, "tokenizer.ggml.scores"), _field(r, "tokenizer.ggml.token_type")
    tokens = _field(r, "tokenizer.ggml.tokens")
    assert len(tokens) == 32012 and tokens[32010] == "<|im_start|>" and types[32010] == gguf.TokenType.CONTROL
    assert [scores[i] for i in (0, 13, 318, 2671, 31999)] == [sp.get_score(i) for i in (0, 13, 318, 2671, 31999)]
    assert types[13] == gguf.TokenType.BYTE and tokens[13] == "<0x0A>" and types[1] == gguf.TokenType.CONTROL
    assert _field(r, "tokenizer.ggml.model") == "llama" and _field(r, "tokenizer.ggml.add_space_prefix") is True
    assert len(set(scores)) > 30000  # not the placeholder -1000 everywhere
    (hf / "tokenizer.model").unlink()
    derived = build_vocab(hf, 32012)
    assert derived.score_source == "tokenizer.json merges" and derived.types[32000:] == [CONTROL] * 12
    merged = [i for i in range(32000) if derived.types[i] == NORMAL and derived.scores[i] > -1e9]
    assert len(merged) == 28446  # every piece some merge makes
    in_merge_order = [sp.get_score(i) for i in sorted(merged, key=lambda i: -derived.scores[i])]
    assert in_merge_order == sorted(in_merge_order, reverse=True)  # the same ranking as SentencePiece's scores


@sp_models.requires_sp32k
def test_tokenizer_that_does_not_cover_the_model_is_refused(tmp_path: Path):
    """transformers 5's LlamaTokenizer(vocab_file=...) silently builds a 3-token tokenizer; a GGUF of it made llama.cpp
    crash (std::out_of_range: no <0x0A> piece). The writer refuses it in one line naming the cause."""
    from transformers import LlamaTokenizer

    tok = LlamaTokenizer(vocab_file=str(sp_models.SP_32K))
    hf = sp_models.tiny_llama(tmp_path / "broken", tok)
    cfg = json.loads((hf / "config.json").read_text())
    cfg["vocab_size"] = 32000  # the model the user meant: a 32k embedding
    (hf / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match=r"has 3 tokens for 32000 embedding rows.*LlamaTokenizer\(vocab_file"):
        write_gguf(hf, tmp_path / "x.gguf")


def test_missing_tokenizer_names_the_folder(tmp_path: Path, tiny_model: Path):
    hf = tmp_path / "hf"
    hf.mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model / f, hf / f)
    with pytest.raises(InputError, match=f"{hf}: no tokenizer.json / tokenizer.model"):
        write_gguf(hf, tmp_path / "x.gguf")
