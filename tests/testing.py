"""Skip helpers shared by the tests: real third-party data lives beside the project in ../shared/data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (real third-party files used by this test)"
)


def requires_module(name: str, hint: str = ""):
    """Skip when an optional dependency is not installed (e.g. ray, llama_cpp)."""
    return pytest.mark.skipif(
        importlib.util.find_spec(name) is None, reason=f"optional dependency {name!r} is not installed {hint}".strip()
    )
