"""Exceptions users see. Each names where the problem is (file, record, config key), never a library's internals."""

from __future__ import annotations


class MeditronError(Exception):
    """Base class: the CLI prints these as a one-line error instead of a traceback."""


class ConfigError(MeditronError):
    """A config file, key or value is wrong. The message names the key and the bad value."""


class InputError(MeditronError):
    """An input file or record cannot be used. The message names the file and the record position."""

    def __init__(self, message: str, *, path: str | None = None, record: str | int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if record is not None:
                where += f" (record {record})"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.record = record


class CheckpointError(MeditronError):
    """A checkpoint is missing, incomplete or does not match the model."""
