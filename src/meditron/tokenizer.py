"""Load an HF tokenizer from a local path and add MEDITRON's special tokens.

Three local forms are accepted because users arrive with any of them: a saved HF tokenizer directory, a bare
``tokenizer.json`` and a SentencePiece ``.model`` (Llama/Mistral layout). transformers 5 no longer converts a
``.model`` through ``LlamaTokenizer(vocab_file=...)``, and its SentencePiece BPE converter passes the piece scores in
the wrong argument, so the conversion here builds the fast tokenizer itself with the merges ordered by piece score
(the order SentencePiece applies them): the result encodes exactly like ``sentencepiece`` (a test pins this).

A ``.model`` loads as a Llama-style tokenizer: it adds BOS when encoding (``tok("a")`` starts with ``<s>``, as
Llama-2/Mistral do) and never EOS, so training documents and inference prompts start the way the model expects.

A string that is not an existing path is treated as a hub id (``AutoTokenizer.from_pretrained``) for online users.

:func:`describe_tokenizer` is the tokenizer's identity (vocabulary fingerprint, BOS/EOS ids and whether encoding adds
them): the corpus stage records it in the shard manifest and pretraining compares it with the model's tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from meditron.errors import InputError
from meditron.special_tokens import CHATML_TOKENS, structure_markers

log = logging.getLogger(__name__)

#: Structure markers that MEDITRON's cleaners write into full papers (citations, figures, tables, formulas), in the
#: default lower-case spelling; ``corpus.markup.case: upper`` gives the paper's ``[BIB_REF]``... (``structure_markers``).
MEDITRON_SPECIAL_TOKENS: tuple[str, ...] = structure_markers("lower")
ALL_SPECIAL_TOKENS: tuple[str, ...] = MEDITRON_SPECIAL_TOKENS + CHATML_TOKENS

# End-of-document tokens of common families, tried in order when a bare tokenizer.json does not say which it uses.
_EOS_CANDIDATES = ("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|eot_id|>")
_BOS_CANDIDATES = ("<s>", "<|begin_of_text|>", "<bos>")


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """A fast HF tokenizer from a local directory, ``tokenizer.json`` or SentencePiece ``.model`` (or a hub id)."""
    p = Path(path)
    try:
        if p.is_dir():
            return _load_dir(p)
        if p.is_file() and p.suffix == ".json":
            return _load_tokenizer_json(p)
        if p.is_file():
            return _load_sentencepiece(p)
    except InputError:
        raise
    except Exception as e:  # library errors become a message naming the file
        raise InputError(f"cannot load a tokenizer: {type(e).__name__}: {e}", path=str(p)) from None
    if str(path).startswith(("/", ".", "~")) or p.suffix in (".json", ".model"):
        raise InputError("tokenizer path does not exist", path=str(p))
    return AutoTokenizer.from_pretrained(str(path))  # hub id, for users with network access


def _load_dir(p: Path) -> PreTrainedTokenizerBase:
    if (p / "tokenizer.json").exists() or (p / "tokenizer_config.json").exists():
        tok = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
        if (p / "tokenizer.model").is_file():
            return _with_sentencepiece_backend(tok, p / "tokenizer.model")
        return tok
    models = sorted(p.glob("*.model"))
    if models:
        return _load_sentencepiece(models[0])
    raise InputError("directory has no tokenizer.json, tokenizer_config.json or SentencePiece .model", path=str(p))


def _pick(tokenizer_json: Path, candidates: tuple[str, ...]) -> str | None:
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    vocab = {t["content"] for t in data.get("added_tokens", [])}
    model_vocab = data.get("model", {}).get("vocab", {})
    if isinstance(model_vocab, dict):
        vocab |= {c for c in candidates if c in model_vocab}
    return next((c for c in candidates if c in vocab), None)


def _load_tokenizer_json(p: Path) -> PreTrainedTokenizerBase:
    eos, bos = _pick(p, _EOS_CANDIDATES), _pick(p, _BOS_CANDIDATES)
    kwargs = {k: v for k, v in {"eos_token": eos, "bos_token": bos}.items() if v}
    return PreTrainedTokenizerFast(tokenizer_file=str(p), **kwargs)


def _load_sentencepiece(p: Path) -> PreTrainedTokenizerBase:
    """Convert a SentencePiece model (BPE or Unigram) into a fast tokenizer that encodes identically."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import LlamaConverter, generate_merges

    class _Converter(LlamaConverter):
        def tokenizer(self, proto):  # BPE with merges ordered by score, as SentencePiece applies them
            if proto.trainer_spec.model_type != 2:
                return super().tokenizer(proto)
            vocab_scores = self.vocab(proto)
            vocab = {piece: i for i, (piece, _) in enumerate(vocab_scores)}
            merges = generate_merges(vocab, vocab_scores)
            unk = proto.trainer_spec.unk_piece
            tk = Tokenizer(BPE(vocab, merges, unk_token=unk, fuse_unk=True, byte_fallback=True, dropout=None))
            tk.add_tokens(
                [AddedToken(x.piece, normalized=False, special=x.type == 3) for x in proto.pieces if x.type in (3, 4)]
            )
            return tk

    try:
        sp = spm.SentencePieceProcessor(model_file=str(p))
    except Exception as e:
        raise InputError(f"not a SentencePiece model: {e}", path=str(p)) from None
    shim = SimpleNamespace(vocab_file=str(p), legacy=True, add_prefix_space=True, convert_ids_to_tokens=sp.id_to_piece)
    backend = _Converter(shim).converted()

    def piece(i: int) -> str | None:
        return sp.id_to_piece(i) if 0 <= i < sp.get_piece_size() else None

    kwargs = {"unk_token": piece(sp.unk_id()), "bos_token": piece(sp.bos_id()), "eos_token": piece(sp.eos_id())}
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        add_bos_token=kwargs["bos_token"] is not None,  # Llama/Mistral convention: BOS first, no EOS
        add_eos_token=False,
        **{k: v for k, v in kwargs.items() if v},
    )
    tok.sentencepiece_model_file = str(p)  # save_tokenizer keeps it beside tokenizer.json (GGUF conversion reads it)
    return tok


def _with_sentencepiece_backend(folder_tok: PreTrainedTokenizerBase, sp_file: Path) -> PreTrainedTokenizerBase:
    """The folder's tokenizer rebuilt on its SentencePiece ``tokenizer.model``: same ids, tokens, special tokens, BOS/EOS
    habit and chat template, but text encoded exactly as SentencePiece (which pretrained the model) encodes it.

    Why: transformers >= 5 converts a Llama ``tokenizer.model`` to ``Metaspace(prepend_scheme="first")``, which puts
    ``▁`` only at the very start of the input: it differs from SentencePiece (and from llama.cpp, which follows
    SentencePiece) on text that starts with a space and on text right after a special token (``<|im_start|>user``).
    Built from the ``.model``, every stage and the GGUF tokenize alike (docs/DATA.md, "SentencePiece tokenizers").
    The folder's own tokenizer is kept when ``tokenizer.model`` is not SentencePiece, and (with a warning) when it is
    not the folder's vocabulary or the rebuild would change a token id.
    """
    try:
        tok = _load_sentencepiece(sp_file)
    except InputError:  # e.g. Llama-3's tiktoken tokenizer.model: not SentencePiece
        return folder_tok
    folder_vocab = folder_tok.get_vocab()
    if any(folder_vocab.get(t) != i for t, i in tok.get_vocab().items()):
        log.warning("%s is not the vocabulary of the tokenizer beside it: using tokenizer.json as it is", sp_file)
        folder_tok.sentencepiece_model_file = None
        return folder_tok
    extra = set(getattr(folder_tok, "extra_special_tokens", None) or [])
    for _, added in sorted(folder_tok.added_tokens_decoder.items()):
        if added.content in tok.get_vocab():
            continue
        if added.content in extra:
            tok.add_special_tokens({"additional_special_tokens": [added]}, replace_extra_special_tokens=False)
        else:
            tok.add_tokens([added], special_tokens=added.special)
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        if getattr(folder_tok, name, None) is not None:
            setattr(tok, name, getattr(folder_tok, name))
    tok.add_bos_token, tok.add_eos_token = adds_special_tokens(folder_tok)
    tok.chat_template = getattr(folder_tok, "chat_template", None)
    tok.model_max_length = folder_tok.model_max_length
    tok.padding_side, tok.truncation_side = folder_tok.padding_side, folder_tok.truncation_side
    if vocabulary_fingerprint(tok) != vocabulary_fingerprint(folder_tok):
        log.warning("%s: rebuilding on tokenizer.model changed token ids: using tokenizer.json as it is", sp_file)
        folder_tok.sentencepiece_model_file = str(sp_file)
        return folder_tok
    return tok


def special_tokens(markers: Sequence[str] = MEDITRON_SPECIAL_TOKENS) -> tuple[str, ...]:
    """The special tokens MEDITRON adds: the structure markers (``corpus.markup``'s spelling) then ChatML."""
    return tuple(markers) + CHATML_TOKENS


def missing_special_tokens(tok: PreTrainedTokenizerBase,
                           markers: Sequence[str] = MEDITRON_SPECIAL_TOKENS) -> list[str]:
    """MEDITRON's special tokens that ``tok`` does not have yet, in the order :func:`add_special_tokens` adds them."""
    existing = set(tok.get_vocab())
    return [t for t in special_tokens(markers) if t not in existing]


def add_special_tokens(tok: PreTrainedTokenizerBase, markers: Sequence[str] = MEDITRON_SPECIAL_TOKENS) -> int:
    """Add MEDITRON's structure markers and ChatML as special tokens (each one id, never split). Returns how many new.

    ``markers``: the spelling the corpus wrote (``RunConfig.corpus.markup.special_tokens``; default lower case), so
    the shards, pretraining and finetuning add the same tokens. Idempotent: a tokenizer saved by the corpus stage
    already has them and gains nothing. The new tokens take the ids after the base vocabulary in the order of
    :func:`special_tokens`, so one base tokenizer always gives the same ids.
    """
    missing = missing_special_tokens(tok, markers)
    from tokenizers import AddedToken

    tokens = [AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False) for t in special_tokens(markers)]
    tok.add_special_tokens({"additional_special_tokens": tokens}, replace_extra_special_tokens=False)
    return len(missing)


def save_tokenizer(tok: PreTrainedTokenizerBase, out_dir: str | Path) -> Path:
    """Save in HF layout (``tokenizer.json`` + config); returns the ``tokenizer.json`` path datatrove needs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out))
    spm_file = getattr(tok, "sentencepiece_model_file", None)
    if spm_file and Path(spm_file).is_file() and not (out / "tokenizer.model").exists():
        shutil.copyfile(spm_file, out / "tokenizer.model")
    return out / "tokenizer.json"


@dataclass(frozen=True)
class TokenizerIdentity:
    """What makes two tokenizers interchangeable for training data: the same vocabulary (token → id), the same BOS
    and EOS ids, and the same habit of adding them when encoding."""

    vocab_size: int
    fingerprint: str
    bos_id: int | None
    eos_id: int | None
    adds_bos: bool
    adds_eos: bool

    def to_dict(self) -> dict[str, int | str | bool | None]:
        return asdict(self)

    def short(self) -> str:
        """One-line summary for error messages: ``vocab 524, fingerprint 1a2b3c4d5e6f, BOS 1 (added), EOS 2``."""
        bos = "none" if self.bos_id is None else f"{self.bos_id} ({'added' if self.adds_bos else 'not added'})"
        eos = "none" if self.eos_id is None else str(self.eos_id)
        return f"vocab {self.vocab_size}, fingerprint {self.fingerprint}, BOS {bos}, EOS {eos}"


def vocabulary_fingerprint(tok: PreTrainedTokenizerBase) -> str:
    """A short hash of the token → id map (added tokens included): equal exactly when every id means the same text."""
    items = sorted(tok.get_vocab().items(), key=lambda kv: (kv[1], kv[0]))
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def adds_special_tokens(tok: PreTrainedTokenizerBase) -> tuple[bool, bool]:
    """(adds BOS, adds EOS) when encoding with the defaults, found by encoding a probe text both ways.

    Read from behaviour, not from flags: a saved Llama tokenizer adds BOS through its ``tokenizer.json`` post-processor
    while reporting ``add_bos_token=False``.
    """
    probe = "a"
    plain = tok.encode(probe, add_special_tokens=False)
    full = tok.encode(probe)
    bos, eos = tok.bos_token_id, tok.eos_token_id
    adds_bos = bos is not None and full[:1] == [bos] and plain[:1] != [bos]
    adds_eos = eos is not None and full[-1:] == [eos] and plain[-1:] != [eos]
    return adds_bos, adds_eos


def one_bos(tok: PreTrainedTokenizerBase, ids: list[int], adds_bos: bool | None = None) -> list[int]:
    """``ids`` starting with exactly one BOS when ``tok`` adds BOS to plain text, unchanged otherwise.

    Why: a chat prompt is rendered by a template and tokenized without special tokens; a template that writes no BOS
    (one saved before meditron's BOS-first ChatML) would leave a Llama model without the BOS it always saw, and a
    template that writes one, tokenized with special tokens, would give two. ``adds_bos``: the caller's cached
    :func:`adds_special_tokens` result.
    """
    bos = tok.bos_token_id
    if bos is None or not (adds_special_tokens(tok)[0] if adds_bos is None else adds_bos):
        return list(ids)
    start = 0
    while start < len(ids) and ids[start] == bos:
        start += 1
    return [bos, *ids[start:]]


def one_bos_text(tok: PreTrainedTokenizerBase, text: str) -> str:
    """``text`` starting with exactly one BOS token text when ``tok`` adds BOS, for prompts that backends tokenize
    without special tokens (lm-eval's generation, llama.cpp's chat completion); unchanged otherwise."""
    bos = tok.bos_token
    if not bos or not adds_special_tokens(tok)[0]:
        return text
    while text.startswith(bos):
        text = text[len(bos):]
    return bos + text


def describe_tokenizer(tok: PreTrainedTokenizerBase) -> TokenizerIdentity:
    adds_bos, adds_eos = adds_special_tokens(tok)
    return TokenizerIdentity(
        vocab_size=len(tok),
        fingerprint=vocabulary_fingerprint(tok),
        bos_id=tok.bos_token_id,
        eos_id=tok.eos_token_id,
        adds_bos=adds_bos,
        adds_eos=adds_eos,
    )
