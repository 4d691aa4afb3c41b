"""The API key: its redacted type, scrubbing it from any text, and asking for it without echo.

One home for everything that touches the key, so every layer scrubs the same way.  The key comes
from the environment variable named by `Settings.api_key_env`.  When it is missing in an
interactive session (IPython in a terminal, or a Jupyter frontend that accepts input), it is asked
for with `getpass`, so it is not echoed, and kept only in `os.environ` for the rest of the session:
never in a notebook cell, an output, a setting or the history.  In tests, CI and nbconvert runs
stdin is closed, so nothing is asked and the usual "no API key" error explains what to set.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

from .shell import current_shell

REDACTED = "sk-…(redacted)"  # what stands where a server echoed the key


class Key(str):
    """The key as a string that works everywhere a string does (headers, replace) but whose
    repr is redacted, so a verbose traceback, a debugger or `vars(client)` cannot show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)


def scrub(text: str, key: str | None) -> str:
    return text.replace(key, REDACTED) if key and text else text


def scrub_bytes(content: bytes, key: str | None) -> bytes:
    return content.replace(key.encode(), REDACTED.encode()) if key else content


def scrub_json(value: dict[str, Any], key: str | None) -> dict[str, Any]:
    """`value` with the key removed from every string in it (servers echo odd things in metadata)."""
    text = json.dumps(value, default=str)
    return json.loads(scrub(text, key)) if key and key in text else value


def interactive() -> bool:
    """Whether a person can answer a prompt right now."""
    shell = current_shell()
    if shell is None:
        return False
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:  # a Jupyter kernel: the frontend says whether it accepts input
        return bool(getattr(kernel, "_allow_stdin", False))
    return bool(sys.stdin is not None and sys.stdin.isatty())


def ensure_key(env_name: str, *, needed: bool, ask: Callable[[str], str] | None = None) -> None:
    """Ask for a missing key (in `$env_name`) when it is `needed` and a person is there to type it;
    otherwise leave things as they are."""
    if os.environ.get(env_name) or not needed or not interactive():
        return
    if ask is None:
        from getpass import getpass as ask
    try:
        typed = ask(f"OpenRouter API key (kept in ${env_name} for this session only): ")
    except (EOFError, KeyboardInterrupt):
        return
    if typed and typed.strip():
        os.environ[env_name] = typed.strip()
