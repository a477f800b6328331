"""The reliability suite reuses the serve tests' tiny real Llama (an HF directory built once per session)."""

from tests.serve.conftest import tiny_model  # noqa: F401 - a fixture, re-exported for this folder
