"""A `Result` shown as a cell's value (Out[n]) found by IPython's formatters in one lookup each.

IPython's display formatter asks each of its ~11 formatters for a printer registered for the
value's type, walking the type's MRO and, for every class on it, its deferred-printer table (a
traitlets dict read per class).  `Result` has a five-class MRO (its view mixins), so showing one
took ~110 such lookups, more than the rest of a cell's display: measured (bench/README.md,
request) a `%%openrouter` cell spent more on finding its printers than on drawing them.
Registering `Result` itself with every formatter makes each lookup hit the first class, and the
printer then does what IPython's fallback would: call the `_repr_*_` method the formatter is for,
or give no output for a format `Result` does not have.  It is registered by name (IPython's
deferred printers, moved to the type's own entry on first use), so loading the extension does not
import the analysis layer.
"""

from __future__ import annotations

import functools
from typing import Any

SHOWN_TYPES = (("or_magic.analysis.result", "Result"),)  # what a %%openrouter cell returns as its value


def install(shell: Any) -> None:
    """Register SHOWN_TYPES with every formatter of `shell` (idempotent)."""
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        return
    for each in formatter.formatters.values():
        method = getattr(each, "print_method", None)
        if not isinstance(method, str):
            continue
        # the text/plain formatter calls its printers as (obj, p, cycle)
        printer = _pretty if method == "_repr_pretty_" else functools.partial(_by_method, method)
        for module, name in SHOWN_TYPES:
            each.for_type_by_name(module, name, printer)


def _pretty(obj: Any, p: Any, cycle: bool) -> None:
    obj._repr_pretty_(p, cycle)


def _by_method(method: str, obj: Any) -> Any:
    """What IPython does for an unregistered type: call `obj.<method>()` if its class has one."""
    found = getattr(type(obj), method, None)
    return found(obj) if callable(found) else None
