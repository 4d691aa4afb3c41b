"""The run log behind the history: every run, finished or failed, kept in SQLite before it is displayed.

Where: `Settings.history_path`, else ``$OR_MAGIC_HOME/history.db``, else the user's data
directory (``$XDG_DATA_HOME/or_magic/history.db``, ``~/.local/share/...`` on Linux,
``~/Library/Application Support/...`` on macOS, ``%LOCALAPPDATA%\\...`` on Windows).

Why SQLite in WAL mode with one commit per run: a kernel that crashes or restarts loses
nothing it received, and two kernels (or a sweep's threads) can write at once.  The schema is
versioned with ``PRAGMA user_version``; `MIGRATIONS[i]` (schema.py) brings version i to i + 1, so an
old database is upgraded in place when it is opened.

The API key is never part of a request body (it travels in a header), but every text
stored here is scrubbed of it anyway: a user could paste it into a `--param` or a prompt.
Reading it back (filters, DataFrame) is `history_query.py`; `or_magic.history()` is that.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.coerce import valid_unicode
from .backlog import BUSY_WAIT, Backlog, is_locked
from .history_path import HOME_ENV, default_path, resolve_path  # noqa: F401 - the history's home, re-exported
from .rows import CHAT_COLUMNS, SWEEP_COLUMNS, request_hash, run_context, run_row
from .schema import MIGRATIONS

__all__ = ["History", "open_history", "request_hash", "run_row", "run_context"]

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..run.request import Run

SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = ("id", "created_at", "model", "endpoint", "text", "finish_reason", "prompt_tokens",
           "completion_tokens", "cost", "latency", "generation_id", "error", "error_type", "status",
           "cached", "notebook", "cell", "session", "base_url", "request", "response") + CHAT_COLUMNS \
    + SWEEP_COLUMNS


class History:
    """One database file.  Thread-safe: writes from a sweep's workers are serialised."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: explicit transactions, so each run is committed on its own.
        self._db = sqlite3.connect(self.path, timeout=BUSY_WAIT, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes
        self._db.create_function("pylower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True)
        migrate(self._db)
        self.backlog = Backlog(lambda row: self._insert([row])[0], self.path)  # rows that met a lock, written later

    def __repr__(self) -> str:
        return f"<or_magic.History {self.path}>"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, run: "Run", base_url: str, key: str | None = None) -> int:
        """Store one run (finished, failed or cached) and return its row id; 0 when the database
        is locked by another process: the row is then queued and written when the lock clears."""
        return self.record_rows([run_row(run, base_url, key)])[0]

    def record_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        """Store rows (`run_row`s) in one transaction, in order; their ids, 0 for each row queued
        because the database is locked (then all of them are, to keep the history's order)."""
        rows = [{name: valid_unicode(v) if isinstance(v, str) else v for name, v in row.items()} for row in rows]
        if not len(self.backlog):  # rows already waiting go first, so the history keeps its order
            try:
                return self._insert(rows)
            except sqlite3.OperationalError as exc:
                if not is_locked(exc):
                    raise
        for row in rows:
            self.backlog.add(row)
        return [0] * len(rows)

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows in one transaction (one commit: most of what a row cost when each had its
        own); returns their ids.  A single row is one autocommitted INSERT: the same transaction
        and lock wait (BUSY_WAIT) as BEGIN IMMEDIATE … COMMIT, in one statement instead of three."""
        with self._lock:
            if len(rows) == 1:
                return [self._insert_one(rows[0])]
            self._db.execute("BEGIN IMMEDIATE")  # waits BUSY_WAIT for another writer, then raises
            try:
                ids = [self._insert_one(row) for row in rows]
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return ids

    def _insert_one(self, row: dict[str, Any]) -> int:
        sql = f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        return int(self._db.execute(sql, list(row.values())).lastrowid or 0)

    def response(self, record_id: int | None) -> str | None:
        """The stored answer (JSON text) of row `record_id`: a released run's `raw` (run/request.py)."""
        with self._lock:
            found = self._db.execute("SELECT response FROM runs WHERE id = ?", (record_id,)).fetchone()
        return found[0] if found else None

    def cached_responses(self, request_hash: str, limit: int = 5) -> list[str]:
        """The newest stored answers (JSON text, unchecked) to an identical successful request."""
        with self._lock:
            found = self._db.execute(
                "SELECT response FROM runs WHERE request_hash = ? AND error IS NULL AND response IS NOT NULL "
                "AND COALESCE(finish_reason, '') != 'cancelled' "
                "ORDER BY id DESC LIMIT ?", (request_hash, limit)).fetchall()
        return [row[0] for row in found]

    def query(self, where: str = "", args: tuple[Any, ...] = (), limit: int | None = None) -> list[tuple[Any, ...]]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of any query (store/sweeps.py reads the sweeps table through this)."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """One statement, committed before this returns (a sweep's plan must be on disk before its
        first request, whatever transaction the run rows are being written in)."""
        with self._lock:
            self._db.execute(sql, args)
            if self._db.in_transaction:
                self._db.commit()

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, one migration per transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"the history database has schema version {version}, newer than this "
                           f"or_magic ({SCHEMA_VERSION}); upgrade or_magic or set another history_path")
    for number in range(version, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another kernel may have migrated meanwhile.
            if db.execute("PRAGMA user_version").fetchone()[0] == number:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


_open: dict[Path, History] = {}
_open_lock = threading.Lock()


_by_given: dict[str, History] = {}  # the same lookup keyed by the path as given: no syscalls per run


def open_history(path: str | os.PathLike[str]) -> History:
    """The process-wide History for this file (opened once, then reused)."""
    given = os.fspath(path)
    history = _by_given.get(given)
    if history is not None:
        return history
    resolved = Path(path).expanduser().resolve()
    with _open_lock:
        history = _open.get(resolved)
        if history is None:
            history = _open[resolved] = History(resolved)
        _by_given[given] = history
        return history
