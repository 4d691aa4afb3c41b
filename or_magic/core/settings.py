"""Connection and default settings, shared by the magic (as traits) and the Python API.

The API key is never a field here: it is read from the environment variable named by
`api_key_env` at the moment a request is made, so it cannot end up in a repr, a pickled
object or a notebook.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlparse

from .params import DEFAULT_COMPLETIONS_MODELS
from .secrets import Key, sendable_key  # Key: a str whose repr is redacted

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
BASE_URL_ENV = "OPENROUTER_BASE_URL"
DEFAULT_MODEL = "openai/gpt-4o-mini"
SEND_KEY_ENV = "OR_MAGIC_SEND_KEY_TO"  # comma-separated hosts that may receive the key


@dataclass(frozen=True)
class Settings:
    """Where requests go and how they behave; every field is also an OpenRouterMagics trait."""

    model: str = DEFAULT_MODEL
    base_url: str = ""  # empty: $OPENROUTER_BASE_URL, else OpenRouter itself
    api_key_env: str = "OPENROUTER_API_KEY"
    # Seconds of silence allowed while waiting for (more of) an answer.  Generous on purpose: a
    # non-streamed answer arrives only when the whole generation is done (long reasoning runs take
    # minutes), and a timed-out request is still billed, so a short timeout loses paid answers.
    # Same as the openai SDK; OpenRouter's own SDK has no timeout at all.
    timeout: float = 600.0
    # The most seconds one request may take in all (streamed or not: from sending it to the last
    # byte), so a server that trickles keep-alives or bytes forever still ends; long enough for
    # long reasoning generations.
    deadline: float = 3600.0
    connect_timeout: float = 10.0  # an unreachable host is known quickly
    max_retries: int = 2  # as the openai SDK: rides out a blip without hiding an outage
    concurrency: int = 8
    max_runs: int = 1000  # a larger sweep needs --yes
    app_url: str = ""  # sent as HTTP-Referer, for OpenRouter's app attribution
    app_title: str = ""  # sent as X-Title
    stream: bool = True  # single runs stream their text into the output as it arrives
    completions_models: tuple[str, ...] = field(default=DEFAULT_COMPLETIONS_MODELS)
    history: bool = True  # record every run in the history database
    history_path: str = ""  # empty: $OR_MAGIC_HOME/history.db, else the user's data directory
    cache: bool = False  # answer repeated deterministic requests (seed or temperature 0) from history
    # Hosts other than OpenRouter (over https) and this machine that may receive the key: an
    # explicit opt-in, so pointing base_url at someone else's server does not hand them the key.
    send_key_to_hosts: tuple[str, ...] = ()

    def resolved_base_url(self) -> str:
        return (self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")

    def api_key(self) -> Key | None:
        """The key from `$api_key_env`, stripped; ConfigError when it cannot be sent as a header."""
        return sendable_key(os.environ.get(self.api_key_env), self.api_key_env)

    def base_url_problem(self) -> str | None:
        """Why the base URL cannot be used (a one-line error with the fix), or None."""
        return _base_url_problem(self.base_url, os.environ.get(BASE_URL_ENV))

    def key_hosts(self) -> set[str]:
        """The hosts opted in to receive the key (the setting plus $OR_MAGIC_SEND_KEY_TO)."""
        named = (*self.send_key_to_hosts, *os.environ.get(SEND_KEY_ENV, "").split(","))
        return {h.strip().strip("[]").lower() for h in named if h.strip()}

    def sends_key(self) -> bool:
        """Whether requests to the base URL carry the key: to OpenRouter over https, to this
        machine (loopback), and to hosts opted in by name; decided from the URL as written."""
        return _sends_key(self.resolved_base_url(), frozenset(self.key_hosts()))

    def needs_key(self) -> bool:
        """OpenRouter itself needs a key; local OpenAI-compatible servers usually do not."""
        return _needs_key(self.resolved_base_url(), frozenset(self.key_hosts()))

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the given fields changed; None values are ignored."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in overrides.items() if v is not None and k in known}
        for name in ("completions_models", "send_key_to_hosts"):
            if name in changes:
                changes[name] = (changes[name],) if isinstance(changes[name], str) else tuple(changes[name])
        return replace(self, **changes)


# Pure functions of the settings' strings and the environment's, cached: every call asks them
# (a loop of complete() calls would parse the same URL a dozen times per request).
@functools.lru_cache(maxsize=64)
def _base_url_problem(base_url: str, from_env: str | None) -> str | None:
    url = base_url or from_env or DEFAULT_BASE_URL
    where = "base_url" if base_url else f"${BASE_URL_ENV}" if from_env else "base_url"
    fix = f"set {where} to a URL such as {DEFAULT_BASE_URL} or http://localhost:8080/v1"
    if url != url.strip():
        return f"{where} {url!r} has surrounding whitespace; {fix}"
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"{where} {url!r} is not a valid URL ({exc}); {fix}"
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"{where} {url!r} is not an http:// or https:// URL with a host; {fix}"
    return None


@functools.lru_cache(maxsize=64)
def _sends_key(url: str, hosts: frozenset[str]) -> bool:
    try:
        parsed = urlparse(url)
        host = (parsed.hostname or "").lower()
    except ValueError:
        return False
    if host in hosts or is_loopback(host):
        return True
    return parsed.scheme == "https" and is_openrouter(host)


@functools.lru_cache(maxsize=64)
def _needs_key(url: str, hosts: frozenset[str]) -> bool:
    try:
        host = urlparse(url).hostname or ""
    except ValueError:
        return False
    return is_openrouter(host) and _sends_key(url, hosts)


def is_openrouter(host: str) -> bool:
    host = host.lower()
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def is_loopback(host: str) -> bool:
    """`localhost`, an IPv4 address in 127.0.0.0/8 or `::1`, as written (names are not resolved)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
