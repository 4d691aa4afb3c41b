"""The sweeps table: each sweep's recorded plan, and which of its runs finished.

A sweep (a call of more than one run) is written here before its first request, with everything
needed to plan the same runs again (run/sweepdef.py makes that record and its fingerprint).  Its
runs' rows carry `sweep_id` and `grid_index` (their position in the grid), so what a resume may
skip is one indexed query (`finished_rows`), however large the sweep.

A run counts as finished when its row holds a successful answer: no error, a response, and not
cut off by an interrupt.  Failed, cancelled and budget-skipped runs are sent again by a resume.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from .rows import scrub
from .runlog import History

if TYPE_CHECKING:
    import pandas as pd

# The same test as the cache's: a row whose answer can stand in for sending the request again.
SUCCEEDED = "error IS NULL AND response IS NOT NULL AND COALESCE(finish_reason, '') != 'cancelled'"
_FIELDS = "id, created_at, size, axes, prompt, options, fingerprint, base_url, notebook, models"


@dataclass
class SweepRecord:
    """One row of the sweeps table."""

    id: str
    size: int
    fingerprint: str
    prompt: str
    options: dict[str, Any]  # run/sweepdef.py's definition: models, params, vars items, ...
    axes: list[str] = field(default_factory=list)
    base_url: str = ""
    notebook: str | None = None
    models: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> "SweepRecord":
        sweep_id, created_at, size, axes, prompt, options, fingerprint, base_url, notebook, models = row
        return cls(id=sweep_id, created_at=created_at, size=size, axes=json.loads(axes or "[]"), prompt=prompt or "",
                   options=json.loads(options or "{}"), fingerprint=fingerprint, base_url=base_url or "",
                   notebook=notebook, models=json.loads(models or "[]"))


class FinishedRow(NamedTuple):
    """What a resume needs of a finished run's row to rebuild it."""

    record_id: int
    created_at: float
    latency: float | None
    response: str
    cost: float | None
    cached: bool


def new_sweep_id() -> str:
    """`sw-` and 8 random hex digits: short enough to type in `--resume sw-1a2b3c4d`."""
    return "sw-" + secrets.token_hex(4)


def record_sweep(history: History, sweep: SweepRecord, key: str | None) -> None:
    """Write the sweep's plan (committed at once, before any of its requests); texts scrubbed of the key."""
    def text(value: Any) -> str | None:
        return scrub(json.dumps(value, ensure_ascii=False, default=str), key)

    history.write(f"INSERT INTO sweeps ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (sweep.id, sweep.created_at, sweep.size, text(sweep.axes), scrub(sweep.prompt, key),
                   text(sweep.options), sweep.fingerprint, sweep.base_url, sweep.notebook, text(sweep.models)))


def get_sweep(history: History, sweep_id: str) -> SweepRecord | None:
    rows = history.read(f"SELECT {_FIELDS} FROM sweeps WHERE id = ?", (sweep_id,))
    return SweepRecord.from_row(rows[0]) if rows else None


def newest_with_fingerprint(history: History, fingerprint: str) -> SweepRecord | None:
    rows = history.read(f"SELECT {_FIELDS} FROM sweeps WHERE fingerprint = ? ORDER BY created_at DESC LIMIT 1",
                        (fingerprint,))
    return SweepRecord.from_row(rows[0]) if rows else None


def newest_like(history: History, prompt: str, notebook: str | None) -> SweepRecord | None:
    """The newest sweep of the same prompt text, else of the same notebook: what a cell that no
    longer matches most likely was (to say what changed)."""
    for where, arg in (("prompt = ?", prompt), ("notebook = ?", notebook)):
        if arg is None:
            continue
        rows = history.read(f"SELECT {_FIELDS} FROM sweeps WHERE {where} ORDER BY created_at DESC LIMIT 1", (arg,))
        if rows:
            return SweepRecord.from_row(rows[0])
    return None


def finished_rows(history: History, sweep_id: str) -> dict[int, FinishedRow]:
    """Grid index → the newest successful row of that run: one query on the (sweep_id,
    grid_index) index, for a sweep of any size."""
    rows = history.read(f"SELECT grid_index, id, created_at, latency, response, cost, cached FROM runs "
                        f"WHERE sweep_id = ? AND {SUCCEEDED} ORDER BY id", (sweep_id,))
    return {index: FinishedRow(record_id, created, latency, response, cost, bool(cached))
            for index, record_id, created, latency, response, cost, cached in rows}


LIST_COLUMNS = ["sweep", "created", "notebook", "models", "size", "finished", "failed", "missing", "resume"]


def sweep_table(history: History, everything: bool = False) -> "pd.DataFrame":
    """The sweeps, newest first, with their counts: `finished` runs have a successful row,
    `failed` ones only rows that failed (or were skipped), `missing` ones no row at all (the
    runs in flight or not started when the sweep stopped).  Only unfinished sweeps unless
    `everything`."""
    import pandas as pd

    rows = history.read(
        f"SELECT s.id, s.created_at, s.notebook, s.models, s.size, "
        f"(SELECT COUNT(DISTINCT grid_index) FROM runs r WHERE r.sweep_id = s.id AND {SUCCEEDED}), "
        f"(SELECT COUNT(DISTINCT grid_index) FROM runs r WHERE r.sweep_id = s.id) "
        f"FROM sweeps s ORDER BY s.created_at DESC")
    table = []
    for sweep_id, created, notebook, models, size, finished, tried in rows:
        if finished >= size and not everything:
            continue
        table.append([sweep_id, datetime.fromtimestamp(created).replace(microsecond=0), notebook,  # local time
                      ", ".join(json.loads(models or "[]")), size, finished, tried - finished, size - tried,
                      f"or_magic.resume({sweep_id!r})" if finished < size else ""])
    return pd.DataFrame(table, columns=LIST_COLUMNS)
