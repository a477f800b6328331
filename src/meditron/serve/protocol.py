"""OpenAI-compatible request bodies and error responses (the subset ``meditron serve`` implements).

Why our own models: requests are validated up front so a bad role, a wrong type or ``n > 1`` is a 400 with a message
that names the field, before any token is generated. Unknown extra fields are accepted (clients send many).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContentPart(_Lenient):
    type: Literal["text"]
    text: str


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class _Sampling(_Lenient):
    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request")
    seed: int | None = None

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop if s]


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)

    @field_validator("messages")
    @classmethod
    def _last_not_system(cls, v: list[ChatMessage]) -> list[ChatMessage]:
        if all(m.role in ("system", "developer") for m in v):
            raise ValueError("messages must contain at least one user or assistant message")
        return v

    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Sampling):
    """Legacy completions: one prompt, as text or token ids (lm-eval sends ``[[ids]]``); ``logprobs`` with ``echo``
    scores the prompt (the log-probability of every prompt token, and the top ``logprobs`` alternatives)."""

    prompt: str | list[str] | list[int] | list[list[int]]
    echo: bool = False
    max_tokens: int | None = Field(default=None, ge=0)
    logprobs: int | None = Field(default=None, ge=0, le=20)

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, v):
        if isinstance(v, list) and v and isinstance(v[0], (str, list)) and len(v) != 1:
            raise ValueError("exactly one prompt per request is supported")
        if isinstance(v, list) and not v:
            raise ValueError("the prompt is empty")
        return v

    def token_ids(self) -> list[int] | None:
        """The prompt's token ids when it was sent as ids, else None."""
        p = self.prompt
        if isinstance(p, list) and isinstance(p[0], int):
            return list(p)
        if isinstance(p, list) and isinstance(p[0], list):
            return list(p[0])
        return None

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def limit(self) -> int | None:
        return self.max_tokens


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape, which its clients turn into typed exceptions carrying this message."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """A failure the client should see as ``status`` with OpenAI's error JSON (raised anywhere in a handler)."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.body = status, error_body(message, type_, code, param)


def sse(obj: dict[str, Any]) -> str:
    """One server-sent event carrying ``obj`` as JSON (OpenAI's stream framing)."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
