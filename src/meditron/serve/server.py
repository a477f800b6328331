"""``meditron serve``: an OpenAI-compatible HTTP API over an exported model, with a chat page at ``/``.

Safety and robustness choices, each for a reason:
- binds 127.0.0.1 by default and refuses a non-loopback host without an API key (a medical model must not be an open
  endpoint by accident); the key is checked as ``Authorization: Bearer`` on every ``/v1`` route;
- bounded work: at most ``max_concurrency`` generations run and ``max_queue`` wait; beyond that a 429 comes back at
  once, so overload is visible to clients and never silently drops or hangs a request;
- every request is validated before any token is generated (4xx with OpenAI's error JSON naming the problem);
- a medical safety system prompt is added to chats that bring none; prompts are not logged unless ``log_prompts``
  (they may hold patient data).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from meditron.errors import ConfigError
from meditron.serve.config import ServeConfig
from meditron.serve.engine import Delta, GenParams, load_engine
from meditron.serve.protocol import ChatCompletionRequest, CompletionRequest, error_body

log = logging.getLogger("meditron.serve")
STATIC = Path(__file__).parent / "static"


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.body = status, error_body(message, type_, code, param)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def model_id_for(cfg: ServeConfig) -> str:
    """The name clients pass as ``model``: ``serve.model_name``, else the model directory's name (its run's for hf/)."""
    if cfg.model_name:
        return cfg.model_name
    p = Path(str(cfg.model)).resolve() if Path(str(cfg.model)).exists() else Path(str(cfg.model))
    if p.name in ("hf", "export") and p.parent.name:
        return p.parent.name
    return p.name


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


def create_app(cfg: ServeConfig, engine: Any = None):
    """The FastAPI app. ``engine`` defaults to the one ``cfg.backend`` selects, loaded from ``cfg.model``."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
    from starlette.background import BackgroundTask

    if engine is None:
        if not cfg.model:
            raise ConfigError("serve.model is not set: pass --model DIR (an exported HF directory)")
        if cfg.num_threads:
            import torch

            torch.set_num_threads(cfg.num_threads)
        engine = load_engine(str(cfg.model), cfg.backend, max_workers=cfg.max_concurrency,
                             max_context=cfg.max_context, batching=cfg.batching)
    model_id = model_id_for(cfg)
    created = int(time.time())
    app = FastAPI(title="meditron serve", version="1", docs_url=None, redoc_url=None)
    app.state.engine, app.state.cfg = engine, cfg
    admission: dict[str, Admission] = {}

    def adm() -> Admission:  # created lazily inside the server's event loop
        if "a" not in admission:
            admission["a"] = Admission(cfg.max_concurrency, cfg.max_queue)
        return admission["a"]

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            problems.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        param = ".".join(str(x) for x in exc.errors()[0].get("loc", ()) if x != "body") if exc.errors() else None
        return JSONResponse(error_body("invalid request: " + "; ".join(problems), param=param), status_code=400)

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        if cfg.api_key and request.url.path.startswith("/v1"):
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if not secrets.compare_digest(token.encode(), cfg.api_key.encode()):
                return JSONResponse(error_body("Incorrect API key provided.", "invalid_request_error",
                                               "invalid_api_key"), status_code=401)
        return await call_next(request)

    @app.get("/")
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}")
    async def static(name: str):
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise ApiError(404, f"no static file {name!r}", code="not_found")
        return FileResponse(path)

    @app.get("/health")
    async def health():
        a = adm()
        stats = {k: getattr(engine, k) for k in ("num_batches", "largest_batch") if hasattr(engine, k)}
        return {"status": "ok", "model": model_id, "engine": engine.name, "running": a.running, "queued": a.queued,
                "served": a.served, "refused": a.refused, **stats}

    @app.get("/config")
    async def page_config():
        """What the chat page needs: model id, whether a key is required, the safety notice."""
        return {"model": model_id, "requires_key": bool(cfg.api_key), "system_prompt": cfg.system_prompt,
                "context_length": engine.context_length}

    def _model_entry() -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": "meditron"}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [_model_entry()]}

    @app.get("/v1/models/{name:path}")
    async def model(name: str):
        if name != model_id:
            raise ApiError(404, f"The model '{name}' does not exist; this server serves '{model_id}'.",
                           code="model_not_found", param="model")
        return _model_entry()

    def _check_model(name: str) -> None:
        if name != model_id:
            raise ApiError(404, f"The model '{name}' does not exist; this server serves '{model_id}'.",
                           code="model_not_found", param="model")

    def _params(req: ChatCompletionRequest | CompletionRequest, n_prompt: int, extra_stop: list[str]) -> GenParams:
        ctx = engine.context_length
        limit = req.limit()
        if limit is not None and limit > cfg.max_new_tokens:
            raise ApiError(400, f"max_tokens={limit} is above this server's limit of {cfg.max_new_tokens}.",
                           code="max_tokens_exceeded", param="max_tokens")
        wanted = limit if limit is not None else cfg.max_new_tokens
        if n_prompt >= ctx or (limit is not None and n_prompt + limit > ctx):
            raise ApiError(400, f"This model's maximum context length is {ctx} tokens. However, you requested "
                           f"{n_prompt + (limit or 0)} tokens ({n_prompt} in the messages, {limit or 0} in the "
                           "completion). Please reduce the length of the messages or completion.",
                           code="context_length_exceeded", param="messages")
        temperature = 0.0 if req.temperature is None else req.temperature
        return GenParams(max_tokens=min(wanted, ctx - n_prompt), temperature=temperature,
                         top_p=1.0 if req.top_p is None else req.top_p, stop=req.stop_list() + extra_stop)

    async def _run(prompt_ids: list[int], params: GenParams, rid: str, kind: str, ticket: Ticket
                   ) -> AsyncIterator[Delta]:
        a = adm()
        t0 = time.perf_counter()
        n = 0
        status = "ok"
        try:
            async with a.sem:
                a.running += 1
                try:
                    async for d in engine.stream(prompt_ids, params):
                        n = d.completion_tokens
                        yield d
                finally:
                    a.running -= 1
        except BaseException:
            status = "aborted"
            raise
        finally:
            ticket.release()
            log.info("%s %s status=%s prompt_tokens=%d completion_tokens=%d seconds=%.3f", rid, kind, status,
                     len(prompt_ids), n, time.perf_counter() - t0)

    def _admit() -> Ticket:
        a = adm()
        ticket = a.try_enter()
        if ticket is None:
            raise ApiError(429, f"Server at capacity ({a.running} running, {a.queued} queued); retry later.",
                           "rate_limit_error", "rate_limit_exceeded")
        return ticket

    def _sse(obj: dict[str, Any]) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    def _usage(n_prompt: int, n_out: int) -> dict[str, int]:
        return {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest):
        _check_model(req.model)
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
        if cfg.system_prompt and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": cfg.system_prompt})
        try:
            prompt_ids, extra_stop = engine.encode_chat(messages)
        except Exception as e:  # e.g. a template that requires alternating user/assistant turns
            raise ApiError(400, f"the model's chat template rejected these messages: {e}", param="messages") from None
        params = _params(req, len(prompt_ids), extra_stop)
        rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if cfg.log_prompts:
            log.info("%s messages=%s", rid, json.dumps(messages, ensure_ascii=False))
        ticket = _admit()
        now = int(time.time())
        if not req.stream:
            parts, finish, n = [], "stop", 0
            async for d in _run(prompt_ids, params, rid, "chat", ticket):
                parts.append(d.text)
                n = d.completion_tokens
                finish = d.finish_reason or finish
            return {"id": rid, "object": "chat.completion", "created": now, "model": model_id,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(parts)},
                                 "finish_reason": finish, "logprobs": None}],
                    "usage": _usage(len(prompt_ids), n)}

        include_usage = bool((req.stream_options or {}).get("include_usage"))

        async def events() -> AsyncIterator[str]:
            base = {"id": rid, "object": "chat.completion.chunk", "created": now, "model": model_id}
            yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                             "finish_reason": None, "logprobs": None}]})
            n = 0
            try:
                async for d in _run(prompt_ids, params, rid, "chat-stream", ticket):
                    n = d.completion_tokens
                    delta = {"content": d.text} if d.text else {}
                    yield _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": d.finish_reason,
                                                     "logprobs": None}]})
            except Exception as e:  # the status line is gone: report in-band, as OpenAI does
                log.exception("%s failed", rid)
                yield _sse(error_body(f"generation failed: {type(e).__name__}", "server_error"))
            if include_usage:
                yield _sse({**base, "choices": [], "usage": _usage(len(prompt_ids), n)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(ticket.release),
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _scored_completion(req: CompletionRequest, prompt_ids: list[int], prompt: str) -> dict[str, Any]:
        """``logprobs`` requests: the prompt's token log-probabilities from one forward pass (what lm-eval's
        loglikelihood asks for: ``echo``, ``logprobs: 1``, ``max_tokens`` 0 or 1, greedy)."""
        new = req.max_tokens if req.max_tokens is not None else (0 if req.echo else 1)
        if req.stream or new > 1 or (new and (req.temperature or 0) > 0):
            raise ApiError(
                400,
                "logprobs are returned for the prompt (echo=true) and at most one greedy token: use max_tokens 0 "
                "or 1, temperature 0 and no streaming",
                param="logprobs",
            )
        if not hasattr(engine, "score"):
            raise ApiError(400, f"the {engine.name} backend does not return logprobs", param="logprobs")
        if len(prompt_ids) + new > engine.context_length:
            raise ApiError(
                400,
                f"This model's maximum context length is {engine.context_length} tokens; the prompt has "
                f"{len(prompt_ids)}.",
                code="context_length_exceeded",
                param="prompt",
            )
        rid = f"cmpl-{uuid.uuid4().hex[:24]}"
        ticket = _admit()
        t0 = time.perf_counter()
        try:
            a = adm()
            async with a.sem:
                loop = asyncio.get_running_loop()
                out = await loop.run_in_executor(engine.pool, engine.score, prompt_ids, req.logprobs, new)
        finally:
            ticket.release()
        log.info("%s score prompt_tokens=%d seconds=%.3f", rid, len(prompt_ids), time.perf_counter() - t0)
        logprobs = out["logprobs"]
        generated = engine.tokenizer.decode(out["generated_ids"]) if out["generated_ids"] else ""
        if not req.echo:  # only the generated token's entries
            logprobs = {k: v[len(prompt_ids) :] for k, v in logprobs.items()}
            logprobs["text_offset"] = [0] * len(logprobs["tokens"])
        return {
            "id": rid,
            "object": "text_completion",
            "created": int(time.time()),
            "model": model_id,
            "choices": [
                {
                    "index": 0,
                    "text": (prompt if req.echo else "") + generated,
                    "finish_reason": "length",
                    "logprobs": logprobs,
                }
            ],
            "usage": _usage(len(prompt_ids), new),
        }

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest):
        _check_model(req.model)
        ids = req.token_ids()
        prompt = req.text() if ids is None else engine.tokenizer.decode(ids)
        prompt_ids = engine.encode_prompt(prompt) if ids is None else ids
        if req.logprobs is not None:
            return await _scored_completion(req, prompt_ids, prompt)
        if req.max_tokens == 0:
            raise ApiError(400, "max_tokens=0 needs logprobs and echo=true (prompt scoring)", param="max_tokens")
        params = _params(req, len(prompt_ids), [])
        rid = f"cmpl-{uuid.uuid4().hex[:24]}"
        if cfg.log_prompts:
            log.info("%s prompt=%s", rid, json.dumps(prompt, ensure_ascii=False))
        ticket = _admit()
        now = int(time.time())
        prefix = prompt if req.echo else ""
        if not req.stream:
            parts, finish, n = [prefix], "stop", 0
            async for d in _run(prompt_ids, params, rid, "completion", ticket):
                parts.append(d.text)
                n = d.completion_tokens
                finish = d.finish_reason or finish
            return {"id": rid, "object": "text_completion", "created": now, "model": model_id,
                    "choices": [{"index": 0, "text": "".join(parts), "finish_reason": finish, "logprobs": None}],
                    "usage": _usage(len(prompt_ids), n)}

        async def events() -> AsyncIterator[str]:
            base = {"id": rid, "object": "text_completion", "created": now, "model": model_id}
            if prefix:
                yield _sse({**base, "choices": [{"index": 0, "text": prefix, "finish_reason": None, "logprobs": None}]})
            try:
                async for d in _run(prompt_ids, params, rid, "completion-stream", ticket):
                    yield _sse({**base, "choices": [{"index": 0, "text": d.text, "finish_reason": d.finish_reason,
                                                     "logprobs": None}]})
            except Exception as e:
                log.exception("%s failed", rid)
                yield _sse(error_body(f"generation failed: {type(e).__name__}", "server_error"))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(ticket.release),
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


def check_bind(cfg: ServeConfig) -> None:
    if not is_loopback(cfg.host) and not cfg.api_key:
        raise ConfigError(f"serve.host={cfg.host!r} is not a loopback address: set an API key (--api-key or "
                          "MEDITRON_API_KEY) before exposing a medical model on the network")


def run_server(cfg: ServeConfig) -> None:
    """Load the model and serve until interrupted (Ctrl-C)."""
    import uvicorn

    check_bind(cfg)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(cfg)
    engine = app.state.engine
    log.info("serving %s (%s engine, context %d) on http://%s:%d", model_id_for(cfg), engine.name,
             engine.context_length, cfg.host, cfg.port)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)


@contextmanager
def serve_in_thread(cfg: ServeConfig, engine: Any = None) -> Iterator[str]:
    """Run the server in a background thread on ``cfg.port`` (0 = a free port); yields the base URL; always stops it."""
    import socket

    import uvicorn

    check_bind(cfg)
    port = cfg.port
    if port == 0:
        with socket.socket() as s:
            s.bind((cfg.host, 0))
            port = s.getsockname()[1]
    app = create_app(cfg, engine)
    server = uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name="meditron-serve", daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started:
            if not thread.is_alive() or time.time() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        yield f"http://{cfg.host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
