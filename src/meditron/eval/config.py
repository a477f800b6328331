"""Typed config of the ``eval`` stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from meditron._base import StrictModel

Benchmark = Literal["medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical"]
Mode = Literal["top_token", "cot", "sc_cot", "chat"]


class EvalConfig(StrictModel):
    model: str | None = Field(default=None, description="HF directory, or model name for an HTTP backend")
    backend: Literal["meditron", "hf", "vllm", "openai"] = "meditron"
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for backend=openai")
    data_dir: str | None = Field(default=None, description="Folder with the official benchmark files (recursive)")
    benchmarks: list[Benchmark] = ["medqa4", "medmcqa", "pubmedqa", "mmlu_medical"]
    modes: list[Mode] = ["top_token"]
    num_fewshot: int = Field(default=3, ge=0)
    fewshot_file_dir: str | None = Field(default=None, description="Training/dev files to draw few-shot examples from")
    seeds: list[int] = [1234, 432, 32]
    limit: int | None = Field(default=None, ge=1)
    sc_samples: int = 5
    sc_temperature: float = 0.8
    max_new_tokens: int = 256
    batch_size: int = 8
    bootstrap_samples: int = 1000
    contamination_index: str | None = None
    out: Path | None = Field(default=None, description="Default: <run>/eval")
