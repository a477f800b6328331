"""``meditron serve``: an OpenAI-compatible HTTP API over an exported model, with a chat page at ``/``.

Safety and robustness choices, each for a reason:
- binds 127.0.0.1 by default and refuses a non-loopback host without an API key (a medical model must not be an open
  endpoint by accident); the key is checked as ``Authorization: Bearer`` on every ``/v1`` route;
- bounded work: at most ``max_concurrency`` generations run and ``max_queue`` wait; beyond that a 429 comes back at
  once, so overload is visible to clients and never silently drops or hangs a request;
- every request is validated before any token is generated (4xx with OpenAI's error JSON naming the problem); bodies
  over ``serve.max_request_bytes`` get 413 unread, prompts that cannot fit are refused before tokenizing, and all
  tokenizing and model work runs off the event loop (``serve/routes.py``), so ``/health`` always answers;
- on a loopback bind only requests addressed to a loopback name are answered (DNS-rebinding defence, ``guards.py``);
- a medical safety system prompt is added to chats that bring none; prompts are not logged unless ``log_prompts``
  (they may hold patient data).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from meditron.errors import ConfigError
from meditron.serve.config import ServeConfig
from meditron.serve.engine import check_model_dir, load_engine
from meditron.serve.protocol import ApiError, error_body

log = logging.getLogger(__name__)


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


def check_lineage(model_dir: Path, trust: bool) -> None:
    """An export carrying ``lineage.json`` is served only if its files still have the hashes written at export.

    Why: a damaged or altered safetensors file loads without complaint and answers with garbage; the lineage hashes
    are there to catch exactly that (cost: one read of the weights at start-up). ``serve.trust_unverified`` skips the
    check, with a warning.
    """
    from meditron.serve.lineage import LINEAGE_FILE, verify_lineage

    if not (model_dir / LINEAGE_FILE).is_file():
        return
    if trust:
        log.warning("%s: not checked against %s (serve.trust_unverified)", model_dir, LINEAGE_FILE)
        return
    try:
        problems = [p for p in verify_lineage(model_dir) if not p.endswith("not in lineage")]
    except (ValueError, KeyError, TypeError) as e:
        problems = [f"{LINEAGE_FILE} is unreadable ({type(e).__name__}: {e})"]
    if problems:
        raise ConfigError(f"{model_dir}: {len(problems)} file(s) differ from {LINEAGE_FILE} ({'; '.join(problems[:3])}):"
                          " the export was damaged or modified since it was written. Re-export it, or pass "
                          "--trust-checkpoint (serve.trust_unverified=true) to serve it anyway")


def create_app(cfg: ServeConfig, engine: Any = None):
    """The FastAPI app. ``engine`` defaults to the one ``cfg.backend`` selects, loaded from ``cfg.model``.

    Guards wrap the routes (outermost first): Host/Origin allow-list on a loopback bind, API key on ``/v1``, body
    limit; every error, down to an unexpected exception, reaches the client as OpenAI's error JSON.
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from meditron.serve.guards import ApiKeyGuard, BodyLimit, HostGuard
    from meditron.serve.routes import Service, router

    if engine is None:
        engine = _load(cfg)
    app = FastAPI(title="meditron serve", version="1", docs_url=None, redoc_url=None)
    app.state.engine, app.state.cfg = engine, cfg
    app.state.service = Service(cfg, engine, model_id_for(cfg))
    app.include_router(router)

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

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):  # unknown route, wrong method
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(error_body(f"{exc.detail}: {request.method} {request.url.path}", code=code),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):  # a bug: JSON for the client, traceback in the log
        return JSONResponse(error_body(f"internal error ({type(exc).__name__}); see the server log", "server_error"),
                            status_code=500)

    app.add_middleware(BodyLimit, max_bytes=cfg.max_request_bytes)
    app.add_middleware(ApiKeyGuard, api_key=cfg.api_key)
    if is_loopback(cfg.host):
        app.add_middleware(HostGuard, extra_hosts=cfg.allowed_hosts)
    return app


def _load(cfg: ServeConfig) -> Any:
    if not cfg.model:
        raise ConfigError("serve.model is not set: pass --model DIR (an exported HF directory)")
    model_dir = check_model_dir(str(cfg.model))
    if model_dir is not None:  # None: a hub id, which carries no lineage of ours
        check_lineage(model_dir, cfg.trust_unverified)
    if cfg.num_threads:
        import torch

        torch.set_num_threads(cfg.num_threads)
    engine = load_engine(str(cfg.model), cfg.backend, max_workers=cfg.max_concurrency, max_context=cfg.max_context,
                         batching=cfg.batching)
    _warn_if_system_prompt_fills_context(cfg, engine)
    return engine


def _warn_if_system_prompt_fills_context(cfg: ServeConfig, engine: Any) -> None:
    """Say at start-up when ``serve.system_prompt`` leaves (almost) no room: every chat without its own system
    message would fail with a context error otherwise, which is how a small model's first question looked."""
    if not cfg.system_prompt or not hasattr(engine, "tokenizer"):
        return
    n = len(engine.tokenizer(cfg.system_prompt, add_special_tokens=False).input_ids)
    ctx = engine.context_length
    if n >= ctx // 2:
        log.warning("serve.system_prompt alone is %d of the model's %d context tokens: chats that bring no system "
                    "message have %d left for the conversation and the answer; shorten serve.system_prompt or set "
                    "it to \"\"", n, ctx, max(0, ctx - n))


def check_bind(cfg: ServeConfig) -> None:
    if not is_loopback(cfg.host) and not cfg.api_key:
        raise ConfigError(f"serve.host={cfg.host!r} is not a loopback address: set an API key (--api-key or "
                          "MEDITRON_API_KEY) before exposing a medical model on the network")


def run_server(cfg: ServeConfig) -> None:
    """Load the model and serve until interrupted (Ctrl-C)."""
    import uvicorn

    check_bind(cfg)  # logging is the host's: `meditron serve` sets it up in cli.py, an embedding program its own way
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
