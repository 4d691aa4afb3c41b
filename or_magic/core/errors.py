"""The errors or_magic raises, and nothing else.

    ORMagicError
    ├── InvalidOption      bad input, found before any request is sent (the magic shows it
    │                      as a one-line UsageError)
    ├── ConfigError        the environment is missing something (e.g. no API key)
    ├── APIError           the server answered with an error (HTTP status or an error body
    │   │                  inside an HTTP 200); carries status, code, message, metadata and a hint
    │   ├── AuthError          401: missing or wrong key
    │   ├── CreditsError       402: out of credits
    │   ├── RateLimitError     429: rate limited (retried automatically, then raised)
    │   └── ServerError        5xx, 408, 524, 529: provider or gateway trouble (retried, then raised)
    ├── TransportError     no usable answer: connection refused or dropped, timeout,
    │   │                  malformed stream
    │   └── TimeoutError       the server went silent for longer than the timeout
    └── RunSkipped         a sweep's run that was never completed: cancelled by an interrupt,
                           or not launched because --max-cost was reached (a row, not raised)

Every error that can happen mid-response carries ``partial``: the text received so far, so
that nothing already paid for is lost.  Messages never contain the API key: the client
scrubs server-supplied text before building an error.
"""

from __future__ import annotations

import re
from typing import Any


class ORMagicError(Exception):
    """Base class of every error or_magic raises.

    What code reads back from any of them, declared once: ``partial`` is the text received before
    the failure, ``body`` the (scrubbed) answer body received, if any, whose usage, cost and
    logprobs were paid for, and ``result`` the Result of the failed call (set by the API when a
    single run fails, so `-o NAME` and `sweep()` keep it)."""

    partial: str = ""
    body: "dict[str, Any] | None" = None
    result: Any = None  # an or_magic.Result; core does not import the analysis layer that defines it


class InvalidOption(ORMagicError, ValueError):
    """A bad option or input, detected before any request is sent."""


class ConfigError(ORMagicError):
    """Something the environment must provide is missing (e.g. the API key)."""


# What to do about each status, said once.  OpenRouter's own message comes first in the
# error text; this is the "likely fix" that follows it.
_HINTS: dict[int, str] = {
    400: "check the options and the model id (`%openrouter models TEXT` lists valid ids)",
    401: "set a valid key in the OPENROUTER_API_KEY environment variable",
    402: "add credits at https://openrouter.ai/settings/credits or lower --max-tokens",
    403: "the input was refused by moderation or a guardrail; rephrase it or pick another model",
    404: "no provider serves this model with these options; try another model or fewer options",
    408: "the request timed out upstream; retry, or raise the timeout",
    413: "the request is too large; shorten the prompt",
    422: "the request body was not understood; check --param values",
    429: "rate limited; wait a little (or buy credits for higher free-model limits)",
    500: "OpenRouter had an internal error; retry later",
    502: "the model's provider returned an error; retry or pick another provider/model",
    503: "no provider is available for these options right now; retry or relax routing",
    524: "the provider timed out; retry or lower --max-tokens",
    529: "the provider is overloaded; retry later",
}


class APIError(ORMagicError):
    """The server answered with an error."""

    def __init__(
        self,
        status: int | None,
        message: str,
        *,
        code: int | str | None = None,
        metadata: dict[str, Any] | None = None,
        partial: str = "",
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.metadata = metadata or {}
        self.partial = partial
        self.hint = hint if hint is not None else _HINTS.get(status or 0, "")
        super().__init__(self._text())

    def with_hint(self, hint: str) -> "APIError":
        """This error with another likely fix (its text follows)."""
        self.hint = hint
        self.args = (self._text(),)
        return self

    def _text(self) -> str:
        where = f"HTTP {self.status}" if self.status else "API error"
        if self.code is not None and str(self.code) != str(self.status):
            where += f" ({self.code})"
        text = f"{where}: {self.message}"
        hint = self.hint
        for url in re.findall(r"https?://\S+", hint):
            if url in self.message:  # OpenRouter's 402 already names the credits page: say it once
                hint = hint.replace(f" at {url}", "").replace(url, "this page")
        if hint:
            text += f" — {hint}"
        if self.partial:
            text += f" [partial text kept: {len(self.partial)} chars]"
        return text


class AuthError(APIError):
    """401: the key is missing or invalid."""


class CreditsError(APIError):
    """402: the account or key is out of credits."""


class RateLimitError(APIError):
    """429: rate limited."""


class ServerError(APIError):
    """5xx / 408 / 524 / 529: trouble upstream; usually worth retrying."""


class TransportError(ORMagicError):
    """No usable answer: the connection failed or dropped, or the stream was malformed."""

    def __init__(self, message: str, *, partial: str = "") -> None:
        self.partial = partial
        if partial:
            message += f" [partial text kept: {len(partial)} chars]"
        super().__init__(message)


class TimeoutError(TransportError):  # noqa: A001 - deliberately scoped to this module
    """The server sent nothing for longer than the configured timeout."""


class RunSkipped(ORMagicError):
    """A sweep's run that was not made (or not finished); `reason` is "cancelled" or "budget"."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


def error_class_for(status: int | None) -> type[APIError]:
    """The most specific APIError subclass for an HTTP status."""
    if status == 401:
        return AuthError
    if status == 402:
        return CreditsError
    if status == 429:
        return RateLimitError
    if status is not None and (status >= 500 or status == 408):
        return ServerError
    return APIError
