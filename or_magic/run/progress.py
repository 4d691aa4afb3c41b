"""Progress of a sweep, drawn by tqdm: done/total, rate, elapsed and ETA, with the failed count and
the running cost in its postfix (`sweep:  40%|████      | 4/10 [00:01<00:02, 3.1run/s, 1 failed · $0.0012]`).

In a Jupyter kernel it is tqdm's notebook bar (ipywidgets), replaced by its final line as plain
text when the sweep ends; elsewhere tqdm's text bar on stderr.  These are the two bars `tqdm.auto`
chooses between, but chosen here per sweep with or_magic's own `in_kernel()`: tqdm.auto decides
once per process, at import, from whether ipykernel happens to be loaded.  Updates come from the
thread that waits for the sweep (the kernel's main thread), never from the sweep's event loop, and
are cheap: tqdm redraws at most every `REDRAW` seconds, and the postfix text is rebuilt only when
the failed count or the cost changed.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Protocol

from ..core.money import format_cost
from ..core.shell import in_kernel

REDRAW = 0.2  # seconds between redraws at most (tqdm's mininterval)


class Progress(Protocol):
    def update(self, done: int, failed: int, cost: float | None) -> None: ...

    def close(self, note: str = "") -> None: ...


def postfix(failed: int, cost: float | None, note: str = "") -> str:
    """The bar's postfix: `1 failed · $0.0012` (the footer's cost format), then the close note."""
    return f"{failed} failed · {format_cost(cost)}" + (f" · {note}" if note else "")


@functools.cache
def _bar_class(kind: str) -> Any:
    """tqdm's text ("std") or notebook bar, without tqdm's monitor thread: redraws are driven by
    every update (miniters=1), so nothing needs waking up to catch a stalled bar."""
    if kind == "notebook":
        from tqdm.notebook import tqdm as base
    else:
        from tqdm.std import tqdm as base
    return type(f"Sweep{kind.title()}Bar", (base,), {"monitor_interval": 0})


def _options(total: int) -> dict[str, Any]:
    return {"total": total, "desc": "sweep", "unit": "run", "mininterval": REDRAW, "miniters": 1,
            "leave": True, "postfix": postfix(0, None)}


def _width(stream: Any) -> dict[str, Any]:
    """tqdm sizes its text bar to the terminal; a terminal that reports no size (a pty nobody sized:
    `script` or `docker exec -t` without a terminal around it) would get an empty line, no bar at
    all (tqdm 4.70 takes its 0x0 as -1 columns and -1 rows, and hides a bar past the last row),
    so it gets the classic 80x24."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # not a terminal: tqdm's own default
        return {}
    return {"ncols": 80, "nrows": 24} if columns <= 1 else {}


class NoProgress:
    def update(self, done: int, failed: int, cost: float | None) -> None:
        pass

    def close(self, note: str = "") -> None:
        pass


class TextProgress:
    """tqdm's text bar on stderr (or `stream`), rewritten in place; it stays as the last state."""

    def __init__(self, total: int, stream: Any = None) -> None:
        stream = stream or sys.stderr
        self.bar = _bar_class("std")(file=stream, **_options(total), **_width(stream))
        self._state: tuple[int, float | None] = (0, None)

    def update(self, done: int, failed: int, cost: float | None) -> None:
        if (failed, cost) != self._state:
            self._state = (failed, cost)
            self.bar.set_postfix_str(postfix(failed, cost), refresh=False)  # drawn by the next redraw
        self.bar.update(done - self.bar.n)

    def close(self, note: str = "") -> None:
        if note:
            self.bar.set_postfix_str(postfix(*self._state, note), refresh=False)
        self.bar.close()  # draws the last state and ends the line


class WidgetProgress(TextProgress):
    """tqdm's notebook bar in the cell's output; when the sweep ends it is replaced by its final
    line as plain text, so a saved notebook shows the final state and no widget that no longer
    exists ("Error displaying widget", or a stale widget repr).  tqdm is told not to display the
    bar itself (`display=False`): it is shown here with a display id, which `close` updates."""

    def __init__(self, total: int) -> None:
        from IPython.display import display

        # raises ImportError without ipywidgets (tqdm.notebook imports without it, the bar does not)
        self.bar = _bar_class("notebook")(display=False, **_options(total))
        self._state = (0, None)
        self.handle = display(self.bar.container, display_id=True)
        self.line = ""

    def update(self, done: int, failed: int, cost: float | None) -> None:
        if failed and not self._state[0]:
            self.bar.container.children[1].bar_style = "warning"  # some runs failed; tqdm's own
        super().update(done, failed, cost)  # styles ("danger", "success") come only at close

    def close(self, note: str = "") -> None:
        from IPython.display import Pretty

        super().close(note)
        info = {**self.bar.format_dict, "rate": None}  # rate None: the whole sweep's average, as text
        self.line = self.bar.format_meter(**info)
        if self.handle is not None:
            self.handle.update(Pretty(self.line))
        for widget in (*self.bar.container.children, self.bar.container):
            widget.close()


def make_progress(total: int, enabled: bool = True) -> Progress:
    """The progress display for a sweep of `total` runs (none for a single run)."""
    if not enabled or total <= 1:
        return NoProgress()
    if in_kernel():
        try:
            return WidgetProgress(total)
        except ImportError:
            pass
    return TextProgress(total)
