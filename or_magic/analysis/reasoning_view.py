"""How a model's reasoning is shown: set apart from the answer, dimmed, and collapsed once it is done.

The live display (notebook/live.py) shows it open while it streams; the final rendering
(Result._repr_html_) keeps it in a closed <details>, so the answer is what the eye lands on.
"""

from __future__ import annotations

import html

_STYLE = "color: #888; font-style: italic; white-space: pre-wrap; margin: 0 0 0.5em 1em"
DIM, RESET = "\x1b[2m", "\x1b[0m"  # the terminal's faint text


def reasoning_html(thought: str | None, open_: bool = False, tokens: int | None = None) -> str:
    """A <details> block holding the reasoning ("" when there is none)."""
    if not thought:
        return ""
    count = f" ({tokens} tokens)" if tokens else ""
    return (f'<details{" open" if open_ else ""}><summary style="color: #888">reasoning{count}</summary>'
            f'<div style="{_STYLE}">{html.escape(thought)}</div></details>')


def reasoning_plain(thought: str | None) -> str:
    """The reasoning as a plain-text preface: marked, so it is never mistaken for the answer."""
    return f"[reasoning] {thought.strip()}\n\n" if thought else ""
