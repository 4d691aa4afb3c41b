"""The API key: its redacted type, scrubbing it from any text, and asking for it without echo.

One home for everything that touches the key, so every layer scrubs the same way.  The key comes
from the environment variable named by `Settings.api_key_env`.  When it is missing in an
interactive session (IPython in a terminal, or a Jupyter frontend that accepts input), it is asked
for with `getpass`, so it is not echoed, and kept only in `os.environ` for the rest of the session:
never in a notebook cell, an output, a setting or the history.  In tests, CI and nbconvert runs
stdin is closed, so nothing is asked and the usual "no API key" error explains what to set.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any, Callable

from .errors import ConfigError
from .shell import current_shell

REDACTED = "sk-…(redacted)"  # what stands where a server echoed the key


class Key(str):
    """The key as a string that works everywhere a string does (headers, replace) but whose
    repr is redacted, so a verbose traceback, a debugger or `vars(client)` cannot show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)


def sendable_key(value: str | None, env_name: str) -> Key | None:
    """The key read from `$env_name`, ready for an Authorization header, or None when unset.

    Surrounding whitespace is dropped (`open(".key").read()`, a CRLF `.env` file).  What is left
    must be printable ASCII: anything else would make the HTTP library refuse the header with an
    error that quotes the key, so it is refused here first, naming the variable, never the key.
    """
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isprintable()):  # = every character in " ".."~", at C speed
        raise ConfigError(f"${env_name} holds a control or non-ASCII character, so it cannot be sent as "
                          f"an HTTP header; set {env_name} to the key alone (as shown at https://openrouter.ai/keys)")
    return Key(value)


@functools.lru_cache(maxsize=8)
def key_forms(key: str) -> tuple[str, ...]:
    """The key as it can appear in text: plain, JSON-escaped (`\\n`, `\\uXXXX`), in a str repr
    and in a bytes repr (`b'Bearer sk-...\\n'`).  Longest first, so no form is cut by another."""
    raw = key.encode("utf-8", "surrogatepass")
    forms = {key, json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1], repr(key)[1:-1],
             key.encode("unicode_escape").decode("ascii"), repr(raw)[2:-1],
             raw.decode("utf-8", "replace"), raw.decode("latin-1")}
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def scrub(text: str, key: str | None) -> str:
    """`text` with every form of the key replaced by REDACTED."""
    if not key or not text:
        return text
    for form in key_forms(key):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def scrub_bytes(content: bytes, key: str | None) -> bytes:
    if not key or not content:
        return content
    for form in key_forms(key):
        encoded = form.encode("utf-8", "surrogatepass")
        if encoded in content:
            content = content.replace(encoded, REDACTED.encode())
    return content


def holds_key(text: str, key: str | None) -> bool:
    return bool(key) and any(form in text for form in key_forms(key))  # type: ignore[arg-type]


def scrub_json(value: Any, key: str | None) -> Any:
    """`value` with the key removed from every string in it (servers echo odd things in metadata)."""
    if not key:
        return value
    text = json.dumps(value, default=str)
    if not holds_key(text, key):
        return value
    try:
        return json.loads(scrub(text, key))
    except ValueError:  # a form that straddled a string's quotes: rebuild string by string
        return _scrub_strings(value, key)


def _scrub_strings(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return scrub(value, key)
    if isinstance(value, dict):
        return {scrub(str(k), key): _scrub_strings(v, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_strings(v, key) for v in value]
    return value


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
    if (os.environ.get(env_name) or "").strip() or not needed or not interactive():
        return
    if ask is None:
        from getpass import getpass as ask
    try:
        typed = ask(f"OpenRouter API key (kept in ${env_name} for this session only): ")
    except (EOFError, KeyboardInterrupt):
        return
    if typed and typed.strip():
        os.environ[env_name] = typed.strip()
