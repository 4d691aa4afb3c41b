"""Hooks the tests hand to a call (on_done=...)."""

from __future__ import annotations

from typing import Any, Callable


def interrupt_after(n: int, seen: list[Any] | None = None) -> Callable[[Any], None]:
    """An on_done hook that presses Ctrl-C when it has seen `n` runs (kept in `seen`)."""
    seen = [] if seen is None else seen

    def hook(run: Any) -> None:
        seen.append(run)
        if len(seen) == n:
            raise KeyboardInterrupt
    return hook
