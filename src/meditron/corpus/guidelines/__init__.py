"""Registry of per-site guideline rules: site name → ``"module:RULES"``, imported on first use.

To add a site: write ``guidelines/<site>.py`` defining ``RULES = SiteRules(name="<site>", ...)``, add it to
``SITES`` below, and add a test with one real page of the site (see ``docs/CORPUS_SOURCES.md``).
"""

from __future__ import annotations

import importlib

from meditron.corpus.guidelines.rules import SiteRules
from meditron.errors import ConfigError

SITES: dict[str, str] = {
    "generic": "meditron.corpus.guidelines.generic:RULES",
    "cdc": "meditron.corpus.guidelines.cdc:RULES",
}


def get_site_rules(name: str | None) -> SiteRules:
    """The rules of ``name`` (``None`` → ``generic``); an unknown name lists the valid ones."""
    key = (name or "generic").lower()
    if key not in SITES:
        raise ConfigError(f"unknown guideline site {name!r}; valid sites: {', '.join(sorted(SITES))}")
    module, attr = SITES[key].split(":")
    return getattr(importlib.import_module(module), attr)


__all__ = ["SITES", "SiteRules", "get_site_rules"]
