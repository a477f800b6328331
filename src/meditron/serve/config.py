"""Typed configs of the ``export`` and ``serve`` stages."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from meditron._base import ConfigPath, ConfigPathText, StrictModel

DEFAULT_SYSTEM_PROMPT = (
    "You are a medical AI assistant for healthcare professionals. Answer accurately and concisely, say when you are "
    "unsure, and remind users that your answers are not a substitute for professional clinical judgement."
)


class ExportConfig(StrictModel):
    format: Literal["hf", "gguf"] = "hf"
    gguf_types: list[Literal["f16", "q8_0", "f32"]] = ["f16", "q8_0"]
    out: ConfigPath | None = Field(default=None, description="Default: <run>/hf (format hf) or <run>/gguf (format gguf)")


class ServeConfig(StrictModel):
    model: ConfigPathText | None = Field(default=None, description="Exported HF directory, or a hub id when online")
    model_name: str | None = Field(default=None, description="Name clients pass as `model`; default: the dir's name")
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = Field(default=None, description="Required when host is not loopback")
    max_concurrency: int = Field(default=4, ge=1)
    max_queue: int = Field(default=16, ge=0)
    max_new_tokens: int = 512
    max_context: int | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    log_prompts: bool = False
    backend: Literal["auto", "transformers", "vllm"] = "auto"
    batching: bool = Field(default=False, description="transformers engine: run the waiting requests as one batch "
                           "(fastest with num_threads=1 on a busy CPU; see docs/PERFORMANCE.md)")
    num_threads: int | None = Field(default=None, ge=1, description="torch intra-op threads (1 helps on a busy CPU)")
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="Largest request body; a larger "
                                   "one gets 413 before it is read (a context's worth of text is far smaller)")
    allowed_hosts: list[str] = Field(default_factory=list, description="Extra Host/Origin names accepted on a loopback "
                                     "bind besides localhost, 127.0.0.1 and [::1] (the DNS-rebinding defence)")
    trust_unverified: bool = Field(default=False, description="Skip checking the export's files against its "
                                   "lineage.json sha256 at start-up (off: a damaged or modified export is refused)")
