"""Getting the API key without ever writing it down.

The key comes from the environment variable named by `Settings.api_key_env`.  When it is
missing in an interactive session (IPython in a terminal, or a Jupyter frontend that accepts
input), it is asked for with `getpass`, so it is not echoed, and kept only in `os.environ`
for the rest of the session: never in a notebook cell, an output, a setting or the history.
In tests, CI and nbconvert runs stdin is closed, so nothing is asked and the usual
"no API key" error explains what to set.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable

from .answers import REDACTED
from .shell import current_shell

if TYPE_CHECKING:
    from .settings import Settings


class Key(str):
    """The key as a string that works everywhere a string does (headers, replace) but whose
    repr is redacted, so a verbose traceback, a debugger or `vars(client)` cannot show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)


def interactive() -> bool:
    """Whether a person can answer a prompt right now."""
    shell = current_shell()
    if shell is None:
        return False
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:  # a Jupyter kernel: the frontend says whether it accepts input
        return bool(getattr(kernel, "_allow_stdin", False))
    return bool(sys.stdin is not None and sys.stdin.isatty())


def ensure_key(settings: "Settings", ask: Callable[[str], str] | None = None) -> None:
    """Ask for a missing key when a person is there to type it; otherwise leave things as they are."""
    if settings.api_key() is not None or not settings.needs_key() or not interactive():
        return
    if ask is None:
        from getpass import getpass as ask
    try:
        typed = ask(f"OpenRouter API key (kept in ${settings.api_key_env} for this session only): ")
    except (EOFError, KeyboardInterrupt):
        return
    if typed and typed.strip():
        os.environ[settings.api_key_env] = typed.strip()
