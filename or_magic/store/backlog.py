"""Rows that met a locked history database, written by a background thread once the lock clears.

Another process holding a write transaction (a second kernel mid-migration, a `sqlite3` shell
left in BEGIN) would otherwise stall every cell for sqlite's busy timeout and then drop the run.
The history waits only `BUSY_WAIT` seconds; a row still blocked then is queued here, in order,
and retried off the display path until it lands (an exit waits a little for it too).
"""

from __future__ import annotations

import atexit
import collections
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

BUSY_WAIT = 1.0  # seconds sqlite waits for a lock before a row is queued instead
RETRY_EVERY = 0.25  # seconds between attempts to write the queued rows
EXIT_WAIT = 5.0  # seconds an exiting interpreter waits for queued rows


def is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class Backlog:
    """Queued rows and the thread that writes them with `write(row)` (which may raise `is_locked`)."""

    def __init__(self, write: Callable[[dict[str, Any]], int], path: Path) -> None:
        self._write, self.path = write, path
        self._rows: collections.deque[dict[str, Any]] = collections.deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._told = False
        atexit.register(self.flush, EXIT_WAIT)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.append(row)
            if not self._told:
                self._told = True
                print(f"or_magic: the run history at {self.path} is locked by another process; runs are "
                      "shown now and written when it is free", file=sys.stderr, flush=True)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="or_magic-history", daemon=True)
                self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the queued rows; True when none is left."""
        end = time.monotonic() + timeout
        while self._rows and time.monotonic() < end:
            time.sleep(min(RETRY_EVERY, max(0.0, end - time.monotonic())))
        return not self._rows

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._rows:
                    self._thread = None
                    return
                row = self._rows[0]
            try:
                self._write(row)
            except Exception as exc:  # noqa: BLE001 - still locked: wait; anything else: say so once, drop
                if not is_locked(exc):
                    print(f"or_magic: a queued run could not be written to {self.path} ({exc})",
                          file=sys.stderr, flush=True)
                    with self._lock:
                        self._rows.popleft()
                time.sleep(RETRY_EVERY)
                continue
            with self._lock:
                self._rows.popleft()
                self._told = self._told and bool(self._rows)
