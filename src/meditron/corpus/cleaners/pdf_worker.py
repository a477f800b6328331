"""PDFs from the web or from anyone are read in a child process: capped memory, a time limit, JSON answers.

Why a process: PDFium is C++; a hostile or broken file can inflate a stream to gigabytes, loop, or crash the
interpreter — in the crawler or in a corpus worker that would take every other document down with it. Measured: a
1 MB PDF whose content stream inflates to 1 GiB took 2.1 GB RSS and 4.5 s in-process.

Why one long-lived child and not one per file: starting an interpreter costs ≈ 60 ms, more than reading a 12-page
guideline (≈ 8 ms). The child reads requests from stdin — a JSON header line ``{"name", "max_pages", "size"}``
followed by ``size`` bytes of PDF — and writes one JSON line per answer (``{"ok": {...PdfText}}`` or ``{"error":
"..."}``); nothing it says is executed (never pickle). Its address space is capped (``RLIMIT_AS``); a file that takes
longer than the time limit gets the child killed; a crash or a kill costs that file only (a :class:`PdfError`), and
the next file starts a fresh child. The child is also replaced after ``MAX_FILES`` files, so memory that PDFium or
the allocator keeps cannot pile up.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from typing import IO

from meditron.corpus.cleaners.pdf import MAX_PAGES, PdfError, PdfText, pdf_to_text

#: Address-space cap of the child, in MB: a guideline PDF needs far less; a decompression bomb needs more.
MEMORY_MB = 1024
#: Seconds one file may take before the child is killed.
TIMEOUT_S = 120.0
#: Files read by one child before it is replaced.
MAX_FILES = 500


class PdfWorker:
    """A child process that reads PDFs one at a time under a memory cap and a per-file time limit."""

    def __init__(self, memory_mb: int = MEMORY_MB, timeout_s: float = TIMEOUT_S, max_files: int = MAX_FILES):
        self.memory_mb, self.timeout_s, self.max_files = memory_mb, timeout_s, max_files
        self._proc: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None  # the child's stderr, kept in a file: its last line explains an exit
        self._served = 0
        self._timed_out = False
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def read(self, data: bytes, *, name: str, max_pages: int = MAX_PAGES) -> PdfText:
        """The text of one PDF; any failure (damaged, encrypted, too big, too slow, crash) is a PdfError naming it."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None or self._served >= self.max_files:
                self._restart()
            assert self._proc is not None and self._proc.stdin is not None
            self._served += 1
            header = json.dumps({"name": name, "max_pages": max_pages, "size": len(data)}).encode() + b"\n"
            try:
                self._proc.stdin.write(header + data)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return self._failed(name)
            line = self._answer_line()
            if line is None:
                return self._failed(name)
        answer = json.loads(line)
        if "error" in answer:
            raise PdfError(str(answer["error"]))
        return PdfText(**answer["ok"])

    def _answer_line(self) -> bytes | None:
        """The child's next answer line, or None when it died or ran out of time (then it is killed)."""
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.timeout_s
        out = self._proc.stdout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while not buffer.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    self._timed_out = True
                    self.close()
                    return None
                chunk = os.read(out.fileno(), 1 << 20)
                if not chunk:  # EOF: the child died
                    return None
                buffer += chunk
        return buffer

    def _failed(self, name: str) -> PdfText:
        timed_out, self._timed_out = self._timed_out, False
        code = None
        if self._proc is not None:  # it closed its end: it is exiting, wait for its status
            try:
                code = self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
        last_line = self._stderr_tail()
        self.close()
        if timed_out:
            raise PdfError(f"{name}: reading the PDF took over {self.timeout_s:g} s; stopped")
        if code is not None and code > 0 and last_line:  # the child itself failed (e.g. it cannot import meditron)
            raise PdfError(f"{name}: the PDF reader process failed (exit {code}): {last_line}")
        raise PdfError(f"{name}: reading the PDF failed (exit {code}): it needs more than the {self.memory_mb} MB "
                       "allowed, or PDFium crashed on it")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read()[-4096:].decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def _restart(self) -> None:
        self.close()
        command = [sys.executable, "-m", "meditron.corpus.cleaners.pdf_worker", "--memory-mb", str(self.memory_mb)]
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      bufsize=0)
        self._served = 0

    def close(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


_WORKER: PdfWorker | None = None
_WORKER_PID = os.getpid()  # the process that owns _WORKER: a forked process starts its own child
_WORKER_LOCK = threading.Lock()


def pdf_to_text_isolated(data: bytes, *, name: str, max_pages: int = MAX_PAGES, memory_mb: int = MEMORY_MB,
                         timeout_s: float = TIMEOUT_S) -> PdfText:
    """:func:`~meditron.corpus.cleaners.pdf.pdf_to_text` in this process's PDF child (started on first use)."""
    global _WORKER, _WORKER_PID
    with _WORKER_LOCK:
        mine = _WORKER is not None and _WORKER_PID == os.getpid()
        if not mine or (_WORKER.memory_mb, _WORKER.timeout_s) != (memory_mb, timeout_s):  # type: ignore[union-attr]
            if mine:
                _WORKER.close()  # type: ignore[union-attr]
            _WORKER, _WORKER_PID = PdfWorker(memory_mb, timeout_s), os.getpid()
        worker = _WORKER
    return worker.read(data, name=name, max_pages=max_pages)


@atexit.register
def _close_worker() -> None:
    if _WORKER is not None and _WORKER_PID == os.getpid():
        _WORKER.close()


def _serve(memory_mb: int) -> int:
    """The child: cap the address space, then answer requests until stdin closes."""
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while header := stdin.readline():
        request = json.loads(header)
        data = stdin.read(request["size"])
        name = request["name"]
        try:
            answer = {"ok": asdict(pdf_to_text(data, name=name, max_pages=request["max_pages"]))}
        except PdfError as err:
            answer = {"error": str(err)}
        except MemoryError:
            answer = {"error": f"{name}: reading the PDF needs more than the {memory_mb} MB allowed"}
        except Exception as err:  # anything else this file triggers is its error, not the end of the child
            answer = {"error": f"{name}: cannot read the PDF ({type(err).__name__}: {err})"}
        stdout.write(json.dumps(answer).encode() + b"\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="meditron's PDF child process (started by PdfWorker)")
    parser.add_argument("--memory-mb", type=int, default=MEMORY_MB)
    sys.exit(_serve(parser.parse_args().memory_mb))
