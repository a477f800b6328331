"""The HTTP endpoints of ``meditron serve``: one handler per route, one shared completion path.

Every handler validates before any token is generated and raises :class:`ApiError` for what the client must change.
Work that costs CPU — tokenizing, decoding, scoring, generating — runs in worker threads, never on the event loop, so
one large or slow request cannot stop ``/health`` or the other clients from being answered. A prompt that cannot
fit the context is refused from its length in characters before it is tokenized at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from meditron.serve.config import ServeConfig
from meditron.serve.engine import Delta, GenParams
from meditron.serve.protocol import ApiError, ChatCompletionRequest, CompletionRequest, error_body, sse

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
_STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Normalisation can shorten text (composed accents), so the character bound keeps a margin before it refuses.
CHARS_PER_TOKEN_MARGIN = 4
router = APIRouter()


class Ticket:
    """One admitted request's slot; released exactly once (by the generation, or after the response if it never ran)."""

    def __init__(self, admission: Admission):
        self.admission, self.released = admission, False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.admission.inflight -= 1
            self.admission.served += 1


class Admission:
    """Counts requests in flight; admits up to running + queue slots and runs at most ``max_concurrency`` at once."""

    def __init__(self, max_concurrency: int, max_queue: int):
        self.max_concurrency, self.max_queue = max_concurrency, max_queue
        self.inflight = 0
        self.running = 0
        self.sem = asyncio.Semaphore(max_concurrency)
        self.served = 0
        self.refused = 0

    def try_enter(self) -> Ticket | None:
        if self.inflight >= self.max_concurrency + self.max_queue:
            self.refused += 1
            return None
        self.inflight += 1
        return Ticket(self)

    @property
    def queued(self) -> int:
        return self.inflight - self.running


@dataclass
class Job:
    """A validated request, ready to generate: what the shared completion path needs."""

    kind: str  # "chat" | "completion"
    rid: str
    prompt_ids: list[int]
    params: GenParams
    stream: bool
    include_usage: bool = False
    prefix: str = ""  # echoed prompt (completions with echo)


class Service:
    """What the handlers share: the config, the engine, the served model's id and the admission counters."""

    def __init__(self, cfg: ServeConfig, engine: Any, model_id: str):
        self.cfg, self.engine, self.model_id = cfg, engine, model_id
        self.created = int(time.time())
        self._admission: Admission | None = None
        self._system_tokens: int | None = None

    @property
    def admission(self) -> Admission:  # created lazily inside the server's event loop
        if self._admission is None:
            self._admission = Admission(self.cfg.max_concurrency, self.cfg.max_queue)
        return self._admission

    def check_model(self, name: str) -> None:
        if name != self.model_id:
            raise ApiError(404, f"The model '{name}' does not exist; this server serves '{self.model_id}'.",
                           code="model_not_found", param="model")

    def model_entry(self) -> dict[str, Any]:
        return {"id": self.model_id, "object": "model", "created": self.created, "owned_by": "meditron"}

    def system_prompt_tokens(self) -> int:
        """Tokens of ``serve.system_prompt`` alone (counted once; named in the context error when it was added)."""
        if self._system_tokens is None:
            text = self.cfg.system_prompt
            self._system_tokens = len(self.engine.tokenizer(text, add_special_tokens=False).input_ids) if text else 0
        return self._system_tokens

    def precheck_length(self, num_chars: int, param: str) -> None:
        """Refuse a prompt that cannot fit from its length alone, before the tokenizer spends time on it."""
        ctx = self.engine.context_length
        bound = ctx * self.engine.max_token_chars * CHARS_PER_TOKEN_MARGIN
        if num_chars > bound:
            raise ApiError(400, f"This model's maximum context length is {ctx} tokens; {num_chars} characters of "
                           f"{param} are far more than {ctx} tokens can hold. Please reduce the length of the {param}.",
                           code="context_length_exceeded", param=param)

    def check_token_ids(self, ids: list[int]) -> None:
        if not ids:
            raise ApiError(400, "the prompt is empty", param="prompt")
        vocab = self.engine.vocab_size
        bad = [i for i in ids if not 0 <= i < vocab]
        if bad:
            more = f" ({len(bad)} ids are out of range)" if len(bad) > 1 else ""
            raise ApiError(400, f"prompt token id {bad[0]} is not in this model's vocabulary (ids 0..{vocab - 1}){more}",
                           code="invalid_token_id", param="prompt")

    def gen_params(self, req: ChatCompletionRequest | CompletionRequest, n_prompt: int, extra_stop: list[str],
                   system_tokens: int = 0) -> GenParams:
        """Sampling settings, after checking ``max_tokens`` and the context (naming the setting that helps)."""
        ctx, limit = self.engine.context_length, req.limit()
        if limit is not None and limit > self.cfg.max_new_tokens:
            raise ApiError(400, f"max_tokens={limit} is above this server's limit of {self.cfg.max_new_tokens} "
                           "(serve.max_new_tokens).", code="max_tokens_exceeded", param="max_tokens")
        if n_prompt == 0:
            raise ApiError(400, "the prompt is empty", param="prompt")
        if n_prompt >= ctx or (limit is not None and n_prompt + limit > ctx):
            raise ApiError(400, context_message(ctx, n_prompt, limit, system_tokens), code="context_length_exceeded",
                           param="messages" if isinstance(req, ChatCompletionRequest) else "prompt")
        wanted = limit if limit is not None else self.cfg.max_new_tokens
        return GenParams(max_tokens=min(wanted, ctx - n_prompt), temperature=req.temperature or 0.0,
                         top_p=1.0 if req.top_p is None else req.top_p, stop=req.stop_list() + extra_stop)

    def admit(self) -> Ticket:
        a = self.admission
        ticket = a.try_enter()
        if ticket is None:
            raise ApiError(429, f"Server at capacity ({a.running} running, {a.queued} queued); retry later.",
                           "rate_limit_error", "rate_limit_exceeded")
        return ticket

    async def run(self, job: Job, ticket: Ticket) -> AsyncIterator[Delta]:
        """The generation of ``job`` within the concurrency limit; logs ids, counts and time, never the prompt."""
        a = self.admission
        t0, n, status = time.perf_counter(), 0, "ok"
        try:
            async with a.sem:
                a.running += 1
                try:
                    async for d in self.engine.stream(job.prompt_ids, job.params):
                        n = d.completion_tokens
                        yield d
                finally:
                    a.running -= 1
        except BaseException:
            status = "aborted"
            raise
        finally:
            ticket.release()
            log.info("%s %s status=%s prompt_tokens=%d completion_tokens=%d seconds=%.3f", job.rid, job.kind, status,
                     len(job.prompt_ids), n, time.perf_counter() - t0)


def context_message(ctx: int, n_prompt: int, limit: int | None, system_tokens: int) -> str:
    """OpenAI's wording, plus which setting helps: shorter messages, a smaller ``max_tokens``, or the server's own
    system prompt (``serve.system_prompt``) when it was added and takes part of the context."""
    where = "messages" if system_tokens else "prompt"
    msg = (f"This model's maximum context length is {ctx} tokens. However, you requested {n_prompt + (limit or 0)} "
           f"tokens ({n_prompt} in the {where}, {limit or 0} in the completion). Please reduce the length of the "
           f"{where} or completion.")
    if system_tokens:
        msg += (f" {system_tokens} of the {n_prompt} are this server's default system prompt: send your own system "
                "message, or shorten serve.system_prompt (\"\" adds none).")
    if limit is not None and n_prompt < ctx:
        msg += f" With this prompt, max_tokens can be at most {ctx - n_prompt}."
    return msg


def service(request: Request) -> Service:
    return request.app.state.service


def _usage(n_prompt: int, n_out: int) -> dict[str, int]:
    return {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}


def _choice(job: Job, text: str, finish: str | None, *, chunk: bool, first: bool = False) -> dict[str, Any]:
    if job.kind == "completion":
        return {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
    if chunk:
        delta = {"role": "assistant", "content": ""} if first else ({"content": text} if text else {})
        return {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    return {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}


async def complete(svc: Service, job: Job) -> Any:
    """The shared completion path of chat and text completions: admit, generate, answer as JSON or as SSE."""
    ticket = svc.admit()
    now = int(time.time())
    obj = "chat.completion" if job.kind == "chat" else "text_completion"
    if not job.stream:
        parts, finish, n = [job.prefix], "stop", 0
        try:
            async for d in svc.run(job, ticket):
                parts.append(d.text)
                n, finish = d.completion_tokens, d.finish_reason or finish
        except Exception as e:
            log.exception("%s failed", job.rid)
            raise ApiError(500, f"generation failed: {type(e).__name__}: {e}", "server_error") from None
        return {"id": job.rid, "object": obj, "created": now, "model": svc.model_id,
                "choices": [_choice(job, "".join(parts), finish, chunk=False)], "usage": _usage(len(job.prompt_ids), n)}

    base = {"id": job.rid, "object": obj + (".chunk" if job.kind == "chat" else ""), "created": now,
            "model": svc.model_id}

    async def events() -> AsyncIterator[str]:
        if job.kind == "chat":
            yield sse({**base, "choices": [_choice(job, "", None, chunk=True, first=True)]})
        elif job.prefix:
            yield sse({**base, "choices": [_choice(job, job.prefix, None, chunk=True)]})
        n = 0
        try:
            async for d in svc.run(job, ticket):
                n = d.completion_tokens
                yield sse({**base, "choices": [_choice(job, d.text, d.finish_reason, chunk=True)]})
        except Exception as e:  # the status line is gone: report in-band, as OpenAI does
            log.exception("%s failed", job.rid)
            yield sse(error_body(f"generation failed: {type(e).__name__}: {e}", "server_error"))
        if job.include_usage:
            yield sse({**base, "choices": [], "usage": _usage(len(job.prompt_ids), n)})
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(ticket.release),
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/")
async def index():
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/{name}")
async def static(name: str):
    path = STATIC / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise ApiError(404, f"no static file {name!r}", code="not_found")
    return FileResponse(path)


@router.get("/health")
async def health(request: Request):
    svc = service(request)
    a, engine = svc.admission, svc.engine
    stats = {k: getattr(engine, k) for k in ("num_batches", "largest_batch") if hasattr(engine, k)}
    return {"status": "ok", "model": svc.model_id, "engine": engine.name, "running": a.running, "queued": a.queued,
            "served": a.served, "refused": a.refused, **stats}


@router.get("/config")
async def page_config(request: Request):
    """What the chat page needs: model id, whether a key is required, the safety notice."""
    svc = service(request)
    return {"model": svc.model_id, "requires_key": bool(svc.cfg.api_key), "system_prompt": svc.cfg.system_prompt,
            "context_length": svc.engine.context_length}


@router.get("/v1/models")
async def models(request: Request):
    return {"object": "list", "data": [service(request).model_entry()]}


@router.get("/v1/models/{name:path}")
async def model(name: str, request: Request):
    svc = service(request)
    svc.check_model(name)
    return svc.model_entry()


@router.post("/v1/chat/completions")
async def chat(req: ChatCompletionRequest, request: Request):
    svc, cfg = service(request), service(request).cfg
    svc.check_model(req.model)
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
    added_system = bool(cfg.system_prompt) and not any(m["role"] == "system" for m in messages)
    if added_system:
        messages.insert(0, {"role": "system", "content": cfg.system_prompt})
    svc.precheck_length(sum(len(m["content"]) for m in messages), "messages")
    try:
        prompt_ids, extra_stop = await run_in_threadpool(svc.engine.encode_chat, messages)
    except Exception as e:  # e.g. a template that requires alternating user/assistant turns
        raise ApiError(400, f"the model's chat template rejected these messages: {e}", param="messages") from None
    system_tokens = await run_in_threadpool(svc.system_prompt_tokens) if added_system else 0
    params = svc.gen_params(req, len(prompt_ids), extra_stop, system_tokens)
    rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if cfg.log_prompts:
        log.info("%s messages=%s", rid, json.dumps(messages, ensure_ascii=False))
    include_usage = bool((req.stream_options or {}).get("include_usage"))
    return await complete(svc, Job("chat", rid, prompt_ids, params, req.stream, include_usage))


@router.post("/v1/completions")
async def completions(req: CompletionRequest, request: Request):
    svc, cfg = service(request), service(request).cfg
    svc.check_model(req.model)
    ids = req.token_ids()
    if ids is None:
        prompt = req.text()
        svc.precheck_length(len(prompt), "prompt")
        prompt_ids = await run_in_threadpool(svc.engine.encode_prompt, prompt)
    else:
        svc.check_token_ids(ids)
        prompt_ids = ids
        prompt = await run_in_threadpool(svc.engine.tokenizer.decode, ids)
    if req.logprobs is not None:
        return await scored_completion(svc, req, prompt_ids, prompt)
    if req.max_tokens == 0:
        raise ApiError(400, "max_tokens=0 needs logprobs and echo=true (prompt scoring)", param="max_tokens")
    params = svc.gen_params(req, len(prompt_ids), [])
    rid = f"cmpl-{uuid.uuid4().hex[:24]}"
    if cfg.log_prompts:
        log.info("%s prompt=%s", rid, json.dumps(prompt, ensure_ascii=False))
    return await complete(svc, Job("completion", rid, prompt_ids, params, req.stream,
                                   prefix=prompt if req.echo else ""))


async def scored_completion(svc: Service, req: CompletionRequest, prompt_ids: list[int], prompt: str) -> dict[str, Any]:
    """``logprobs`` requests: the prompt's token log-probabilities from one forward pass (what lm-eval's
    loglikelihood asks for: ``echo``, ``logprobs: 1``, ``max_tokens`` 0 or 1, greedy)."""
    engine = svc.engine
    new = req.max_tokens if req.max_tokens is not None else (0 if req.echo else 1)
    if req.stream or new > 1 or (new and (req.temperature or 0) > 0):
        raise ApiError(400, "logprobs are returned for the prompt (echo=true) and at most one greedy token: use "
                       "max_tokens 0 or 1, temperature 0 and no streaming", param="logprobs")
    if not hasattr(engine, "score"):
        raise ApiError(400, f"the {engine.name} backend does not return logprobs", param="logprobs")
    if len(prompt_ids) + new > engine.context_length:
        raise ApiError(400, f"This model's maximum context length is {engine.context_length} tokens; the prompt has "
                       f"{len(prompt_ids)}.", code="context_length_exceeded", param="prompt")
    rid = f"cmpl-{uuid.uuid4().hex[:24]}"
    ticket = svc.admit()
    t0 = time.perf_counter()
    try:
        async with svc.admission.sem:
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(engine.pool, engine.score, prompt_ids, req.logprobs, new)
            generated = await run_in_threadpool(engine.tokenizer.decode, out["generated_ids"])
    except Exception as e:
        log.exception("%s failed", rid)
        raise ApiError(500, f"scoring failed: {type(e).__name__}: {e}", "server_error") from None
    finally:
        ticket.release()
    log.info("%s score prompt_tokens=%d seconds=%.3f", rid, len(prompt_ids), time.perf_counter() - t0)
    logprobs = out["logprobs"]
    if not req.echo:  # only the generated token's entries
        logprobs = {k: v[len(prompt_ids):] for k, v in logprobs.items()}
        logprobs["text_offset"] = [0] * len(logprobs["tokens"])
    choice = {"index": 0, "text": (prompt if req.echo else "") + generated, "finish_reason": "length",
              "logprobs": logprobs}
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": svc.model_id,
            "choices": [choice], "usage": _usage(len(prompt_ids), new)}
