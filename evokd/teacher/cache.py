"""A content-addressed store of teacher answers in SQLite, shared by every stage and process.

One function makes the key; one table holds the answers. The file lives outside DVC outputs (default
.evokd/cache/teacher.sqlite in the project, EVOKD_CACHE overrides), so a rerun or a resumed crash costs no
teacher tokens for answers already received. WAL mode and a busy timeout let several processes write at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    stage TEXT NOT NULL,
    created REAL NOT NULL
)"""


def default_cache_path() -> Path:
    return Path(os.environ.get("EVOKD_CACHE") or Path(".evokd") / "cache" / "teacher.sqlite")


def cache_key(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that determines an answer."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AnswerCache:
    """key -> JSON value. Each put commits at once, so answers survive a crash of the caller."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)  # autocommit
        self._db.execute("PRAGMA busy_timeout = 60000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any], stage: str = "") -> None:
        self._db.execute("INSERT OR REPLACE INTO answers (key, value, stage, created) VALUES (?, ?, ?, ?)",
                         (key, json.dumps(value, ensure_ascii=False), stage, time.time()))

    def close(self) -> None:
        self._db.close()
