"""The crawl frontier on disk (SQLite): every URL seen, its state, its HTTP validators and its guideline row.

Why SQLite: a crawl of tens of thousands of pages gets killed (Ctrl-C, a node preempted); the next run must resume
without refetching what is done, and a rerun weeks later must send ``If-None-Match``/``If-Modified-Since`` and keep
the row of a page that answered 304. Each state change is committed at once, so a kill loses at most the page in
flight. The JSONL output is rewritten from the ``done`` rows at the end of every run, so it is always whole.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

QUEUED, DONE, FAILED, SKIPPED = "queued", "done", "failed", "skipped"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY, seq INTEGER, depth INTEGER NOT NULL, state TEXT NOT NULL, is_guideline INTEGER NOT NULL,
    etag TEXT, last_modified TEXT, fetched_at REAL, error TEXT, row TEXT, run INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS urls_state ON urls(state, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class Entry:
    url: str
    depth: int
    is_guideline: bool
    etag: str | None
    last_modified: str | None
    row: dict | None


class Frontier:
    """URL states of one source. ``run`` numbers the crawls so a rerun revisits pages done by earlier runs."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.executescript(_SCHEMA)
        self.run = int(self.get_meta("run") or 0)

    def close(self) -> None:
        self._db.close()

    # -- runs --------------------------------------------------------------------------------------------------
    def start_run(self) -> bool:
        """Begin a run; True when it resumes an interrupted one (queued URLs left), else a fresh revisit."""
        if self.get_meta("finished") == "0":
            return True
        self.run += 1
        with self._db:
            self._db.execute("UPDATE urls SET state=? WHERE state IN (?, ?)", (QUEUED, DONE, FAILED))
            self.set_meta("run", str(self.run), commit=False)
            self.set_meta("finished", "0", commit=False)
        return False

    def finish_run(self) -> None:
        self.set_meta("finished", "1")

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str, commit: bool = True) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
        if commit:
            self._db.commit()

    # -- URLs --------------------------------------------------------------------------------------------------
    def add(self, url: str, depth: int, is_guideline: bool) -> bool:
        """Queue a URL never seen before; False when it is known (any state)."""
        with self._db:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO urls(url, seq, depth, state, is_guideline, run) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM urls), ?, ?, ?, ?)",
                (url, depth, QUEUED, int(is_guideline), self.run),
            )
        return cur.rowcount == 1

    def next_queued(self) -> Entry | None:
        row = self._db.execute(
            "SELECT url, depth, is_guideline, etag, last_modified, row FROM urls WHERE state=? ORDER BY seq LIMIT 1",
            (QUEUED,),
        ).fetchone()
        if row is None:
            return None
        return Entry(row[0], row[1], bool(row[2]), row[3], row[4], json.loads(row[5]) if row[5] else None)

    def mark(self, url: str, state: str, *, etag: str | None = None, last_modified: str | None = None,
             row: dict | None = None, error: str | None = None, keep_row: bool = False) -> None:
        """Record the outcome of one URL and commit (a kill after this never refetches it in the same run)."""
        with self._db:
            if keep_row:
                self._db.execute("UPDATE urls SET state=?, fetched_at=?, error=?, run=? WHERE url=?",
                                 (state, time.time(), error, self.run, url))
            else:
                self._db.execute(
                    "UPDATE urls SET state=?, etag=?, last_modified=?, fetched_at=?, error=?, row=?, run=? "
                    "WHERE url=?",
                    (state, etag, last_modified, time.time(), error, json.dumps(row) if row else None, self.run, url),
                )

    def rows(self) -> Iterator[dict]:
        """Guideline rows of done pages, in discovery order."""
        for (row,) in self._db.execute("SELECT row FROM urls WHERE state=? AND row IS NOT NULL ORDER BY seq", (DONE,)):
            yield json.loads(row)

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT state, COUNT(*) FROM urls GROUP BY state").fetchall())

    def failures(self) -> list[tuple[str, str]]:
        return self._db.execute("SELECT url, error FROM urls WHERE state=? ORDER BY seq", (FAILED,)).fetchall()
