"""Connection and default settings, shared by the magic (as traits) and the Python API.

The API key is never a field here: it is read from the environment variable named by
`api_key_env` at the moment a request is made, so it cannot end up in a repr, a pickled
object or a notebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlparse

from .params import DEFAULT_COMPLETIONS_MODELS
from .secrets import Key  # a str whose repr is redacted

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
BASE_URL_ENV = "OPENROUTER_BASE_URL"
DEFAULT_MODEL = "openai/gpt-4o-mini"


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

    def resolved_base_url(self) -> str:
        return (self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")

    def api_key(self) -> str | None:
        value = os.environ.get(self.api_key_env)
        return Key(value) if value else None

    def needs_key(self) -> bool:
        """OpenRouter itself needs a key; local OpenAI-compatible servers usually do not."""
        host = urlparse(self.resolved_base_url()).hostname or ""
        return host == "openrouter.ai" or host.endswith(".openrouter.ai")

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the given fields changed; None values are ignored."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in overrides.items() if v is not None and k in known}
        if "completions_models" in changes:
            changes["completions_models"] = tuple(changes["completions_models"])
        return replace(self, **changes)
