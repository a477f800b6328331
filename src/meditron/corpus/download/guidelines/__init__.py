"""``meditron corpus download guidelines``: a polite crawler driven by per-source YAML definitions (``sources/``)."""

from meditron.corpus.download.guidelines.run import cli_download

__all__ = ["cli_download"]
