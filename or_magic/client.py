"""HTTP to OpenRouter (or any OpenAI-compatible server): auth, attribution, retries, errors.

With stream_reader.py, the only modules that import httpx.  Everything the server says goes
through answers.py (`check_answer`), which turns an error status, an error body inside an HTTP
200, or a choice that finished with "error" into an `APIError`; httpx's own exceptions become
`TransportError`s at this boundary.  The API key is read per client from the environment and
scrubbed from any server text.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import httpx

from . import __version__
from .answers import check_answer, error_fields, scrub, unusable_ok
from .errors import ConfigError, TimeoutError, TransportError
from .params import COMPLETIONS
from .retry import retry_delay, should_retry
from .settings import Settings
from .stream_reader import TextHook, read_stream

PATHS = {"chat": "/chat/completions", COMPLETIONS: "/completions"}
RetryNotice = Callable[[str], None]


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Client:
    """A connection pool plus the settings it was made with; reuse one for many requests."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None,
                 on_retry: RetryNotice | None = _stderr_notice) -> None:
        self.settings = settings
        self.base_url = settings.resolved_base_url()
        key = settings.api_key()
        if key is None and settings.needs_key():
            raise ConfigError(
                f"no OpenRouter API key: set the {settings.api_key_env} environment variable "
                "(create a key at https://openrouter.ai/keys), or point OPENROUTER_BASE_URL at a local server")
        self._key = key
        self.on_retry = on_retry
        self._http = httpx.Client(base_url=self.base_url, headers=request_headers(settings, key),
                                  timeout=_timeout(settings), transport=transport)

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"<or_magic.Client {self.base_url}>"

    def close(self) -> None:
        self._http.close()

    def complete(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a non-streamed completion and return the checked JSON answer."""
        response = self._send_with_retries("POST", PATHS[endpoint], body)
        return check_answer(response.status_code, response.headers, response.content, self._key)

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON resource such as /models or /key."""
        response = self._send_with_retries("GET", path, None, params=params)
        return check_answer(response.status_code, response.headers, response.content, self._key)

    def stream(self, endpoint: str, body: dict[str, Any], on_text: TextHook | None = None) -> dict[str, Any]:
        """POST a streamed completion, calling `on_text` with each new piece of text; returns the
        assembled answer, shaped like `complete()`'s (see `read_stream` for the failure cases)."""
        response = self._send_with_retries("POST", PATHS[endpoint], {**body, "stream": True}, stream=True)
        return read_stream(response, self.settings, self._key, on_text)

    def _send_with_retries(self, method: str, path: str, body: Any, *, params: Any = None,
                           stream: bool = False) -> httpx.Response:
        """Send, retrying what is worth retrying; the last answer (or failure) is the caller's.

        A stream is retried only until its response head arrives: after that, text may have been
        shown and paid for, and a retry would be a different answer."""
        max_retries = max(0, self.settings.max_retries)
        for attempt in range(max_retries + 1):
            response, failure, status, error = self._attempt(method, path, body, params, stream)
            if response is not None and status is None:
                return response
            retryable = status is None or should_retry(status, error)
            headers = response.headers if response is not None else {}
            delay = retry_delay(attempt, headers, error) if retryable and attempt < max_retries else None
            if delay is None:
                if failure is not None:
                    raise failure
                return response  # type: ignore[return-value]  # check_answer raises its error
            self._notice(status, delay, attempt + 1, max_retries, _ok_trouble(response, error))
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _attempt(self, method: str, path: str, body: Any, params: Any,
                 stream: bool = False) -> tuple[httpx.Response | None, Exception | None, int | None, dict[str, Any]]:
        """One request: (answer, failure, status to judge a retry by (None: usable), error fields).

        A successful stream is returned unread, for read_stream to consume."""
        request = self._http.build_request(method, path, json=body, params=params)
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:  # nothing received: worth another attempt
            return None, TimeoutError(_timeout_text(self.settings, exc)), None, {}
        except httpx.TransportError as exc:
            return None, self._unreachable(exc), None, {}
        if stream and response.status_code < 400:
            return response, None, None, {}
        try:
            response.read()
        except httpx.TimeoutException as exc:
            # The answer had begun: the server is working but slow, and a repeat is billed again.
            response.close()
            raise TimeoutError(_timeout_text(self.settings, exc)) from None
        except httpx.TransportError as exc:  # dropped mid-answer: nothing usable arrived
            response.close()
            return None, self._unreachable(exc, "the connection dropped while reading the answer"), None, {}
        except BaseException:  # e.g. Ctrl-C: give the connection back before leaving
            response.close()
            raise
        if response.status_code >= 400:
            return response, None, response.status_code, error_fields(response.content)
        status, error = unusable_ok(response.content)
        return response, None, status, error

    def _unreachable(self, exc: Exception, what: str = "") -> TransportError:
        return TransportError(f"{what or f'could not reach {self.base_url}'}: {scrub(str(exc), self._key)}")

    def _notice(self, status: int | None, delay: float, attempt: int, max_retries: int,
                what: str | None = None) -> None:
        if self.on_retry is not None:
            what = what or {429: "rate limited"}.get(status or 0, f"HTTP {status}" if status else "connection failed")
            notice = f"or_magic: {what}, retrying in {delay:.1f} s ({attempt}/{max_retries})"
            self.on_retry(scrub(notice, self._key))


def _ok_trouble(response: httpx.Response | None, error: dict[str, Any]) -> str | None:
    """How to name a retried HTTP 200 in the notice (None: it was not a 200)."""
    if response is None or response.status_code >= 400:
        return None
    return f"error inside HTTP 200 ({str(error.get('message') or error.get('code'))[:60]})" if error \
        else "truncated answer"


def request_headers(settings: Settings, key: str | None) -> dict[str, str]:
    headers = {"User-Agent": f"or_magic/{__version__}", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if settings.app_url:
        headers["HTTP-Referer"] = settings.app_url
    if settings.app_title:
        headers["X-Title"] = settings.app_title
    return headers


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.timeout, connect=settings.connect_timeout)


def _timeout_text(settings: Settings, exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {settings.connect_timeout:g} s (connect_timeout)"
    return (f"the server sent nothing for {settings.timeout:g} s (timeout); "
            "raise it with %config OpenRouterMagics.timeout = SECONDS")
