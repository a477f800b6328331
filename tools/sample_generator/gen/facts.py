"""The sample's facts: the YAML files in ``tools/sample_generator/facts/``, each read once per run.

The facts (conditions, studies, exam questions, general texts, names) are what a contributor extends, so they live as
data; the modules beside this one only render them into the official file layouts.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

FACTS_DIR = Path(__file__).resolve().parents[1] / "facts"


@functools.cache
def load(name: str) -> dict[str, Any]:
    """``facts/<name>.yaml`` as a mapping (shared between callers: do not mutate it)."""
    path = FACTS_DIR / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data
