"""Reading numbers out of JSON and headers that servers fill in loosely (strings, nulls, bools)."""

from __future__ import annotations

from typing import Any, TypeVar

Default = TypeVar("Default", float, None)


def to_float(value: Any, default: Default = None) -> float | Default:  # type: ignore[type-var]
    """`value` as a float; `default` for anything that is not a number or a numeric string.

    A JSON `true` is not the number 1 here: a provider that sends a bool where a number belongs
    sent no number."""
    if isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def valid_unicode(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs (an emoji split over two stream chunks, each
    decoded alone) joined into their character, lone surrogates replaced by U+FFFD.  Such text
    cannot be encoded as UTF-8, so the history, a display or a file write would refuse it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def unsendable(value: Any) -> str | None:
    """Why `value` cannot go into a JSON request body (a lone surrogate, NaN or Infinity), or None."""
    if isinstance(value, str):
        if value.isascii():  # the usual case, decided without encoding
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"holds text that is not valid Unicode (a lone surrogate at position {exc.start}); "
                    "remove it, or decode the input with errors='replace'")
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"holds {value} (NaN or Infinity), which JSON cannot carry; give a finite number"
    if isinstance(value, dict):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return None
    return next((why for why in map(unsendable, items) if why), None)
