"""The embedded sample: original text written for this project, in the real formats of each source and benchmark.

Config paths that start with ``sample:`` resolve inside this folder (``meditron._base.ConfigPath``), so the quickstart
config works from any directory.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).parent
SAMPLE_PREFIX = "sample:"
