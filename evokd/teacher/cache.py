"""A content-addressed store of teacher answers in SQLite, shared by every stage and process.

One function makes the key; one table holds the answers. The file lives outside the repository and every DVC
output (default ~/.cache/evokd/teacher.sqlite, EVOKD_CACHE overrides): a rerun, a resumed crash or a queued
experiment (which runs in a temporary copy of the repository) costs no teacher tokens for answers already
received. Keys are content addresses, so sharing one file between projects is safe. WAL mode and a busy
timeout let several processes write at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evokd.errors import EvokdError
from evokd.teacher.config import evokd_cache_home

SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    stage TEXT NOT NULL,
    created REAL NOT NULL,
    request TEXT NOT NULL DEFAULT '{}'
)"""


def default_cache_path() -> Path:
    return Path(os.environ.get("EVOKD_CACHE") or evokd_cache_home() / "teacher.sqlite")


def default_busy_timeout() -> float:
    """Seconds to wait for another process's lock on the cache (EVOKD_CACHE_TIMEOUT overrides the 60 s)."""
    return float(os.environ.get("EVOKD_CACHE_TIMEOUT") or 60)


def cache_key(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that determines an answer."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AnswerCache:
    """key -> JSON value (and the request it answers). Each put commits at once, so answers survive a crash."""

    def __init__(self, path: Path, busy_timeout: float | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.busy_timeout = default_busy_timeout() if busy_timeout is None else busy_timeout
        with self._locked_is_an_error():
            self._db = sqlite3.connect(path, timeout=self.busy_timeout, isolation_level=None)  # autocommit
            self._db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(answers)")}
            if "request" not in columns:  # a cache written before requests were kept for audits
                self._db.execute("ALTER TABLE answers ADD COLUMN request TEXT NOT NULL DEFAULT '{}'")

    @contextlib.contextmanager
    def _locked_is_an_error(self) -> Iterator[None]:
        """A lock held longer than busy_timeout by another process becomes one clear error (nothing is written)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise EvokdError(f"the teacher cache {self.path} is locked by another process (waited "
                             f"{self.busy_timeout:g} s); let it finish, or set EVOKD_CACHE to another file, or "
                             "EVOKD_CACHE_TIMEOUT to wait longer") from None

    def get(self, key: str) -> dict[str, Any] | None:
        with self._locked_is_an_error():
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any], stage: str = "", request: dict[str, Any] | None = None) -> None:
        """Store an answer; `request` (what the teacher was shown) is kept so the data's inputs can be audited."""
        with self._locked_is_an_error():
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, value, stage, created, request) VALUES (?, ?, ?, ?, ?)",
                (key, json.dumps(value, ensure_ascii=False), stage, time.time(),
                 json.dumps(request or {}, ensure_ascii=False)))

    def close(self) -> None:
        self._db.close()
