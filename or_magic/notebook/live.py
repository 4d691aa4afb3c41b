"""Showing a streamed answer while it arrives, in a Jupyter kernel or a terminal IPython.

`LiveText` is the `on_text` hook the magic passes for a single streamed run.  The first piece
is shown at once (first text matters most); after that, updates are coalesced to at most
`MAX_UPDATES_PER_SECOND`, so a 4,000-token answer costs the front end a few dozen messages,
not thousands.  Text that arrives within one interval waits for the next piece (or the end).

When the stream ends, what is on screen becomes exactly the non-streamed rendering:
- kernel: the live output is a `display_data` with a display id, created empty and updated in
  place; at the end it is cleared (`clear_output(wait=True)`, so nothing flickers) and the magic's return value is
  displayed as usual, so the saved notebook holds one output, the same `execute_result` a
  non-streamed run leaves;
- terminal: new text is written to stdout as it comes; at the end the rest of the result's
  plain rendering (the footer) is written, and the displayhook is told not to print the result
  a second time (it is still stored as `_` / `Out[n]` and is still the cell's value).
If the run fails, the partial text stays on screen above the error.

A reasoning model's thinking (`delta.reasoning`, passed to `LiveText.reasoning` by the stream
reader) is shown apart from the answer: open and dimmed above it in a kernel, faint in a terminal.
It is not part of `text`; the final rendering keeps it collapsed (analysis/reasoning_view.py).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from ..analysis.reasoning_view import DIM, RESET, reasoning_html, reasoning_plain
from ..analysis.result import text_html
from ..core.shell import in_kernel

MAX_UPDATES_PER_SECOND = 15


class LiveText:
    """Coalesces streamed pieces and hands them to a display backend."""

    def __init__(self, backend: "KernelBackend | TerminalBackend", *,
                 interval: float = 1 / MAX_UPDATES_PER_SECOND, clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.interval = interval
        self.clock = clock
        self.text = ""  # what has been shown so far
        self.thought = ""  # the reasoning shown so far (set apart from the text)
        self._pending_thought: list[str] = []
        self.updates = 0  # how many times the display was updated
        self._pending: list[str] = []
        self._last = float("-inf")

    @classmethod
    def for_shell(cls, shell: Any) -> "LiveText":
        """The right backend for this shell: a kernel (Jupyter) or a terminal."""
        backend = KernelBackend() if in_kernel(shell) else TerminalBackend(shell)
        return cls(backend)

    @property
    def started(self) -> bool:
        return self.updates > 0

    def __call__(self, piece: str) -> None:
        self._pending.append(piece)
        self._maybe_flush()

    def reasoning(self, piece: str) -> None:
        """A piece of the model's reasoning (streamed before or between the answer's pieces)."""
        self._pending_thought.append(piece)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self._flush()

    def _flush(self) -> None:
        if not self._pending and not self._pending_thought:
            return
        new, new_thought = "".join(self._pending), "".join(self._pending_thought)
        self._pending.clear()
        self._pending_thought.clear()
        self.text += new
        self.thought += new_thought
        self.updates += 1
        if new_thought:
            self.backend.think(self.thought, new_thought)
        if new:
            self.backend.show(self.text, new)

    def finish(self, result: Any) -> None:
        """The stream is over: turn the live output into the result's own rendering."""
        if self._pending_thought:  # reasoning is not in the final rendering: show all of it first
            self._flush()
        if self.started:
            self.backend.finish(result, self.text)

    def abandon(self) -> None:
        """The run failed or was stopped: leave the partial text on screen."""
        self._flush()
        if self.started:
            self.backend.abandon()


class KernelBackend:
    """One display_data output with a display id, updated in place."""

    def __init__(self, display: Callable[..., Any] | None = None, update: Callable[..., Any] | None = None,
                 clear: Callable[..., Any] | None = None) -> None:
        if display is None or update is None or clear is None:
            from IPython.display import clear_output, update_display
            from IPython.display import display as ipy_display

            display, update, clear = display or ipy_display, update or update_display, clear or clear_output
        self._display, self._update, self._clear = display, update, clear
        self._id: str | None = None
        self._text = self._thought = ""

    def think(self, thought: str, new: str) -> None:
        self._thought = thought
        self._render()

    def show(self, text: str, new: str) -> None:
        self._text = text
        self._render()

    def _render(self) -> None:
        if self._id is None:
            # Created empty and filled by updates: tools that record only display_data and
            # execute_result messages (nbval) then see nothing but the final result.
            self._id = self._display({}, raw=True, display_id=True).display_id
        # The same HTML as the finished result's (text_html), so the font and wrapping do not
        # jump from monospace to proportional when the stream ends; reasoning sits above it, open
        # and dimmed while it streams (the final rendering collapses it).
        data = {"text/plain": reasoning_plain(self._thought) + self._text, "text/html": text_html(self._text)}
        if self._thought:
            data["text/html"] = reasoning_html(self._thought, open_=True) + data["text/html"]
        self._update(data, raw=True, display_id=self._id)

    def finish(self, result: Any, shown: str) -> None:
        # Cleared when the next output (the result's execute_result) arrives: no flicker, and
        # the notebook keeps only that one output.
        self._clear(wait=True)

    def abandon(self) -> None:
        pass  # the display already holds the partial text


class TerminalBackend:
    """Writes new text to stdout as it arrives."""

    def __init__(self, shell: Any = None, write: Callable[[str], Any] | None = None) -> None:
        self.shell = shell
        self._write = write

    def write(self, text: str) -> None:
        if self._write is not None:
            self._write(text)
            return
        sys.stdout.write(text)
        sys.stdout.flush()

    thinking = False  # the last thing written was dimmed reasoning

    def think(self, thought: str, new: str) -> None:
        self.write(("" if self.thinking else DIM + "[reasoning] ") + new)
        self.thinking = True

    def show(self, text: str, new: str) -> None:
        if self.thinking:  # the answer starts on its own line, in normal type
            self.write(RESET + "\n\n")
            self.thinking = False
        self.write(new)

    def finish(self, result: Any, shown: str) -> None:
        self.show(shown, "")  # ends dimmed reasoning that no answer text followed
        rendering = _plain_rendering(self.shell, result)
        # Normally the rendering starts with the text already on screen: write only the rest.
        self.write(rendering[len(shown):] if rendering.startswith(shown) else "\n" + rendering)
        self.write("\n")
        if self.shell is not None:
            skip_display_once(result)

    def abandon(self) -> None:
        self.write(RESET + "\n" if self.thinking else "\n")


def _plain_rendering(shell: Any, result: Any) -> str:
    if shell is not None and getattr(shell, "display_formatter", None) is not None:
        data, _ = shell.display_formatter.format(result, include={"text/plain"})
        if "text/plain" in data:
            return data["text/plain"]
    return repr(result)


def skip_display_once(value: Any) -> None:
    """Record `value` as the cell's result (`_`, `Out[n]`) without printing it again.

    IPython shows a cell's value through `sys.displayhook` (set per cell by the shell and
    restored after it), so wrapping it for the one value already on screen is enough.
    """
    hook = sys.displayhook

    def once(shown: Any) -> None:
        sys.displayhook = hook
        if shown is not value or not hasattr(hook, "update_user_ns"):
            hook(shown)
            return
        hook.check_for_underscore()
        if not hook.quiet():
            hook.update_user_ns(shown)
            hook.fill_exec_result(shown)

    sys.displayhook = once
