"""Reading the run history back: `or_magic.history(...)` (and `%openrouter history [filters]`,
whose line notebook/lineparse.py reads).

Filters (all optional, combined with AND)::

    --model TEXT    model id contains TEXT (case-insensitive)
    --grep TEXT     the request or the answer text contains TEXT
    --since WHEN    runs started at or after WHEN: 2026-11-01, 2026-11-01T14:30, or 2h / 3d / 30m ago
    --until WHEN    runs started before WHEN (same forms)
    --errors        only failed runs
    --chat NAME     only the turns of conversation NAME (every branch; see the turn and branch columns)
    --limit N       at most N rows (default 100; 0 = all)

    --full          every column (request and response JSON, ids, session...), not the compact view

Newest first.  The compact default is what a person scans: the local time to the second, the
model, the first line of the text, tokens (prompt+completion), cost, the error's first line and
the cell (the `In[n]` it ran in), indexed by the run's id; `full=True` gives every stored column
with exact timestamps.  Times are shown in local time.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import ConfigError, InvalidOption
from .runlog import COLUMNS, open_history, resolve_path

if TYPE_CHECKING:
    import pandas as pd

    from ..core.settings import Settings

DEFAULT_LIMIT = 100
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str, now: float | None = None) -> float:
    """Epoch seconds for an ISO date/time (local time unless it has an offset) or `N[smhdw]` ago."""
    text = str(text).strip()
    ago = _AGO.match(text)
    if ago:
        return (time.time() if now is None else now) - float(ago.group(1)) * _UNITS[ago.group(2)]
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        raise InvalidOption(f"{text!r} is not a time: use a date like 2026-11-01, a date-time like "
                            "2026-11-01T14:30, or an age like 2h, 3d") from None


def history(model: str | None = None, grep: str | None = None, since: str | float | None = None,
            until: str | float | None = None, errors: bool = False, limit: int | None = DEFAULT_LIMIT,
            settings: "Settings | None" = None, chat: str | None = None, full: bool = False) -> "pd.DataFrame":
    """Past runs of this and earlier sessions as a DataFrame, newest first: the compact view, or
    every column with `full=True`."""
    import pandas as pd

    from ..core.settings import Settings

    where, args = _where(model, grep, since, until, errors)
    if chat is not None:
        where, args = (f"{where} AND" if where else "WHERE") + " conversation = ?", args + [chat]
    if limit is not None and limit < 0:
        raise InvalidOption(f"limit={limit}: must be ≥ 0 (0 = all rows)")
    path = resolve_path(settings or Settings())
    try:
        rows = open_history(path).query(where, tuple(args), limit or None)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise ConfigError(f"the run history at {path} cannot be read ({type(exc).__name__}: {exc}); move the "
                          "file aside, or set %config OpenRouterMagics.history_path (or OR_MAGIC_HOME)") from None
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s", utc=True).dt.tz_convert(_local_zone())
    frame["cached"] = frame["cached"].astype(bool)
    # a conversation's turns keep their turn and branch columns in the compact view too
    return frame if full else compact(frame, ("turn", "branch") if chat else ())


COMPACT_COLUMNS = ["time", "model", "text", "tokens", "cost", "error", "cell"]


def compact(frame: "pd.DataFrame", extra: Sequence[str] = ()) -> "pd.DataFrame":
    """The default view of a full history frame (see the module docstring)."""
    import pandas as pd

    def first_line(value: Any) -> Any:
        return str(value).strip().split("\n", 1)[0] if isinstance(value, str) else ""

    def tokens(row: Any) -> str:
        p, c = row["prompt_tokens"], row["completion_tokens"]
        return "" if pd.isna(p) and pd.isna(c) else f"{'?' if pd.isna(p) else int(p)}+{'?' if pd.isna(c) else int(c)}"

    view = pd.DataFrame({
        "time": frame["created_at"].dt.floor("s").dt.tz_localize(None),  # local, to the second
        "model": frame["model"],
        "text": frame["text"].map(first_line),
        "tokens": frame.apply(tokens, axis=1) if len(frame) else pd.Series(dtype=str),
        "cost": frame["cost"],
        "error": frame["error"].map(first_line),
        "cell": frame["cell"].astype("Int64"),
        **{name: frame[name] for name in extra},
    }, columns=[*COMPACT_COLUMNS, *extra])
    view.index = pd.Index(frame["id"], name="id")
    return view


def _where(model: str | None, grep: str | None, since: Any, until: Any, errors: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if model:
        clauses.append("pylower(model) LIKE ? ESCAPE '\\'")
        args.append(f"%{_like(model.lower())}%")
    if grep:
        # SQLite's lower() folds ASCII only; pylower (registered by History) folds like Python.
        clauses.append("(instr(pylower(coalesce(text, '')), ?) > 0 OR instr(pylower(coalesce(request, '')), ?) > 0)")
        args += [grep.lower(), grep.lower()]
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            clauses.append(f"created_at {op} ?")
            args.append(float(bound) if isinstance(bound, (int, float)) else parse_when(bound))
    if errors:
        clauses.append("error IS NOT NULL")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _local_zone() -> Any:
    return datetime.now().astimezone().tzinfo
