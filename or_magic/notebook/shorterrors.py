"""Short errors: or_magic's API, transport and config errors shown in one or two lines.

A failed request is not a bug in the user's code, so a 50-line traceback through or_magic's
internals only buries the one useful line (status, OpenRouter's message, the fix) at the
bottom.  Like jupysql's `short_errors`, the magic registers an IPython custom exception
handler (`shell.set_custom_exc`) that shows `Name: message` plus a pointer to `%tb`.  The cell
still fails (IPython records the error, so Run All and nbval stop), the exception object is
untouched for Python callers, and `%tb` (or `%config OpenRouterMagics.short_errors = False`)
shows the full traceback.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from ..core.errors import APIError, ConfigError, InvalidOption, TransportError

# The errors whose traceback says nothing the message does not: the server's or the
# environment's fault, or bad input found before sending.  Anything else (a bug) keeps its
# full traceback.
SHORT = (APIError, TransportError, ConfigError, InvalidOption)
TB_HINT = "(%tb shows the full traceback; %config OpenRouterMagics.short_errors = False shows it always)"
_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


def short_lines(error: BaseException) -> list[str]:
    """The two lines shown for `error`: its name and message on one line, then the %tb pointer."""
    message = " ".join(str(error).split())  # a server message with newlines stays on one line
    return [f"{_RED}{type(error).__name__}{_RESET}: {message}", TB_HINT]


def _enabled(shell: Any) -> bool:
    magics = shell.magics_manager.registry.get("OpenRouterMagics")
    return bool(getattr(magics, "short_errors", True))


def _handler(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
             tb_offset: int | None = None) -> list[str]:
    # What IPython's own showtraceback does first, so that %tb and %debug find this error.
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    if _enabled(shell):
        stb = short_lines(value)
    else:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)  # IPython leaves the display to the handler
    return stb


def install(shell: Any) -> bool:
    """Register the handler on `shell`; False (and nothing changed) if another handler is set.

    IPython has room for one custom handler per shell; taking over someone else's would silently
    break their extension, so or_magic then falls back to IPython's full tracebacks."""
    current = getattr(shell, "custom_exceptions", ())
    if current and current != SHORT:
        return False
    shell.set_custom_exc(SHORT, _handler)
    return True


def uninstall(shell: Any) -> None:
    if getattr(shell, "custom_exceptions", ()) == SHORT:
        shell.set_custom_exc((), None)
