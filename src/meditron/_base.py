"""The base of every typed config section, and the path types that resolve ``sample:`` once, at config load.

``sample:pubmed/jats`` names a folder of the embedded sample inside the installed package, so the quickstart config
works from any directory. The prefix is expanded by the field types below when a config is validated; code past the
config never sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from meditron.sample import SAMPLE_DIR, SAMPLE_PREFIX


class StrictModel(BaseModel):
    """A config section. ``extra="forbid"`` turns a misspelt key into an error that names it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def _expand_sample(value: Any) -> Any:
    """``sample:x/y`` → the sample's ``x/y`` folder (a str stays a str); anything else passes through unchanged."""

    if isinstance(value, (str, Path)) and str(value).startswith(SAMPLE_PREFIX):
        resolved = SAMPLE_DIR / str(value)[len(SAMPLE_PREFIX) :].lstrip("/")
        return str(resolved) if isinstance(value, str) else resolved
    return value


#: A local file or folder; ``sample:…`` resolved.
ConfigPath = Annotated[Path, BeforeValidator(_expand_sample)]
#: A path kept as text because it may also be a glob pattern or a hub id (``meta-llama/Llama-2-7b-hf``); ``sample:…``
#: resolved.
ConfigPathText = Annotated[str, BeforeValidator(_expand_sample)]
