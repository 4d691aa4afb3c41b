"""Progress of a sweep: done / failed counts and running cost.

In a Jupyter kernel it is an ipywidgets bar (imported only then); elsewhere one text line on
stderr, rewritten in place at most every 0.2 s.  Updates come from the thread that waits for
the sweep (the kernel's main thread), never from the sweep's own event loop.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from ..core.money import format_cost
from ..core.shell import in_kernel

TEXT_INTERVAL = 0.2  # seconds between text redraws


class Progress(Protocol):
    def update(self, done: int, failed: int, cost: float | None) -> None: ...

    def close(self, note: str = "") -> None: ...


def status_text(done: int, total: int, failed: int, cost: float | None) -> str:
    return f"sweep {done}/{total} · {failed} failed · {format_cost(cost)}"


class NoProgress:
    def update(self, done: int, failed: int, cost: float | None) -> None:
        pass

    def close(self, note: str = "") -> None:
        pass


class TextProgress:
    """One line on stderr: `sweep 12/64 · 1 failed · $0.0012`."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self._shown_at = 0.0
        self._line = status_text(0, total, 0, None)

    def update(self, done: int, failed: int, cost: float | None) -> None:
        self._line = status_text(done, self.total, failed, cost)
        now = time.monotonic()
        if now - self._shown_at >= TEXT_INTERVAL:
            self._shown_at = now
            self.stream.write("\r" + self._line)
            self.stream.flush()

    def close(self, note: str = "") -> None:
        self.stream.write("\r" + self._line + (f" · {note}" if note else "") + "\n")
        self.stream.flush()


class WidgetProgress:
    """An ipywidgets bar with a label, shown in the cell's output; when the sweep ends it is
    replaced by its final status line as plain text, so a saved notebook shows the final state
    and no widget that no longer exists ("Error displaying widget", or a stale HBox repr)."""

    def __init__(self, total: int) -> None:
        import ipywidgets
        from IPython.display import display

        self.total = total
        # The label says "sweep"; the bar has no description, so the word is not shown twice.
        self.bar = ipywidgets.IntProgress(value=0, min=0, max=total)
        self.label = ipywidgets.Label(status_text(0, total, 0, None))
        self.box = ipywidgets.HBox([self.bar, self.label])
        self.handle = display(self.box, display_id=True)

    def update(self, done: int, failed: int, cost: float | None) -> None:
        self.bar.value = done
        self.label.value = status_text(done, self.total, failed, cost)
        if failed:
            self.bar.bar_style = "warning"

    def close(self, note: str = "") -> None:
        from IPython.display import Pretty

        self.line = self.label.value + (f" · {note}" if note else "")
        if self.handle is not None:
            self.handle.update(Pretty(self.line))
        self.box.close()
        self.bar.close()
        self.label.close()


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
