"""Name → implementation, resolved lazily (lm-evaluation-harness style).

A registry is a plain ``dict[str, str]`` from a user-facing name (a config value such as ``backend: vllm``) to
``"module.path:Attribute"``. Nothing is imported until a name is resolved, so heavy optional dependencies (vLLM,
Ray) stay out of CPU runs, and an unknown name fails with the valid ones listed instead of falling through an if/elif.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from meditron.errors import ConfigError


def resolve(registry: Mapping[str, str], name: str, what: str) -> Any:
    """The attribute registered under ``name``; ``what`` names the setting in the error (e.g. ``"eval.backend"``)."""
    target = registry.get(name)
    if target is None:
        raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(sorted(registry))}")
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
