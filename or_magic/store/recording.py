"""The history hook of a call: every run written to the run log (runlog.py), never raising.

A single run is committed as it finishes, before it is displayed.  A sweep's runs are batched
(`Recorder(batched=True)`): each becomes its row as it finishes and the rows are committed
together when the sweep flushes (run/parallel.py: every FLUSH_ROWS rows or FLUSH_SECONDS, at its
end and on an interrupt), and a run is handed on to be displayed only after its flush.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .rows import run_context, run_row
from .runlog import History, open_history, resolve_path

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..run.request import Run


class Recorder:
    """The history hook of a call: `rec(run)` records a run, never raising (see `recorder`).

    Batched (a sweep's): `rec(run)` only turns the run into its row (on the loop thread, as the
    run finishes) and `flush()` commits every row kept so far in one transaction, setting each
    run's `record_id`.  The sweep (run/parallel.py) flushes every FLUSH_ROWS rows or FLUSH_SECONDS,
    at its end, and on an interrupt, and hands runs on to be displayed only after their flush.
    """

    def __init__(self, history: "History | None", path: Path, base_url: str, key: str | None,
                 batched: bool) -> None:
        self.history, self.path, self.base_url, self._key, self.batched = history, path, base_url, key, batched
        self._pending: list[tuple["Run", dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._context = run_context() if batched else None  # one cell for the whole sweep
        self._stored = StoredAnswers(path)

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"<or_magic.Recorder {self.path}>"

    def __call__(self, run: "Run") -> None:
        if self.history is None:
            return
        if not self.batched:
            try:
                run.record_id = self.history.record(run, self.base_url, self._key)
            except Exception as exc:  # noqa: BLE001 - recording must never cost the user the answer
                self.history = _cannot_record(self.path, exc)
            return
        try:
            row = run_row(run, self.base_url, self._key, self._context)
        except Exception as exc:  # noqa: BLE001
            self.history = _cannot_record(self.path, exc)
            return
        run.compact(row["response"])  # the text just made for the history: not serialised twice
        with self._lock:
            self._pending.append((run, row))

    def flush(self) -> None:
        """Commit the kept rows (no-op when none); never raises."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending or self.history is None:
            return
        try:
            ids = self.history.record_rows([row for _, row in pending])
        except Exception as exc:  # noqa: BLE001
            self.history = _cannot_record(self.path, exc)
            return
        for (run, _), record_id in zip(pending, ids):
            run.record_id = record_id
            run.release(self._stored)  # committed: `raw` is read back from its row when asked


class StoredAnswers:
    """Where a released run's answer body is (run/request.py `Run.release`): the history file,
    by path, so a run stays copyable and picklable (a History holds a connection and a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<or_magic.StoredAnswers {self.path}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> "StoredAnswers":
        return self  # nothing mutable: copies of a run read the same row

    def response(self, record_id: int | None) -> str | None:
        return open_history(self.path).response(record_id)


def recorder(settings: "Settings", batched: bool = False) -> Recorder | None:
    """A hook that writes a run to the history and never raises (None when history is off);
    `batched`: rows wait for `flush()` (a sweep's, see `Recorder`).

    A history that cannot be written (read-only disk, full disk, a locked file, text SQLite
    refuses) must not cost the answer itself: the problem is reported once on stderr and the
    run goes on to be displayed."""
    if not getattr(settings, "history", True):
        return None
    path = resolve_path(settings)
    try:
        history: History | None = open_history(path)
    except Exception as exc:  # noqa: BLE001 - an unusable history is a notice, never a lost answer
        history = _cannot_record(path, exc)
    return Recorder(history, history.path if history else path, settings.resolved_base_url(),
                    settings.api_key(), batched)


def recording(settings: "Settings", on_done: Callable[["Run"], None] | None,
              record: Callable[["Run"], None] | None = None) -> Callable[["Run"], None] | None:
    """`on_done`, preceded by writing the run to the history (`record`, default `recorder(settings)`)."""
    record = record if record is not None else recorder(settings)
    if record is None or on_done is None:
        return record if record is not None else on_done

    def hook(run: "Run") -> None:
        record(run)
        on_done(run)

    return hook


def _cannot_record(path: Path, exc: Exception) -> None:
    print(f"or_magic: cannot write the run history at {path} ({type(exc).__name__}: {exc}); runs are shown but not recorded. "
          "Set %config OpenRouterMagics.history_path (or OR_MAGIC_HOME) to a writable place",
          file=sys.stderr, flush=True)
    return None
