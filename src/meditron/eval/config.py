"""Typed config of the ``eval`` stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from meditron._base import ConfigPath, ConfigPathText, StrictModel

Benchmark = Literal["medqa4", "medqa5", "medmcqa", "pubmedqa", "mmlu_medical", "truthfulqa_med", "truthfulqa"]
Mode = Literal["top_token", "top_token_options", "cot", "sc_cot", "chat"]


class EvalConfig(StrictModel):
    """What ``meditron eval`` scores, how, and where it writes (docs/EVALUATION.md)."""

    model: ConfigPathText | None = Field(default=None, description="HF directory, or model name for an HTTP backend")
    backend: Literal["meditron", "hf", "vllm", "openai"] = Field(
        default="meditron", description="meditron (prefix-sharing HF), hf (lm-eval stock), vllm (GPU), openai (HTTP)"
    )
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for backend=openai (…/v1)")
    tokenizer: ConfigPathText | None = Field(
        default=None, description="Local tokenizer dir for top_token over HTTP (default: model, when it is a dir)"
    )
    data_dir: ConfigPath | None = Field(default=None, description="Folder with the official benchmark files (recursive)")
    benchmarks: list[Benchmark] = Field(default=["medqa4", "medmcqa", "pubmedqa", "mmlu_medical"], min_length=1)
    modes: list[Mode] = Field(default=["top_token"], min_length=1)
    num_fewshot: int = Field(default=3, ge=0, description="Shots for top_token (MEDITRON: 3 for 7B, 5 for 70B)")
    fewshot_file_dir: ConfigPath | None = Field(
        default=None, description="Folder with the official train/dev files for demonstrations (default: data_dir)"
    )
    seeds: list[int] = Field(
        default=[1234, 432, 32], min_length=1, description="Few-shot draws; seeds[0] seeds sc_cot"
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description="A seeded random sample of N items per benchmark, stratified by label/subject (quick runs)",
    )
    sample_seed: int = Field(default=1234, description="Seed of the --limit sample (recorded in results.json)")
    max_context: int | None = Field(
        default=None,
        ge=16,
        description="Prompt budget in tokens (default: the model's max_position_embeddings); longer prompts lose "
        "demonstrations first, then context from the left (docs/EVALUATION.md)",
    )
    sc_samples: int = Field(default=5, ge=1, description="Samples per question in sc_cot")
    sc_temperature: float = Field(default=0.8, gt=0, description="Sampling temperature in sc_cot")
    max_new_tokens: int = Field(default=256, ge=1, description="Generation budget in cot, sc_cot and chat")
    batch_size: int = Field(default=8, ge=1)
    bootstrap_samples: int = Field(default=1000, ge=10, description="Resamples for the 95% confidence intervals")
    contamination_index: ConfigPath | None = Field(
        default=None,
        description="The corpus stage's contamination_index.json: accuracy on clean vs contaminated items",
    )
    out: ConfigPath | None = Field(default=None, description="Default: <run>/eval")
    finetuned: bool | None = Field(
        default=None,
        description="Was the model finetuned on the benchmarks' training sets? Decides which paper rows (Table 4 "
        "pretrained, Table 5 finetuned) the report compares with; unset: inferred from the run's finetune stage, "
        "else unknown",
    )
