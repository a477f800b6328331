"""A polite, resumable HTTP client shared by every `meditron corpus download` source.

Why one client: NLM, PMC and the guideline sites all ask the same things of a bulk downloader — a descriptive
User-Agent, a small number of connections per host, backing off on 5xx and honouring ``Retry-After`` — and the
users' top complaint about MEDITRON's data loading was partial or corrupt files after a flaky night. So every byte
goes through :meth:`PoliteClient.download`, which streams to ``dest.part``, resumes with HTTP Range, verifies size
and md5, and only then renames atomically to ``dest``: a file under its final name is always a verified file.

Sleeping (backoff, ``Retry-After``, rate limit) goes through an injectable ``sleep`` so tests measure the waits
without waiting.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from meditron import __version__
from meditron.errors import MeditronError

PROJECT_URL = "https://github.com/epfLLM/meditron"
DEFAULT_USER_AGENT = f"meditron-corpus/{__version__} (+{PROJECT_URL}; research corpus builder)"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class DownloadError(MeditronError):
    """A URL could not be fetched after every retry; the message names the URL and the last reason."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass
class FetchResult:
    """What happened to one download. ``status`` is "downloaded" | "resumed" | "unchanged" | "failed"."""

    url: str
    path: Path | None
    status: str
    size: int = 0
    sha256: str | None = None
    md5: str | None = None
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    bytes_transferred: int = 0  # bytes received over the network in this call (0 when unchanged)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying; ``wait`` overrides the backoff (Retry-After)."""

    def __init__(self, reason: str, wait: float | None = None, progressed: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.progressed = progressed


class _HostGate:
    """Per-host concurrency slots and a minimum interval between request starts."""

    def __init__(self, concurrency: int):
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self.lock = threading.Lock()
        self.next_start = 0.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def file_digests(path: Path) -> tuple[int, str, str]:
    """(size, sha256, md5) of a file, read once in chunks."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


class PoliteClient:
    """httpx client with per-host limits, retries with exponential backoff and verified, resumable downloads."""

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        per_host_concurrency: int = 2,
        min_interval_s: float = 0.0,
        retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        timeout_s: float = 60.0,
        max_retry_after_s: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.user_agent = user_agent
        self.per_host_concurrency = per_host_concurrency
        self.min_interval_s = min_interval_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.sleep = sleep
        self.clock = clock
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
        )

    # -- plumbing ---------------------------------------------------------------------------------------------
    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        with self._gates_lock:
            if host not in self._gates:
                self._gates[host] = _HostGate(self.per_host_concurrency)
            return self._gates[host]

    def _wait_turn(self, gate: _HostGate) -> None:
        """Space request starts to the same host by ``min_interval_s`` (reserved under a lock, slept outside)."""
        if self.min_interval_s <= 0:
            return
        with gate.lock:
            now = self.clock()
            start = max(now, gate.next_start)
            gate.next_start = start + self.min_interval_s
        if start > now:
            self.sleep(start - now)

    def _backoff(self, failures: int, wait: float | None) -> float:
        if wait is not None:
            return min(wait, self.max_retry_after_s)
        return min(self.backoff_s * (2 ** (failures - 1)), self.max_backoff_s)

    def _retry_for_status(self, response: httpx.Response) -> _Retry:
        wait = None
        if response.status_code in (429, 503):
            wait = parse_retry_after(response.headers.get("Retry-After"))
        return _Retry(f"HTTP {response.status_code}", wait)

    def _run_with_retries(self, url: str, attempt: Callable[[], object]):
        """Call ``attempt`` until it returns; on ``_Retry`` sleep and try again, up to ``retries`` retries.

        A retry marked ``progressed`` (bytes were saved before the cut) resets the failure count, so a large file
        over a flaky link keeps resuming as long as every attempt moves forward.
        """
        failures = 0
        while True:
            try:
                return attempt()
            except _Retry as retry:
                failures = 1 if retry.progressed else failures + 1
                if failures > self.retries:
                    raise DownloadError(url, f"{retry.reason} (gave up after {self.retries} retries)") from None
                self.sleep(self._backoff(failures, retry.wait))

    # -- public API -------------------------------------------------------------------------------------------
    def get(self, url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET with retries on 5xx/429/timeouts/cut connections; other statuses (200, 304, 404...) are returned."""
        gate = self._gate(url)

        def attempt() -> httpx.Response:
            with gate.slots:
                self._wait_turn(gate)
                try:
                    response = self._client.get(url, headers=headers)
                except httpx.TransportError as exc:
                    raise _Retry(f"{type(exc).__name__}: {exc}") from None
            if response.status_code in RETRYABLE_STATUS:
                raise self._retry_for_status(response)
            return response

        return self._run_with_retries(url, attempt)

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expected_md5: str | None = None,
        expected_size: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """Fetch ``url`` to ``dest`` via ``dest.part``; verified bytes only ever appear under ``dest``.

        Never raises for a failed fetch: the result says "failed" with the reason, so a batch can report every
        bad file at the end instead of stopping at the first.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        job = _DownloadJob(self, url, dest, etag if dest.exists() else None, last_modified if dest.exists() else None)
        try:
            self._run_with_retries(url, job.attempt)
        except DownloadError as exc:
            return FetchResult(url, None, "failed", error=exc.reason, bytes_transferred=job.received)
        except _Fatal as exc:
            return FetchResult(url, None, "failed", error=str(exc), bytes_transferred=job.received)
        if job.not_modified:
            size, sha, md5 = file_digests(dest)
            return FetchResult(url, dest, "unchanged", size, sha, md5, etag=job.etag or etag,
                               last_modified=job.last_modified or last_modified)
        return job.finish(expected_md5, expected_size)


class _Fatal(Exception):
    """Internal: this download cannot succeed by retrying (404, 403...)."""


class _DownloadJob:
    """State of one resumable download across attempts: the .part file, bytes received, validators."""

    def __init__(self, client: PoliteClient, url: str, dest: Path, etag: str | None, last_modified: str | None):
        self.client, self.url, self.dest = client, url, dest
        self.part = dest.with_name(dest.name + ".part")
        self.cond_etag, self.cond_last_modified = etag, last_modified
        self.received = 0
        self.resumed = False
        self.not_modified = False
        self.total: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None

    def _headers(self, offset: int) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}  # byte offsets and md5s are about the bytes as stored
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.etag or self.cond_etag:
                headers["If-Range"] = self.etag or self.cond_etag
        if self.cond_etag:
            headers["If-None-Match"] = self.cond_etag
        if self.cond_last_modified:
            headers["If-Modified-Since"] = self.cond_last_modified
        return headers

    def attempt(self) -> None:
        offset = self.part.stat().st_size if self.part.exists() else 0
        gate = self.client._gate(self.url)
        with gate.slots:
            self.client._wait_turn(gate)
            try:
                with self.client._client.stream("GET", self.url, headers=self._headers(offset)) as response:
                    self._consume(response, offset)
            except httpx.TransportError as exc:
                progressed = self.part.exists() and self.part.stat().st_size > offset
                raise _Retry(f"{type(exc).__name__}: {exc}", progressed=progressed) from None

    def _consume(self, response: httpx.Response, offset: int) -> None:
        status = response.status_code
        if status == 304 and (self.cond_etag or self.cond_last_modified):
            self.not_modified = True
            self.etag = response.headers.get("ETag")
            self.last_modified = response.headers.get("Last-Modified")
            return
        if status in RETRYABLE_STATUS:
            raise self.client._retry_for_status(response)
        if status == 416 and offset:
            self.part.unlink(missing_ok=True)  # our .part is longer than the file now: start again
            raise _Retry("HTTP 416 on resume; restarting from byte 0", wait=0.0)
        if status not in (200, 206):
            raise _Fatal(f"HTTP {status}")
        self.etag = response.headers.get("ETag")
        self.last_modified = response.headers.get("Last-Modified")
        mode, start = self._placement(response, offset)
        self.total = self._total_length(response, start)
        written = self._stream_to_part(response, mode)
        if self.total is not None and start + written < self.total:
            raise _Retry(f"connection ended at byte {start + written} of {self.total}", progressed=written > 0)

    def _placement(self, response: httpx.Response, offset: int) -> tuple[str, int]:
        """Append at ``offset`` for a matching 206; otherwise (server ignored Range) rewrite from byte 0."""
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                self.resumed = self.resumed or offset > 0
                return "ab", offset
            self.part.unlink(missing_ok=True)  # the server sent some other range: start clean rather than splice
            raise _Retry(f"bad Content-Range {response.headers.get('Content-Range')!r} for offset {offset}", wait=0.0)
        if offset:
            self.resumed = False  # a full 200 body: whatever was in .part is replaced
        return "wb", 0

    @staticmethod
    def _total_length(response: httpx.Response, start: int) -> int | None:
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match and match.group(3) != "*":
                return int(match.group(3))
        length = response.headers.get("Content-Length")
        return start + int(length) if length and length.isdigit() else None

    def _stream_to_part(self, response: httpx.Response, mode: str) -> int:
        written = 0
        with open(self.part, mode) as fh:
            try:
                for chunk in response.iter_raw():  # unbuffered: every received byte lands in .part before a cut
                    fh.write(chunk)
                    written += len(chunk)
                    self.received += len(chunk)
            finally:
                fh.flush()
                os.fsync(fh.fileno())
        return written

    def finish(self, expected_md5: str | None, expected_size: int | None) -> FetchResult:
        """Verify the complete .part and move it to its final name, or delete it and report why."""
        size, sha, md5 = file_digests(self.part)
        problem = None
        if expected_size is not None and size != expected_size:
            problem = f"size mismatch: expected {expected_size} bytes, got {size}"
        elif expected_md5 is not None and md5.lower() != expected_md5.strip().lower():
            problem = f"md5 mismatch: expected {expected_md5.strip().lower()}, got {md5}"
        if problem:
            self.part.unlink(missing_ok=True)  # a complete but wrong file: resuming it could never verify
            return FetchResult(self.url, None, "failed", size, sha, md5, problem, self.etag, self.last_modified,
                               self.received)
        os.replace(self.part, self.dest)
        status = "resumed" if self.resumed else "downloaded"
        return FetchResult(self.url, self.dest, status, size, sha, md5, None, self.etag, self.last_modified,
                           self.received)


@contextmanager
def client_or_new(client: PoliteClient | None, **kwargs) -> Iterator[PoliteClient]:
    """The caller's client (left open: it is theirs), or a new ``PoliteClient(**kwargs)`` closed on exit."""
    if client is not None:
        yield client
        return
    with PoliteClient(**kwargs) as own:
        yield own
