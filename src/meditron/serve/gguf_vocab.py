"""The tokenizer half of a GGUF file: tokens, scores, types and flags chosen so llama.cpp tokenizes like the HF model.

Why this needs care: llama.cpp does not run the HF tokenizer, it re-implements it from these arrays.

- SentencePiece vocabularies (``tokenizer.ggml.model = llama``: Llama-2, Mistral, llama2.c) are tokenized by merging
  the adjacent pair whose merged piece has the highest **score**. Placeholder scores (the ``gguf`` library's -1000 when
  no ``tokenizer.model`` is found) make every merge a tie, so "Sepsis" comes out as ``▁Sep sis`` instead of
  ``▁S eps is``. The scores are read from ``tokenizer.model`` (SentencePiece ``ModelProto``) when it is there, else
  derived from the merge order of ``tokenizer.json`` (which transformers built from those same scores).
- Token types decide what llama.cpp splits out before tokenizing: byte pieces ``<0x0A>`` are BYTE (byte fallback),
  tokens added on top of the SentencePiece vocabulary (MEDITRON's ``<|im_start|>`` …) are CONTROL when special, else
  USER_DEFINED, so ``<|im_start|>`` stays one id.
- llama.cpp prepends SentencePiece's dummy space (``▁``) to the start of the text and after every special token
  (``tokenizer.ggml.add_space_prefix``). HF tokenizers that do the same ("legacy" Llama/Mistral ``tokenizer.json``, and
  the one meditron builds from a ``.model``) tokenize identically. transformers ≥ 5's own conversion
  (``Metaspace(prepend_scheme="first")``) adds it only at the very start and not before a leading space: llama.cpp
  cannot express that. A folder with ``tokenizer.model`` is therefore read through meditron's loader, which rebuilds
  the tokenizer on the ``.model`` (as SentencePiece encodes): the vocabulary is built from the tokenizer as loaded, not
  from the ``tokenizer.json`` file. Only a folder without ``tokenizer.model`` can still hold a ``first``-scheme
  tokenizer; :func:`build_vocab` then reports it in ``divergences`` and ``gguf_check`` shows the texts affected.
- Byte-level BPE (``gpt2``: Llama-3/Qwen-style) keeps merges and a pre-tokenizer name instead of scores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meditron.errors import InputError

# SentencePiece ModelProto piece types = llama.cpp token types (gguf.TokenType).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
_BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")
_UNREACHABLE = -1e9  # score of a piece no merge produces (single characters): never compared by llama.cpp

# HF pre-tokenizer regexes → llama.cpp's ``tokenizer.ggml.pre`` names (llama-vocab.cpp).
_GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass
class GGUFVocab:
    """Everything the GGUF writer puts under ``tokenizer.ggml.*`` besides the special ids and the chat template."""

    model: str  # "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    pre: str
    tokens: list[bytes]
    scores: list[float]
    types: list[int]
    add_space_prefix: bool | None = None
    score_source: str = ""
    divergences: list[str] = field(default_factory=list)


def load_hf_tokenizer(model_dir: Path):
    """The tokenizer of ``model_dir`` as every meditron stage loads it (:func:`meditron.tokenizer.load_tokenizer`:
    rebuilt on ``tokenizer.model`` when there is one), or an error naming the folder (not transformers' "install
    sentencepiece")."""
    from meditron.tokenizer import load_tokenizer

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError("model folder does not exist", path=str(model_dir))
    if not any((model_dir / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        raise InputError("no tokenizer.json / tokenizer.model / tokenizer_config.json: the folder holds no tokenizer "
                         "(an empty or partial export?)", path=str(model_dir))
    return load_tokenizer(model_dir)  # library failures become one line naming the folder


def build_vocab(model_dir: Path, n_vocab: int) -> GGUFVocab:
    """The GGUF vocabulary of the HF model in ``model_dir`` whose embedding has ``n_vocab`` rows."""
    model_dir = Path(model_dir)
    tok = load_hf_tokenizer(model_dir)
    tj_path = model_dir / "tokenizer.json"
    backend = getattr(tok, "backend_tokenizer", None)  # the tokenizer as loaded, not the file (it may be rebuilt)
    tj = json.loads(backend.to_str()) if backend is not None else None
    tmodel = (tj or {}).get("model", {})
    if tj is None or (tmodel.get("type") == "BPE" and tmodel.get("byte_fallback")):
        vocab = _sentencepiece_vocab(model_dir, tok, tj, n_vocab)
    elif tmodel.get("type") == "BPE":
        vocab = _bpe_vocab(tok, tj, tj_path, n_vocab)
    else:
        raise InputError(f"tokenizer model {tmodel.get('type')!r} is not supported for GGUF", path=str(tj_path))
    return vocab


def _id_to_text(tok, model_dir: Path, n_vocab: int) -> list[str | None]:
    """Token text by id (added tokens included); None for ids the tokenizer does not use."""
    ids = {i: t for t, i in tok.get_vocab().items()}
    size = max(ids) + 1 if ids else 0
    if size > n_vocab:
        raise InputError(f"the tokenizer has {size} tokens but the model's vocab_size is {n_vocab}",
                         path=str(model_dir))
    if size < n_vocab * 7 // 8:
        raise InputError(
            f"the tokenizer has {size} tokens for {n_vocab} embedding rows: it is not this model's tokenizer. "
            "(transformers ≥ 5 ignores LlamaTokenizer(vocab_file=...) and builds an empty one: load a SentencePiece "
            "file with meditron.tokenizer.load_tokenizer(path) or AutoTokenizer.from_pretrained(folder))",
            path=str(model_dir))
    return [ids.get(i) for i in range(size)]


def _sentencepiece_vocab(model_dir: Path, tok, tj: dict[str, Any] | None, n_vocab: int) -> GGUFVocab:
    texts = _id_to_text(tok, model_dir, n_vocab)
    sp_file = model_dir / "tokenizer.model"
    if not sp_file.is_file() and tj is None:
        raise InputError("no tokenizer.json or tokenizer.model", path=str(model_dir))
    divergences: list[str] = []
    if sp_file.is_file():
        scores, types = _scores_from_sentencepiece(sp_file, texts)
        source = "tokenizer.model"
    if tj is not None:  # the HF tokenizer merges in tokenizer.json's order: that order is the one to reproduce
        merge_scores, merge_types = _scores_from_merges(tj, texts)
        if not sp_file.is_file():
            scores, types, source = merge_scores, merge_types, "tokenizer.json merges"
        elif not _same_order(scores, merge_scores, types):
            scores = [m if t == NORMAL else s for s, m, t in zip(scores, merge_scores, types, strict=True)]
            source = "tokenizer.json merges (types from tokenizer.model)"
            divergences.append("tokenizer.json merges pieces in another order than tokenizer.model's scores (a "
                               "transformers >= 5 conversion): the GGUF follows the HF tokenizer, not SentencePiece")
    tokens: list[bytes] = []
    for i, text in enumerate(texts):
        tokens.append((text if text is not None else f"[PAD{i}]").encode("utf-8"))
    for i, added in tok.added_tokens_decoder.items():
        if types[i] in (UNKNOWN, CONTROL, BYTE):
            continue  # <unk>, <s>, </s> keep their SentencePiece type
        types[i] = CONTROL if added.special else USER_DEFINED
        scores[i] = 0.0
        if not added.special:  # llama.cpp matches user-defined tokens in raw text, before ▁ escaping
            tokens[i] = added.content.replace("\u2581", " ").encode("utf-8")
    _pad(tokens, scores, types, n_vocab)
    if b"<0x0A>" not in tokens and b"\n" not in tokens:
        raise InputError("the SentencePiece vocabulary has neither <0x0A> nor a newline piece; llama.cpp cannot load "
                         "it (std::out_of_range in byte_to_token)", path=str(model_dir))
    prefix, prefix_divergences = _space_prefix(tj, sp_file)
    return GGUFVocab("llama", "default", tokens, scores, types, prefix, source, divergences + prefix_divergences)


def _read_sentencepiece(sp_file: Path):
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(sp_file.read_bytes())
    except Exception as e:  # protobuf raises its own DecodeError (and others) on a file that is not a model
        raise InputError(f"not a SentencePiece model: {e}", path=str(sp_file)) from None
    return proto


def matches_sentencepiece(sp_file: Path, tj: dict[str, Any]) -> bool:
    """Whether ``sp_file``'s pieces are exactly the first ids of ``tokenizer.json``'s vocabulary (same tokenizer)."""
    try:
        proto = _read_sentencepiece(sp_file)
    except InputError:
        return False
    vocab = dict(tj.get("model", {}).get("vocab") or {})
    vocab.update({t["content"]: t["id"] for t in tj.get("added_tokens", [])})
    return len(proto.pieces) > 0 and all(vocab.get(p.piece) == i for i, p in enumerate(proto.pieces))


def _scores_from_sentencepiece(sp_file: Path, texts: list[str | None]) -> tuple[list[float], list[int]]:
    """Piece scores and types from the SentencePiece model, checked piece by piece against the HF vocabulary."""
    proto = _read_sentencepiece(sp_file)
    if len(proto.pieces) > len(texts):
        raise InputError(f"tokenizer.model has {len(proto.pieces)} pieces but the HF tokenizer only {len(texts)} "
                         "tokens: they are not the same tokenizer", path=str(sp_file))
    scores = [0.0] * len(texts)
    types = [UNUSED] * len(texts)
    for i, piece in enumerate(proto.pieces):
        if texts[i] != piece.piece:
            raise InputError(f"tokenizer.model and the HF tokenizer disagree at id {i} ({piece.piece!r} vs "
                             f"{texts[i]!r}): they are not the same tokenizer", path=str(sp_file))
        scores[i], types[i] = float(piece.score), int(piece.type)
    return scores, types


def _scores_from_merges(tj: dict[str, Any], texts: list[str | None]) -> tuple[list[float], list[int]]:
    """Scores for a SentencePiece-style BPE known only from tokenizer.json: a piece scores minus the rank of the first
    merge that makes it, so llama.cpp's "highest score first" merges in the order HF's "lowest rank first" does."""
    model = tj["model"]
    first_rank: dict[str, int] = {}
    for rank, merge in enumerate(model.get("merges", [])):
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        first_rank.setdefault(left + right, rank)
    unk = model.get("unk_token")
    scores, types = [], []
    for text in texts:
        if text is None:
            scores.append(_UNREACHABLE)
            types.append(UNUSED)
            continue
        scores.append(-float(first_rank[text]) if text in first_rank else _UNREACHABLE)
        types.append(BYTE if _BYTE_PIECE.fullmatch(text) else UNKNOWN if text == unk else NORMAL)
    return scores, types


def _same_order(sp_scores: list[float], merge_scores: list[float], types: list[int]) -> bool:
    """Whether the SentencePiece scores never rank a piece above one that tokenizer.json merges earlier (ties, e.g.
    SentencePiece's -1e9 pieces, are fine: tokenizer.json only orders them among themselves)."""
    merged = [i for i, (m, t) in enumerate(zip(merge_scores, types, strict=True)) if t == NORMAL and m != _UNREACHABLE]
    by_merge = sorted(merged, key=lambda i: -merge_scores[i])
    return all(sp_scores[a] >= sp_scores[b] for a, b in zip(by_merge, by_merge[1:], strict=False))


def _pad(tokens: list[bytes], scores: list[float], types: list[int], n_vocab: int) -> None:
    """Embedding rows beyond the tokenizer (vocab padded to a multiple) become unused placeholder tokens."""
    for i in range(len(tokens), n_vocab):
        tokens.append(f"[PAD{i}]".encode())
        scores.append(_UNREACHABLE)
        types.append(UNUSED)


def _space_prefix(tj: dict[str, Any] | None, sp_file: Path) -> tuple[bool, list[str]]:
    """Whether llama.cpp should prepend ``▁``, and the texts on which it will still differ from the HF tokenizer."""
    if tj is None:
        return bool(_read_sentencepiece(sp_file).normalizer_spec.add_dummy_prefix), []
    normalizers = _steps(tj.get("normalizer"), "normalizers")
    pre = _steps(tj.get("pre_tokenizer"), "pretokenizers")
    if any(n.get("type") == "Prepend" and n.get("prepend") == "\u2581" for n in normalizers):
        return True, []  # "legacy" Llama/Mistral: ▁ before every text segment, exactly llama.cpp's rule
    for step in pre:
        if step.get("type") != "Metaspace":
            continue
        scheme = step.get("prepend_scheme") or ("always" if step.get("add_prefix_space", True) else "never")
        if scheme == "never":
            return False, []
        why = ("text that starts with a space (HF does not double the ▁)" if scheme == "always" else
               "text that starts with a space and text right after a special token (HF adds ▁ only at the very "
               "start of the input)")
        return True, [f"Metaspace prepend_scheme={scheme!r}: llama.cpp prepends ▁ at the start and after every "
                      f"special token, so it differs on {why}"]
    return False, []


def _steps(obj: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    if not obj:
        return []
    return list(obj.get(key) or []) if obj.get("type") == "Sequence" else [obj]


def _bpe_vocab(tok, tj: dict[str, Any], tj_path: Path, n_vocab: int) -> GGUFVocab:
    """Byte-level BPE tokens in id order; added special tokens are CONTROL, other added ones USER_DEFINED."""
    texts = _id_to_text(tok, tj_path.parent, n_vocab)
    added = tok.added_tokens_decoder
    tokens, types = [], []
    for i, text in enumerate(texts):
        if text is None:
            tokens.append(f"[PAD{i}]".encode())
            types.append(UNUSED)
        else:
            tokens.append(text.encode("utf-8"))
            types.append((CONTROL if added[i].special else USER_DEFINED) if i in added else NORMAL)
    scores = [0.0] * len(tokens)
    _pad(tokens, scores, types, n_vocab)
    return GGUFVocab("gpt2", _bpe_pre(tj, tj_path), tokens, scores, types, None, "merges")


def _bpe_pre(tj: dict[str, Any], path: Path) -> str:
    pt = tj.get("pre_tokenizer") or {}
    for step in _steps(pt, "pretokenizers"):
        if step.get("type") == "ByteLevel" and step.get("use_regex", True):
            return "gpt-2"
        if step.get("type") == "Split":
            regex = (step.get("pattern") or {}).get("Regex", "")
            if regex == _LLAMA3_REGEX:
                return "llama-bpe"
            if regex == _GPT2_REGEX:
                return "gpt-2"
    raise InputError(f"unknown BPE pre-tokenizer {pt!r}: llama.cpp would split text differently", path=str(path))
