"""Tokenizer preparation, the corpus stage's first step, and the one typed record of its decisions.

``prepare_tokenizer`` loads ``corpus.tokenizer``, adds MEDITRON's special tokens, saves it beside the shards and
decides the document boundaries (``corpus.tokenization``). The result, a frozen ``ShardTokenization``, is saved in the
work folder by ``TokenizerPreparer`` and read back by keyword by the shard writer (which tokenizer, which tokens
frame a document), the replay selector (token width) and the report (the manifest's tokenizer entries).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from meditron.corpus.shard_format import TOKENIZER_DIR
from meditron.errors import ConfigError
from meditron.json_io import write_json_atomic

if TYPE_CHECKING:
    from meditron.corpus.config import TokenizationConfig
    from meditron.tokenizer import TokenizerIdentity

Setting = Literal["auto"] | bool


@dataclass(frozen=True)
class ShardTokenization:
    """The tokenizer saved with the shards and how each document is framed (``[BOS] text [EOS]``)."""

    tokenizer_json: Path
    source: str  # corpus.tokenizer as configured
    identity: TokenizerIdentity
    bos: bool  # each document starts with BOS
    eos: bool  # each document ends with EOS
    bos_setting: Setting
    eos_setting: Setting
    bos_token: str | None  # the BOS token text when ``bos``, else None
    eos_token: str | None  # the EOS token text when ``eos``, else None

    @property
    def vocab_size(self) -> int:
        return self.identity.vocab_size

    @property
    def token_size(self) -> int:
        """Bytes per token in the ``.ds`` files: uint16 while the vocabulary fits, else uint32."""
        return 2 if self.vocab_size <= 65536 else 4

    @property
    def record(self) -> dict[str, Any]:
        """The manifest's ``tokenization`` entry (what the pretraining stage checks the model's tokenizer against)."""
        return {"source": self.source, **self.identity.to_dict(), "bos": self.bos, "eos": self.eos,
                "bos_setting": self.bos_setting, "eos_setting": self.eos_setting}

    def manifest_fields(self) -> dict[str, Any]:
        """The tokenizer entries of ``manifest.json`` (keys the data stage's ``TokenShards`` reads)."""
        return {"token_size": self.token_size, "tokenizer": TOKENIZER_DIR, "eos_id": self.identity.eos_id,
                "tokenization": self.record, "vocab_size": self.vocab_size}

    def save(self, path: Path) -> Path:
        return write_json_atomic(path, {**asdict(self), "tokenizer_json": str(self.tokenizer_json)})

    @classmethod
    def load(cls, path: Path) -> ShardTokenization:
        from meditron.tokenizer import TokenizerIdentity

        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(**{**data, "tokenizer_json": Path(data["tokenizer_json"]),
                      "identity": TokenizerIdentity(**data["identity"])})


def _document_boundaries(source: str, settings: TokenizationConfig, tok) -> tuple[bool, bool]:
    """(BOS first, EOS last) for each document from ``corpus.tokenization``; ``auto`` follows the tokenizer."""
    from meditron.tokenizer import adds_special_tokens

    adds_bos, _ = adds_special_tokens(tok)
    bos = adds_bos if settings.bos == "auto" else settings.bos
    eos = tok.eos_token_id is not None if settings.eos == "auto" else settings.eos
    for key, wanted, token in (("bos", bos, tok.bos_token), ("eos", eos, tok.eos_token)):
        if wanted and token is None:
            raise ConfigError(
                f"corpus.tokenization.{key} is true but corpus.tokenizer {source!r} has no {key.upper()} token; "
                f"set corpus.tokenization.{key}=auto or false"
            )
    if not bos and not eos:
        raise ConfigError(
            f"corpus.tokenizer {source!r} with corpus.tokenization bos={settings.bos}, eos={settings.eos} puts no "
            "token between documents, so they would run into each other: use a tokenizer with an EOS token or set "
            "corpus.tokenization.eos=true"
        )
    return bos, eos


def check_tokenization(source: str, settings: TokenizationConfig, markers: tuple[str, ...] | None = None) -> None:
    """Load the tokenizer once before any stage runs, so a bad tokenizer path or BOS/EOS setting fails at once with
    its ConfigError (on a cluster: at submission), not inside the first job."""
    from meditron.tokenizer import MEDITRON_SPECIAL_TOKENS, add_special_tokens, load_tokenizer

    tok = load_tokenizer(Path(source))
    add_special_tokens(tok, markers or MEDITRON_SPECIAL_TOKENS)
    _document_boundaries(source, settings, tok)


def prepare_tokenizer(*, source: str | None, settings: TokenizationConfig, shards_dir: Path,
                      markers: tuple[str, ...] | None = None) -> ShardTokenization:
    """Load the configured tokenizer, add MEDITRON's special tokens (``markers``: the structure markers as
    ``corpus.markup`` spells them; default lower case), save it with the shards, and decide the document boundaries
    recorded in the manifest for the pretraining stage's check."""
    from meditron.tokenizer import (
        MEDITRON_SPECIAL_TOKENS,
        add_special_tokens,
        describe_tokenizer,
        load_tokenizer,
        save_tokenizer,
    )

    if not source:
        raise ConfigError("corpus.tokenizer is not set: give a local tokenizer dir, tokenizer.json or .model file")
    tok = load_tokenizer(Path(source))
    add_special_tokens(tok, markers or MEDITRON_SPECIAL_TOKENS)
    bos, eos = _document_boundaries(source, settings, tok)
    return ShardTokenization(
        tokenizer_json=save_tokenizer(tok, Path(shards_dir) / TOKENIZER_DIR),
        source=source,
        identity=describe_tokenizer(tok),
        bos=bos,
        eos=eos,
        bos_setting=settings.bos,
        eos_setting=settings.eos,
        bos_token=tok.bos_token if bos else None,
        eos_token=tok.eos_token if eos else None,
    )


class TokenizerPreparer(PipelineStep):
    """One-task stage: ``prepare_tokenizer``, its decisions saved to ``output`` for the later stages."""

    name = "🔤 Tokenizer"
    type = "🔢 - TOKENIZER"

    def __init__(self, *, source: str | None, settings: TokenizationConfig, shards_dir: Path, output: Path,
                 markers: tuple[str, ...] | None = None):
        super().__init__()
        self.source, self.settings, self.shards_dir, self.output = source, settings, Path(shards_dir), Path(output)
        self.markers = markers

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        prepare_tokenizer(source=self.source, settings=self.settings, shards_dir=self.shards_dir,
                          markers=self.markers).save(self.output)
        if data:  # another preparation step before this one (a stage's steps are chained generators)
            yield from data
