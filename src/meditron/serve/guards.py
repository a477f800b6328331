"""ASGI guards in front of every route of ``meditron serve``: Host/Origin allow-list, API key, request-body limit.

Why plain ASGI (not FastAPI dependencies): they must act before the body is read. A request whose body is too large
is refused from its ``Content-Length`` (or as soon as the streamed body passes the limit) without buffering it, so a
20 MB upload costs the server nothing; and on a loopback bind a page in the user's browser must not reach the model
by DNS rebinding (``Host: attacker.example`` resolving to 127.0.0.1) or by posting across origins.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from meditron.serve.protocol import error_body

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")
# After a 413 the rest of the body is read and discarded (so the client, still sending, gets to read the answer),
# up to this much; beyond it the connection is simply closed.
MAX_DRAIN_BYTES = 256 * 1024 * 1024


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def split_host(value: str) -> tuple[str, int | None]:
    """``name[:port]`` (IPv6 in brackets) → (lower-case name, port or None); an unparsable port gives -1."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        name += "]"
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:
        name, port = value, ""
    if not port:
        return name, None
    return name, int(port) if port.isdigit() else -1


class HostGuard:
    """On a loopback bind, answer only requests addressed to a loopback name (and ``serve.allowed_hosts``), at this
    server's port, and coming from no other origin: the DNS-rebinding and cross-site defence. 403 otherwise."""

    def __init__(self, app: ASGIApp, extra_hosts: list[str]):
        self.app = app
        self.loopback = set(LOOPBACK_NAMES)
        self.extra = {h.strip().lower() for h in extra_hosts if h.strip()}

    def _allowed(self, name: str, port: int | None, server_port: int | None) -> bool:
        if name in self.extra:
            return True
        return name in self.loopback and (port is None or server_port is None or port == server_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        server_port = (scope.get("server") or (None, None))[1]
        host = _header(scope, b"host")
        name, port = split_host(host) if host else ("", None)
        if not self._allowed(name, port, server_port):
            return await send_json(send, 403, error_body(
                f"Host {host!r} is not allowed: this server is bound to loopback and answers only localhost, "
                "127.0.0.1 and [::1] at its own port (DNS-rebinding defence); add the name to serve.allowed_hosts "
                "to accept it", code="host_not_allowed"))
        origin = _header(scope, b"origin")
        if origin is not None:
            parts = urlsplit(origin)
            o_name = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else (parts.hostname or "")
            if origin == "null" or not self._allowed(o_name.lower(), parts.port, server_port):
                return await send_json(send, 403, error_body(
                    f"Origin {origin!r} is not allowed: pages from other sites may not call this loopback server; "
                    "add the name to serve.allowed_hosts to accept it", code="origin_not_allowed"))
        return await self.app(scope, receive, send)


class ApiKeyGuard:
    """Every ``/v1`` route needs ``Authorization: Bearer <serve.api_key>`` when a key is set (401 otherwise)."""

    def __init__(self, app: ASGIApp, api_key: str | None):
        self.app, self.key = app, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.key and scope.get("path", "").startswith("/v1"):
            header = _header(scope, b"authorization") or ""
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if not secrets.compare_digest(token.encode(), self.key.encode()):
                return await send_json(send, 401, error_body("Incorrect API key provided.", "invalid_request_error",
                                                             "invalid_api_key"))
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413 before reading it (declared length) or as soon as the
    streamed body passes the limit; a body within it is handed on whole. Memory stays at most ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: str) -> dict[str, Any]:
        return error_body(f"Request body of {size} is larger than this server's limit of {self.max_bytes} bytes "
                          "(serve.max_request_bytes).", code="request_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return await send_json(send, 400, error_body(f"invalid Content-Length {declared!r}"))
            if int(declared) > self.max_bytes:
                await send_json(send, 413, self._too_large(f"{int(declared)} bytes"))
                return await _drain(receive)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                chunks.clear()
                await send_json(send, 413, self._too_large(f"more than {self.max_bytes} bytes"))
                return await _drain(receive)
            if not message.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def receive_replayed() -> dict[str, Any]:
            return replay.pop() if replay else await receive()

        return await self.app(scope, receive_replayed, send)


async def _drain(receive: Receive) -> None:
    """Read and discard what the client still sends (bounded), so it gets to read the error it was answered."""
    drained = 0
    while drained <= MAX_DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
