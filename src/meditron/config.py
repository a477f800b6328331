"""The run config: one pydantic tree with a section per stage, loaded from YAML and ``--set key=value`` overrides.

Only this module and ``cli.py`` read YAML or argv; stages receive their typed section.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from meditron._base import StrictModel
from meditron.corpus.config import CorpusConfig
from meditron.errors import ConfigError
from meditron.eval.config import EvalConfig
from meditron.serve.config import ExportConfig, ServeConfig
from meditron.train.config import FinetuneConfig, ModelConfig, TrainConfig

CONFIGS_DIR = Path(__file__).parent / "configs"


class RunConfig(StrictModel):
    """A whole MEDITRON run: corpus → train → finetune → eval → export/serve, in ``<out_dir>/<name>/``."""

    name: str = "run"
    out_dir: Path = Field(default=Path("runs"), description="Parent folder of run directories")
    seed: int = Field(
        default=1234,
        description="The run's one seed: model init, pretraining data order and blend, SFT order, the trainer's RNG",
    )
    model: ModelConfig = ModelConfig()
    corpus: CorpusConfig = CorpusConfig()
    train: TrainConfig = TrainConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    eval: EvalConfig = EvalConfig()
    export: ExportConfig = ExportConfig()
    serve: ServeConfig = ServeConfig()

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key.sub=value (e.g. train.lr=1e-4)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} has an empty key part")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict; values are parsed as YAML scalars/lists (``1e-4``, ``true``, ``[a, b]``)."""
    for item in overrides:
        parts, value = _parse_override(item)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return data


#: Keys that moved: a config still setting one gets a one-line error saying where the setting lives now.
MOVED_KEYS = {
    "train.seed": "seed",
    "finetune.seed": "seed",
}


def _known_keys(model: type[StrictModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        full = f"{prefix}{name}"
        keys.append(full)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, StrictModel):
            keys.extend(_known_keys(ann, full + "."))
    return keys


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem, naming the dotted key and the bad value, with a suggestion for misspelt keys."""
    known = _known_keys(RunConfig)
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden" and key in MOVED_KEYS:
            lines.append(
                f"  key '{key}' moved to the top-level '{MOVED_KEYS[key]}' (one seed for the whole run): "
                f"write '{MOVED_KEYS[key]}: ...' at the top of the config or --set {MOVED_KEYS[key]}=..."
            )
        elif e["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            lines.append(f"  unknown key '{key}'{suggestion}")
        else:
            value = e.get("input")
            shown = repr(value) if not isinstance(value, dict) else "{...}"
            lines.append(f"  key '{key}': {e['msg']} (got {shown})")
    return "\n".join(lines)


def resolve_preset(path: str | Path) -> Path:
    """A config path, or the name of a shipped preset (``quickstart-cpu``, ``meditron-7b``...)."""
    p = Path(path)
    if p.exists():
        return p
    for candidate in (CONFIGS_DIR / p.name, CONFIGS_DIR / f"{p.name}.yaml"):
        if candidate.exists():
            return candidate
    presets = sorted(x.stem for x in CONFIGS_DIR.glob("*.yaml"))
    raise ConfigError(f"config file {str(path)!r} not found (shipped presets: {', '.join(presets)})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load YAML (or defaults when ``path`` is None), apply overrides, validate. Raises ConfigError with clear text."""
    data: dict[str, Any] = {}
    source = "(defaults)"
    if path is not None:
        p = resolve_preset(path)
        source = str(p)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    data = apply_overrides(data, overrides or [])
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from None


def dump_config(cfg: RunConfig) -> dict[str, Any]:
    """JSON-safe dict of the resolved config, saved in run.json and checkpoints."""
    return cfg.model_dump(mode="json")
