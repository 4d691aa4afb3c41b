"""Whitespace made visible in displayed tokens and texts: `" is"` and `"is"` must not look alike,
and a newline token must not be a blank cell.

    ␣  a leading or trailing space (inner spaces stay spaces: they read as text)
    ↵  a newline        ⇥  a tab

Only views use this (`wide()`, `heatmap()`, the sweep and choices tables); the DataFrames
`.logprobs`, `.top_logprobs` and `.df` keep the exact strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    import pandas as pd

# U+2423 (open box), not U+2420 (symbol for space): common fonts (DejaVu, Liberation) lack U+2420, which then shows as a box
SPACE, NEWLINE, TAB = "\u2423", "\u21b5", "\u21e5"  # ␣ ↵ ⇥


def visible(text: Any) -> Any:
    """`text` with whitespace marked; anything that is not a string is returned as it is."""
    if not isinstance(text, str):
        return text
    marked = text.replace("\r\n", NEWLINE).replace("\n", NEWLINE).replace("\t", TAB)
    body = marked.strip(" ")
    if not body:
        return SPACE * len(marked)
    lead = len(marked) - len(marked.lstrip(" "))
    trail = len(marked) - len(marked.rstrip(" "))
    return SPACE * lead + body + SPACE * trail


def visible_columns(frame: "pd.DataFrame", columns: Iterable[str], empty: str = "") -> "pd.DataFrame":
    """A copy of `frame` whose `columns` (those present) are marked; None/NaN shown as `empty`."""
    out = frame.copy()
    for name in columns:
        if name in out.columns:
            out[name] = out[name].map(lambda v: [visible(t) for t in v] if isinstance(v, list)
                                      else empty if v is None or v != v else visible(v))
    return out
