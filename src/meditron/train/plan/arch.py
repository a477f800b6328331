"""The architecture a plan is made for: the HF config the trainer would build, without weights and without the hub.

Resolution follows :func:`meditron.train.model.build_config` (presets, a local ``config.json``, ``model.overrides``);
a hub id is read from the local Hugging Face cache only. When it is not cached, a few well-known architectures ship
with the package (``hub_configs/<org>--<name>.json``, copies of the public ``config.json`` files: Llama-2-7B/70B,
Mistral-7B) and are used for exactly those ids, with a note in the plan saying so. The plan never goes online.

The vocabulary is the trainer's: ``max(config.vocab_size, len(tokenizer))`` with MEDITRON's special tokens added.
When no tokenizer is available locally the special tokens are assumed new (``vocab + 12``), also said in a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from meditron.errors import ConfigError
from meditron.train.config import ModelConfig

#: The directory of the shipped architecture configs (file names: the hub id with ``/`` as ``--``).
HUB_CONFIGS = "hub_configs"


@dataclass
class Architecture:
    """An HF config ready for ``AutoModelForCausalLM.from_config`` and where its pieces came from."""

    config: Any
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def layers(self) -> int:
        return int(self.config.num_hidden_layers)

    @property
    def heads(self) -> int:
        return int(self.config.num_attention_heads)

    @property
    def kv_heads(self) -> int:
        return int(getattr(self.config, "num_key_value_heads", None) or self.heads)

    @property
    def hidden(self) -> int:
        return int(self.config.hidden_size)

    @property
    def ffn(self) -> int:
        return int(self.config.intermediate_size)

    @property
    def vocab(self) -> int:
        return int(self.config.vocab_size)

    @property
    def kv_hidden(self) -> int:
        """Width of the K (and V) projections: KV heads × head size (grouped-query attention)."""
        head_dim = getattr(self.config, "head_dim", None) or self.hidden // self.heads
        return self.kv_heads * int(head_dim)


def shipped_config(hub_id: str) -> dict[str, Any] | None:
    """The packaged ``config.json`` of ``hub_id`` (e.g. ``meta-llama/Llama-2-70b-hf``), or None."""
    name = hub_id.strip().replace("/", "--") + ".json"
    entry = resources.files("meditron.train.plan").joinpath(HUB_CONFIGS, name)
    if not entry.is_file():
        return None
    return json.loads(entry.read_text(encoding="utf-8"))


def shipped_ids() -> list[str]:
    folder = resources.files("meditron.train.plan").joinpath(HUB_CONFIGS)
    return sorted(p.name[: -len(".json")].replace("--", "/") for p in folder.iterdir() if p.name.endswith(".json"))


def _is_local(path: str) -> bool:
    return Path(path).exists() or path.startswith(("/", ".", "~"))


def _hf_config(model_type: str, fields: dict[str, Any]):
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **fields)


def _from_path(model_cfg: ModelConfig, notes: list[str]) -> tuple[Any, str]:
    from transformers import AutoConfig

    path = str(model_cfg.path)
    if _is_local(path):
        if not (Path(path) / "config.json").exists():
            raise ConfigError(f"model.path {path} is not an HF model directory (no config.json)")
        return AutoConfig.from_pretrained(path, local_files_only=True), f"{path}/config.json"
    try:  # the local HF cache only: the plan never downloads
        return AutoConfig.from_pretrained(path, local_files_only=True), f"{path} (local HF cache)"
    except (OSError, ValueError):
        shipped = shipped_config(path)
        if shipped is None:
            raise ConfigError(
                f"model.path {path} is a hub id that is not in the local HF cache and has no shipped architecture "
                f"(shipped: {', '.join(shipped_ids())}): point model.path at a local HF directory"
            ) from None
    notes.append(f"{path} is not available locally: using the architecture shipped with meditron "
                 f"(meditron/train/plan/{HUB_CONFIGS}/, a copy of its public config.json)")
    fields = dict(shipped)
    fields.pop("architectures", None)
    return _hf_config(fields.pop("model_type"), fields), f"{path} (shipped config)"


def resolve_architecture(model_cfg: ModelConfig, tokenizer_candidates: list[str | None]) -> Architecture:
    """The model's HF config with the trainer's vocabulary size. ``tokenizer_candidates``: paths tried in order."""
    from meditron.train.model import PRESETS

    notes: list[str] = []
    if model_cfg.preset:
        if model_cfg.preset not in PRESETS:
            raise ConfigError(f"model.preset {model_cfg.preset!r} is unknown (presets: {', '.join(sorted(PRESETS))})")
        fields = {**PRESETS[model_cfg.preset], **model_cfg.overrides}
        base_vocab = 0
        config = _hf_config(fields.pop("model_type"), {**fields, "vocab_size": 1})
        source = f"preset {model_cfg.preset}"
    elif model_cfg.path:
        config, source = _from_path(model_cfg, notes)
        for key, value in model_cfg.overrides.items():
            setattr(config, key, value)
        base_vocab = int(config.vocab_size)
    else:
        raise ConfigError("set model.path (an HF model directory) or model.preset (e.g. 'tiny-llama')")
    config.vocab_size = max(base_vocab, _tokenizer_size(tokenizer_candidates, base_vocab, notes))
    return Architecture(config=config, source=source, notes=notes)


def _tokenizer_size(candidates: list[str | None], base_vocab: int, notes: list[str]) -> int:
    """``len(tokenizer)`` with MEDITRON's special tokens, from the first local tokenizer; else an assumption."""
    from meditron.tokenizer import ALL_SPECIAL_TOKENS

    for candidate in candidates:
        if candidate and Path(candidate).exists():
            from meditron.tokenizer import add_special_tokens, load_tokenizer

            tok = load_tokenizer(candidate)
            add_special_tokens(tok)
            return len(tok)
    if base_vocab == 0:
        raise ConfigError("model.preset needs a local tokenizer for its vocabulary: set model.tokenizer")
    extra = len(ALL_SPECIAL_TOKENS)
    notes.append(f"no local tokenizer: vocabulary assumed {base_vocab} + MEDITRON's {extra} special tokens")
    return base_vocab + extra
