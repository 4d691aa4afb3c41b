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

import hashlib
import json
import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..core.coerce import valid_unicode
from ..core.shell import cell_number, current_shell
from ..wire import answers
from .backlog import BUSY_WAIT, Backlog, is_locked
from .history_path import HOME_ENV, default_path, resolve_path  # noqa: F401 - the history's home, re-exported
from .schema import MIGRATIONS

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..run.request import Run

SCHEMA_VERSION = len(MIGRATIONS)

CHAT_COLUMNS = ("conversation", "turn", "parent_run", "branch")  # from `Run.chat`
SWEEP_COLUMNS = ("sweep_id", "grid_index")  # from `Run.sweep_id` and `Run.index`
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
        self.backlog = Backlog(self._insert, self.path)  # rows that met a lock, written later

    def __repr__(self) -> str:
        return f"<or_magic.History {self.path}>"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, run: "Run", base_url: str, key: str | None = None) -> int:
        """Store one run (finished, failed or cached) and return its row id; 0 when the database
        is locked by another process: the row is then queued and written when the lock clears."""
        row = {name: valid_unicode(v) if isinstance(v, str) else v for name, v in run_row(run, base_url, key).items()}
        if len(self.backlog):  # rows already waiting go first, so the history keeps its order
            self.backlog.add(row)
            return 0
        try:
            return self._insert(row)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            self.backlog.add(row)
            return 0

    def _insert(self, row: dict[str, Any]) -> int:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            cursor = self._db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(row.values()))
        return int(cursor.lastrowid or 0)

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


def request_hash(base_url: str, endpoint: str, body: Mapping[str, Any]) -> str:
    """The cache key of a request.  Streaming is how the answer travels, not what it is."""
    same = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    text = _HASHED.encode([base_url.rstrip("/"), endpoint, same])
    return hashlib.sha256(text.encode()).hexdigest()


def scrub(text: str | None, key: str | None) -> str | None:
    return answers.scrub(text, key) if text else text


def run_row(run: "Run", base_url: str, key: str | None) -> dict[str, Any]:
    """The columns of one run, every text scrubbed of the key."""
    body = run.spec.body()
    done = run.completion
    notebook, cell, session = run_context()
    return {
        "created_at": run.started_at, "base_url": base_url, "endpoint": run.spec.endpoint,
        "model": run.spec.model, "request": scrub(_json(body), key),
        "request_hash": request_hash(base_url, run.spec.endpoint, body),
        "response": scrub(_json(run.raw), key) if run.raw is not None else None,
        "text": scrub(run.text, key), "finish_reason": done.finish_reason if done else None,
        "prompt_tokens": done.prompt_tokens if done else None,
        "completion_tokens": done.completion_tokens if done else None,
        "cost": done.cost if done else None, "latency": run.latency,
        "generation_id": done.generation_id if done else None,
        "error": scrub(str(run.error), key) if run.error is not None else None,
        "error_type": type(run.error).__name__ if run.error is not None else None,
        "status": getattr(run.error, "status", None), "cached": int(run.cached),
        "session": session, "notebook": notebook, "cell": cell,
        **{name: (run.chat or {}).get(name) for name in CHAT_COLUMNS},
        "sweep_id": run.sweep_id, "grid_index": run.index if run.sweep_id is not None else None,
    }


# json.dumps(value, **options) builds an encoder per call; these are the same encoders, made once.
_HASHED = json.JSONEncoder(sort_keys=True, default=str)
_STORED = json.JSONEncoder(ensure_ascii=False, default=str)


def _json(value: Any) -> str:
    return _STORED.encode(value)


def run_context() -> tuple[str | None, int | None, str | None]:
    """(notebook path, cell execution count, session name) when running in IPython/Jupyter."""
    shell = current_shell()
    notebook = cell = None
    if shell is not None:
        notebook = shell.user_ns.get("__session__") or shell.user_ns.get("__vsc_ipynb_file__")
        cell = cell_number(shell)  # the In[n] the user saw
    session = os.environ.get("JPY_SESSION_NAME")
    return (str(notebook) if notebook else session), cell, session


def recorder(settings: "Settings") -> Callable[["Run"], None] | None:
    """A hook that writes a run to the history and never raises (None when history is off).

    A history that cannot be written (read-only disk, full disk, a locked file, text SQLite
    refuses) must not cost the answer itself: the problem is reported once on stderr and the
    run goes on to be displayed."""
    if not getattr(settings, "history", True):
        return None
    base_url = settings.resolved_base_url()
    try:
        history: History | None = open_history(resolve_path(settings))
    except Exception as exc:  # noqa: BLE001 - an unusable history is a notice, never a lost answer
        history = _cannot_record(resolve_path(settings), exc)

    def record(run: "Run") -> None:
        nonlocal history
        if history is not None:
            try:
                run.record_id = history.record(run, base_url, settings.api_key())
            except Exception as exc:  # noqa: BLE001 - recording must never cost the user the answer
                history = _cannot_record(history.path, exc)

    return record


def recording(settings: "Settings", on_done: Callable[["Run"], None] | None,
              record: Callable[["Run"], None] | None = None) -> Callable[["Run"], None] | None:
    """`on_done`, preceded by writing the run to the history (`record`, default `recorder(settings)`)."""
    record = record or recorder(settings)
    if record is None or on_done is None:
        return record or on_done

    def hook(run: "Run") -> None:
        record(run)
        on_done(run)

    return hook


def _cannot_record(path: Path, exc: Exception) -> None:
    print(f"or_magic: cannot write the run history at {path} ({type(exc).__name__}: {exc}); runs are shown but not recorded. "
          "Set %config OpenRouterMagics.history_path (or OR_MAGIC_HOME) to a writable place",
          file=sys.stderr, flush=True)
    return None
