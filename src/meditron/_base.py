"""The base of every typed config section: unknown keys are errors, assignments are validated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A config section. ``extra="forbid"`` turns a misspelt key into an error that names it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())
