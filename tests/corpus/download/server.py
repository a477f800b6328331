"""A loopback HTTP server for download tests: static routes or callables, a request log, and injected faults.

Shared by every downloader's tests (pubmed, pmc-oa, hf, guidelines). Nothing here touches the internet.

    with LoopbackServer({"/a.txt": Resource(b"hello")}) as server:
        server.add_faults("/a.txt", Fault.http(500), Fault.cut(3))
        client.download(server.url("/a.txt"), dest)
        assert server.requests_for("/a.txt")[-1].headers.get("range") == "bytes=3-"

Static resources answer Range requests with 206 + Content-Range (unless ``ranges=False``: the server then ignores
Range like some CDNs do), and conditional GETs with 304 when an ``etag``/``last_modified`` matches. Faults queued
for a path are consumed one per request, in order; when the queue is empty the path serves normally.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Resource:
    """A static response body with optional validators; ``headers`` are added to every answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    etag: str | None = None
    last_modified: str | None = None
    ranges: bool = True


@dataclass
class Request:
    """One logged request. ``headers`` keys are lower-case."""

    method: str
    path: str  # path + query, as requested
    headers: dict[str, str]

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


@dataclass
class Fault:
    """One injected misbehaviour for the next request to a path."""

    kind: str  # "http" | "delay" | "cut" | "stall"
    code: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    after_bytes: int = 0
    seconds: float = 0.0

    @classmethod
    def http(cls, code: int = 500, headers: dict[str, str] | None = None) -> Fault:
        """Answer with this status (and headers) instead of the resource."""
        return cls("http", code=code, headers=headers or {})

    @classmethod
    def retry_after(cls, value: str, code: int = 429) -> Fault:
        """A 429 (or 503) with ``Retry-After: value`` (seconds or an HTTP date)."""
        return cls("http", code=code, headers={"Retry-After": value})

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait before sending anything (a client read timeout shorter than this fires)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def cut(cls, after_bytes: int) -> Fault:
        """Send the headers (full Content-Length) and ``after_bytes`` of the body, then drop the connection."""
        return cls("cut", after_bytes=after_bytes)

    @classmethod
    def stall(cls, after_bytes: int, seconds: float) -> Fault:
        """Send ``after_bytes`` of the body, go silent for ``seconds``, then drop the connection."""
        return cls("stall", after_bytes=after_bytes, seconds=seconds)


Handler = Callable[[Request], "Resource | tuple[int, dict[str, str], bytes]"]
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port; use as a context manager."""

    def __init__(self, routes: dict[str, Resource | Handler | bytes] | None = None):
        self.routes: dict[str, Resource | Handler | bytes] = dict(routes or {})
        self.log: list[Request] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add_faults(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self._faults.setdefault(path, []).extend(faults)

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.route == path]

    def gets(self) -> list[str]:
        """Routes of every GET, in order (handy to prove a rerun fetched nothing)."""
        with self._lock:
            return [r.route for r in self.log if r.method == "GET"]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- used by the handler ------------------------------------------------------------------------------------
    def _record(self, request: Request) -> Fault | None:
        with self._lock:
            self.log.append(request)
            queue = self._faults.get(request.route)
            return queue.pop(0) if queue else None

    def _resolve(self, request: Request) -> Resource:
        target = self.routes.get(request.route)
        if target is None:
            return Resource(b"not found", status=404, content_type="text/plain")
        if isinstance(target, bytes):
            return Resource(target)
        if isinstance(target, Resource):
            return target
        answer = target(request)
        if isinstance(answer, Resource):
            return answer
        status, headers, body = answer
        return Resource(body, status=status, headers=dict(headers), ranges=False)


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean; the log list is the record
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            fault = server._record(request)
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.seconds)
            if fault is not None and fault.kind == "http":
                self._send(fault.code, fault.headers, f"injected {fault.code}".encode(), head)
                return
            resource = server._resolve(request)
            status, headers, body = _answer(resource, request)
            if fault is not None and fault.kind in ("cut", "stall"):
                self._send_partial(status, headers, body, fault)
                return
            self._send(status, headers, body, head)

        def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and status != 304:
                self.wfile.write(body)

        def _send_partial(self, status: int, headers: dict[str, str], body: bytes, fault: Fault) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: fault.after_bytes])
            self.wfile.flush()
            if fault.kind == "stall":
                time.sleep(fault.seconds)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return _Handler


def _answer(resource: Resource, request: Request) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body for a resource: conditional GET → 304, Range → 206, else the resource as is."""
    headers = {"Content-Type": resource.content_type, **resource.headers}
    if resource.etag:
        headers["ETag"] = resource.etag
    if resource.last_modified:
        headers["Last-Modified"] = resource.last_modified
    if resource.status != 200:
        return resource.status, headers, resource.body
    if resource.etag and request.headers.get("if-none-match") == resource.etag:
        return 304, headers, b""
    if resource.last_modified and request.headers.get("if-modified-since") == resource.last_modified:
        return 304, headers, b""
    match = _RANGE.match(request.headers.get("range", ""))
    if resource.ranges and match:
        size = len(resource.body)
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else size - 1
        if start >= size:
            return 416, {**headers, "Content-Range": f"bytes */{size}"}, b""
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Accept-Ranges"] = "bytes"
        return 206, headers, resource.body[start : end + 1]
    if resource.ranges:
        headers["Accept-Ranges"] = "bytes"
    return 200, headers, resource.body


def apache_listing(path: str, names: list[str], *, sizes: dict[str, int] | None = None) -> bytes:
    """An Apache-style "Index of" page, the shape of NLM's https://ftp.ncbi.nlm.nih.gov/ directory listings."""
    sizes = sizes or {}
    rows = [f'<a href="{name}">{name}</a>{" " * max(1, 40 - len(name))}2024-12-11 14:24  {sizes.get(name, "18M")}'
            for name in names]
    body = (
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n"
        f"  <title>Index of {path}</title>\n </head>\n <body>\n<h1>Index of {path}</h1>\n"
        "<pre>Name                                     Last modified      Size  <hr>"
        '<a href="../">Parent Directory</a>                                               -   \n'
        + "\n".join(rows)
        + "\n<hr></pre>\n</body></html>\n"
    )
    return body.encode()
