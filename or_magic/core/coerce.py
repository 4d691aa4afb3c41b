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
