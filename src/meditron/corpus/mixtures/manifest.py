"""Mixture manifests: ``<shards>/mixtures/<name>.json``, one per ``corpus.mixtures`` entry, over the shared shards.

A mixture copies no token: its manifest says which sources of ``<shards>/manifest.json`` to train on and with which
blend weight, and the training loader (``meditron.data.blend``) opens only those. Building one reads only the shard
manifest (never a document), so mixtures are (re)built in a moment after the corpus ran, without re-running reading,
filtering, dedup or decontamination. Layout::

    {"format": "meditron-mixture", "name": "pmc_replay", "kind": "budgets",          # or "weights"
     "spec": {"papers": "1x", "replay": "2K"},                                        # as written in corpus.mixtures
     "shards_manifest_sha256": "…",                                                   # the shard set it was built for
     "sources": {"papers": {"weight": 72827.0, "share": 0.973, "available_tokens": 72827,
                            "budget_tokens": 72827, "epochs": 1.0, "validation_tokens": 1811}, …},
     "total_tokens": 74827,                                                           # Σ budgets; null for weights
     "validation_sources": ["papers"], "left_out": ["abstracts", "guidelines"]}

``weight`` is what the blender gets (the float for weights, the budget in tokens for budgets); ``share`` the
normalised weight; ``epochs`` = budget ÷ available training tokens (how many times the source repeats when the run
trains on ``total_tokens`` tokens). ``shards_manifest_sha256`` lets pretraining refuse a mixture built for other shards.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meditron.corpus.mixture_config import mixture_shares
from meditron.corpus.shard_format import MANIFEST
from meditron.errors import ConfigError, InputError
from meditron.json_io import write_json_atomic
from meditron.run import sha256_file

if TYPE_CHECKING:
    from meditron.config import RunConfig
    from meditron.run import RunDir

log = logging.getLogger(__name__)

FORMAT = "meditron-mixture"
#: the folder of mixture manifests, beside the shard manifest
MIXTURES_DIR = "mixtures"
#: what to run after editing corpus.mixtures (or when a manifest is missing or stale)
REBUILD = "run `meditron corpus mixtures --config CONFIG` (it reads only the shard manifest)"


def mixture_path(shards_root: str | Path, name: str) -> Path:
    return Path(shards_root) / MIXTURES_DIR / f"{name}.json"


def _tokens(manifest: dict[str, Any], source: str, split: str) -> int:
    return int(manifest["sources"].get(source, {}).get(split, {}).get("num_tokens", 0))


def _normalised(spec: dict[str, Any]) -> dict[str, list]:
    """A spec as comparable data: ``{source: [kind, amount]}`` of the sources it uses (1.0 == 1.00, '1K' == 1000)."""
    return {s: [v.kind, v.amount] for s, v in sorted(mixture_shares(spec).items()) if v.amount > 0}


def resolve_mixture(name: str, spec: dict[str, Any], manifest: dict[str, Any], where: str) -> dict[str, Any]:
    """The manifest document of mixture ``name`` over the shard ``manifest`` (read from ``where``, for messages)."""
    shares = {s: v for s, v in mixture_shares(spec).items() if v.amount > 0}
    with_tokens = sorted(s for s in manifest["sources"] if _tokens(manifest, s, "train"))
    missing = [s for s in shares if s not in with_tokens]
    if missing:
        raise ConfigError(
            f"corpus.mixtures.{name}: source {', '.join(repr(s) for s in missing)} has no training tokens in {where} "
            f"(sources with training tokens: {', '.join(with_tokens) or 'none'}); fix the mixture or the corpus"
        )
    budgets = any(v.is_budget for v in shares.values())
    sources: dict[str, dict[str, Any]] = {}
    for source, share in shares.items():
        available = _tokens(manifest, source, "train")
        budget = share.budget_tokens(available) if budgets else None
        sources[source] = {
            "weight": float(budget if budgets else share.amount),
            "available_tokens": available,
            "budget_tokens": budget,
            "epochs": budget / available if budgets else None,
            "validation_tokens": _tokens(manifest, source, "validation"),
        }
    total = sum(e["weight"] for e in sources.values())
    for entry in sources.values():
        entry["share"] = entry["weight"] / total
    return {
        "format": FORMAT,
        "name": name,
        "kind": "budgets" if budgets else "weights",
        "spec": dict(spec),
        "sources": dict(sorted(sources.items())),
        "total_tokens": int(total) if budgets else None,
        "validation_sources": sorted(s for s, e in sources.items() if e["validation_tokens"]),
        "left_out": sorted(set(manifest["sources"]) - set(sources)),
    }


def write_mixtures(shards_root: str | Path, mixtures: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """Write every mixture's manifest (atomically) and remove those of mixtures no longer configured."""
    root = Path(shards_root)
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise InputError("no shard manifest to build mixtures over: run `meditron corpus run` first",
                         path=str(manifest_path))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    digest = sha256_file(manifest_path)
    docs = {name: resolve_mixture(name, spec, manifest, str(manifest_path)) for name, spec in mixtures.items()}
    written = {}
    for name, doc in docs.items():  # all resolved before any is written: one bad mixture leaves the folder as it was
        written[name] = write_json_atomic(mixture_path(root, name), {**doc, "shards_manifest_sha256": digest})
        shares = ", ".join(f"{s} {e['share']:.3f}" for s, e in doc["sources"].items())
        log.info("mixture %s (%s): %s → %s", name, doc["kind"], shares, written[name])
    folder = root / MIXTURES_DIR
    for stale in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if stale.stem not in mixtures:
            stale.unlink()
            log.info("mixture %s is no longer in corpus.mixtures: removed %s", stale.stem, stale)
    return written


def rebuild_mixtures(cfg: RunConfig, run: RunDir) -> dict[str, Path]:
    """``meditron corpus mixtures``: the config's mixtures over the shards its corpus run wrote."""
    shards = Path(cfg.corpus.shards_dir) if cfg.corpus.shards_dir else run.shards
    return write_mixtures(shards, cfg.corpus.mixtures)


@dataclass(frozen=True)
class Mixture:
    """A built mixture, as pretraining reads it: the blend weights of its sources and its validation sources."""

    name: str
    path: Path
    document: dict[str, Any]

    @property
    def weights(self) -> dict[str, float]:
        return {s: float(e["weight"]) for s, e in self.document["sources"].items()}

    @property
    def validation_sources(self) -> list[str]:
        return list(self.document["validation_sources"])

    @property
    def total_tokens(self) -> int | None:
        return self.document.get("total_tokens")


def _available(shards_root: Path) -> str:
    folder = shards_root / MIXTURES_DIR
    names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    return ", ".join(names) or "none"


def read_mixture(shards_root: str | Path, name: str, configured: dict[str, Any] | None = None) -> Mixture:
    """Mixture ``name`` of these shards, checked to be built for them (and, given ``configured``, from that spec)."""
    root = Path(shards_root)
    path = mixture_path(root, name)
    if not path.exists():
        raise ConfigError(
            f"train.mixture {name!r}: no mixture manifest {path} (built mixtures: {_available(root)}); add it to "
            f"corpus.mixtures and {REBUILD}"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"not a readable mixture manifest ({e}); {REBUILD}", path=str(path)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("sources"), dict):
        raise InputError(f"not a mixture manifest (format is not {FORMAT!r}); {REBUILD}", path=str(path))
    manifest = root / MANIFEST
    if not manifest.exists() or doc.get("shards_manifest_sha256") != sha256_file(manifest):
        raise InputError(f"built for another shard set than {manifest} (the corpus ran again since); {REBUILD}",
                         path=str(path))
    if configured is not None and _normalised(configured) != _normalised(doc["spec"]):
        raise ConfigError(
            f"corpus.mixtures.{name} is {dict(configured)} in the config but {doc['spec']} in {path}: the config was "
            f"edited since the mixture was built; {REBUILD}"
        )
    return Mixture(name=name, path=path, document=doc)
