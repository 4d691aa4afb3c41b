"""HTTP to OpenRouter (or any OpenAI-compatible server): auth, attribution, retries, errors.

With stream_reader.py, body_reader.py, request_maker.py and transport.py, the only modules that import httpx.
`Client` (sync: single runs, streams, /models, /key) and `AsyncClient` (sweeps) share one base: the key, the
headers, how an attempt is judged and the retry decision; only the send loop exists twice, once
per I/O style.  Everything the server says goes through answers.py, which turns an error status,
an error body inside an HTTP 200, or a choice that finished with "error" into an `APIError`;
httpx's own exceptions become `TransportError`s here.  The key is scrubbed from any server text.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import sys
import time
from typing import Any, Callable, NamedTuple

import httpx

from ..core.errors import AuthError, ConfigError, TimeoutError, TransportError
from ..core.params import COMPLETIONS
from ..core.secrets import scrub, scrub_bytes
from ..core.settings import Settings
from .answers import check_answer, error_fields, ok_trouble, redirect_error, unusable_ok
from .auth import request_headers, tell_withheld, withheld_why
from .request_maker import QuietJar, RequestMaker, send_direct
from .body_reader import Body, aread_body, read_body, timeout_text
from .retry import retry_delay, should_retry
from .stream import TextHook
from .stream_reader import read_stream
from .transport import single_transport, ssl_context, sweep_transport

PATHS = {"chat": "/chat/completions", COMPLETIONS: "/completions"}
RetryNotice = Callable[[str], None]


class Attempt(NamedTuple):
    """One request's outcome."""

    response: "httpx.Response | None"  # the answer's head; its body is `content` (a stream: unread)
    failure: "Exception | None"  # no usable answer: why
    status: int | None  # the status to judge a retry by; None when the answer is usable or final
    error: dict[str, Any]  # the answer's error fields
    data: dict[str, Any] | None = None  # the answer already parsed (large bodies are parsed once)
    final: bool = False  # never worth another attempt (the request itself cannot be sent)
    content: bytes = b""  # the whole body (read under the clocks of body_reader.py), without the key


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ClientBase:
    """What the sync and async clients share: settings, key, headers, and judging attempts."""

    def __init__(self, settings: Settings, on_retry: RetryNotice | None) -> None:
        self.settings = settings
        problem = settings.base_url_problem()
        if problem:
            raise ConfigError(problem)
        self.base_url = settings.resolved_base_url()
        key = settings.api_key()
        if key is None and settings.needs_key():
            raise ConfigError(
                f"no OpenRouter API key: set the {settings.api_key_env} environment variable "
                "(create a key at https://openrouter.ai/keys), or point OPENROUTER_BASE_URL at a local server")
        self._key = key  # kept for scrubbing even when it is not sent
        self.key_withheld = key is not None and not settings.sends_key()
        if self.key_withheld:
            tell_withheld(settings)
        self.on_retry = on_retry
        # A sweep retries rate limits more patiently than one call: waiting slows it down
        # instead of failing rows (AsyncClient sets it from its caller).
        self.rate_limit_retries: int | None = None

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"<or_magic.{type(self).__name__} {self.base_url}>"

    @property
    def closed(self) -> bool:
        return self._http.is_closed  # type: ignore[attr-defined]  # each subclass makes its own

    def _http_options(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "headers": request_headers(self.settings, None if self.key_withheld else self._key),
                "timeout": httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
                "cookies": QuietJar(),
                "verify": ssl_context()}  # shared: httpx would load the CA bundle per client

    def _send_failed(self, exc: httpx.TransportError) -> Attempt:
        """Nothing was received: worth another attempt, unless the request itself is at fault."""
        if isinstance(exc, httpx.LocalProtocolError):  # e.g. a header httpx refuses: fails every time
            return Attempt(None, TransportError(f"could not send the request to {self.base_url}: "
                                                f"{scrub(str(exc), self._key)}"), None, {}, final=True)
        if isinstance(exc, httpx.TimeoutException):
            return Attempt(None, TimeoutError(timeout_text(self.settings, exc)), None, {})
        return Attempt(None, self._unreachable(exc), None, {})

    def _read_failed(self, exc: httpx.TransportError) -> Attempt:
        if isinstance(exc, httpx.TimeoutException):
            # The answer had begun: the server is working but slow, and a repeat is billed again.
            raise TimeoutError(timeout_text(self.settings, exc)) from None
        return Attempt(None, self._unreachable(exc, "the connection dropped while reading the answer"), None, {})

    def _judged(self, response: httpx.Response, content: bytes) -> Attempt:
        """A complete answer: usable (status None), or the status and error to decide a retry by."""
        content = scrub_bytes(content, self._key)  # rebound: no Attempt, repr or frame here keeps the key
        if 300 <= response.status_code < 400:  # not followed: the key would go along to wherever
            return Attempt(response, redirect_error(response.status_code, response.headers, self.base_url,
                                                    self._key), None, {}, final=True)
        if response.status_code >= 400:
            return Attempt(response, None, response.status_code, error_fields(content), content=content)
        status, error, data = unusable_ok(content)
        return Attempt(response, None, status, error, data, content=content)

    def _retry_wait(self, attempt: int, outcome: Attempt) -> float | None:
        """Seconds to wait before another attempt, or None when this attempt is final."""
        response, status, error = outcome.response, outcome.status, outcome.error
        if outcome.final or (response is not None and status is None):
            return None
        budget = max(0, self.settings.max_retries)
        if status == 429 and self.rate_limit_retries is not None:
            budget = max(budget, self.rate_limit_retries)
        if attempt >= budget or not (status is None or should_retry(status, error)):
            return None
        delay = retry_delay(attempt, response.headers if response is not None else {}, error)
        if delay is not None:
            answered = response.status_code if response is not None else None
            self.notify_retry(status, delay, attempt + 1, budget, ok_trouble(answered, error, self._key))
        return delay

    @staticmethod
    def _final(outcome: Attempt) -> Attempt:
        """The last attempt (check_answer raises any error in its answer), or its failure."""
        if outcome.failure is not None:
            raise outcome.failure
        return outcome

    def _answer(self, outcome: Attempt) -> dict[str, Any]:
        response = outcome.response
        assert response is not None  # _final raised otherwise
        try:
            return check_answer(response.status_code, response.headers, outcome.content, self._key, outcome.data)
        except AuthError as exc:
            raise self.explained(exc)

    def explained(self, exc: AuthError) -> AuthError:
        """A 401 from a server the key was withheld from says so, and how to send it."""
        if self.key_withheld:
            exc.with_hint(f"the key was not sent: {withheld_why(self.settings)}")
        return exc

    def _unreachable(self, exc: Exception, what: str = "") -> TransportError:
        # Refused or unresolvable usually means a local server that is not started, or a typo in
        # the base URL: say which URL was tried and what to check.
        what = what or f"could not reach {self.base_url} (is the server running, and is the base URL right?)"
        return TransportError(f"{what}: {scrub(str(exc), self._key)}")

    def notify_retry(self, status: int | None, delay: float, attempt: int, max_retries: int,
                what: str | None = None) -> None:
        if self.on_retry is not None:
            what = what or {429: "rate limited"}.get(status or 0, f"HTTP {status}" if status else "connection failed")
            notice = f"or_magic: {what}, retrying in {delay:.1f} s ({attempt}/{max_retries})"
            self.on_retry(scrub(notice, self._key))


class Client(ClientBase):
    """A connection pool plus the settings it was made with; reuse one for many requests."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None,
                 on_retry: RetryNotice | None = _stderr_notice) -> None:
        super().__init__(settings, on_retry)
        self._http = httpx.Client(transport=transport or single_transport(), **self._http_options())
        self._requests, self._send = RequestMaker(self._http), send_direct(self._http)  # request_maker.py

    def close(self) -> None:
        self._http.close()

    def complete(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a non-streamed completion and return the checked JSON answer."""
        return self._answer(self._send_with_retries("POST", PATHS[endpoint], body))

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON resource such as /models or /key."""
        return self._answer(self._send_with_retries("GET", path, None, params=params))

    def stream(self, endpoint: str, body: dict[str, Any], on_text: TextHook | None = None) -> dict[str, Any]:
        """POST a streamed completion, calling `on_text` with each new piece of text; returns the
        assembled answer, shaped like `complete()`'s (see `read_stream` for the failure cases)."""
        outcome = self._send_with_retries("POST", PATHS[endpoint], {**body, "stream": True}, stream=True)
        if outcome.response.status_code >= 300:  # type: ignore[union-attr]  # an error, read whole already
            return self._answer(outcome)
        try:
            return read_stream(outcome.response, self.settings, self._key, on_text)  # type: ignore[arg-type]
        except AuthError as exc:
            raise self.explained(exc)

    def _send_with_retries(self, method: str, path: str, body: Any, *, params: Any = None,
                           stream: bool = False) -> Attempt:
        """Send, retrying what is worth retrying.  A stream is retried only until its response
        head arrives: after that, text may have been shown and paid for."""
        # Some servers (llama.cpp's) close the connection after a stream while announcing
        # keep-alive, so a pooled reuse would fail; a stream's connection is not kept.
        headers = {"Connection": "close"} if stream else None
        for attempt in itertools.count():
            request = self._requests.build(method, path, body, params, headers)
            outcome = self._attempt(request, stream)
            delay = self._retry_wait(attempt, outcome)
            if delay is None:
                return self._final(outcome)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _attempt(self, request: httpx.Request, stream: bool) -> Attempt:
        """One request; a successful stream is returned unread, for read_stream to consume.  Any
        other body is read under the `timeout` and `deadline` clocks (body_reader.py)."""
        started = time.monotonic()
        try:
            response = self._send(request)
        except httpx.TransportError as exc:
            return self._send_failed(exc)
        if stream and response.status_code < 300:
            return Attempt(response, None, None, {})
        try:
            body = read_body(response, Body(self.settings, started))
        except httpx.TransportError as exc:
            return self._read_failed(exc)
        return self._judged(response, body.content())


class AsyncClient(ClientBase):
    """The asyncio twin of `Client` for sweeps: same requests, errors and retry policy.

    `max_connections` bounds the pool to the sweep's concurrency.  A sweep's `throttle` (parallel.Throttle, set
    by `for_sweep`) wraps every attempt and is told its status and retry delay: the sweep slows down on 429s.
    """

    def __init__(self, settings: Settings, *, max_connections: int | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, on_retry: RetryNotice | None = None) -> None:
        super().__init__(settings, on_retry)
        self.throttle: Any = None
        transport = transport or sweep_transport(max_connections)  # the pool and its limits (transport.py)
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())
        self._requests = RequestMaker(self._http)

    def for_sweep(self, throttle: Any, rate_limit_retries: int | None) -> "AsyncClient":
        """One sweep's view of this pooled client (run/sweeploop.py): its connections, the sweep's own throttle."""
        view = copy.copy(self)
        view.throttle, view.rate_limit_retries = throttle, rate_limit_retries
        return view

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a non-streamed completion and return the checked JSON answer."""
        return self._answer(await self._send_with_retries("POST", PATHS[endpoint], body))

    async def _send_with_retries(self, method: str, path: str, body: Any) -> Attempt:
        for attempt in itertools.count():
            async with self._throttled() as seen:
                outcome = await self._attempt(self._requests.build(method, path, body))
                delay = self._retry_wait(attempt, outcome)
                judged, response = outcome.status, outcome.response
                seen.status = judged if judged is not None else (response.status_code if response else None)
                seen.delay = delay
            if delay is None:
                return self._final(outcome)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _attempt(self, request: httpx.Request) -> Attempt:
        started = time.monotonic()
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            return self._send_failed(exc)
        try:
            body = await aread_body(response, Body(self.settings, started))
        except httpx.TransportError as exc:
            return self._read_failed(exc)
        return self._judged(response, body.content())

    def _throttled(self) -> Any:
        return self.throttle.attempt() if self.throttle is not None else _Unthrottled()


class _Unthrottled:
    """The `throttle.attempt()` of a client without a throttle: records, never waits."""

    status: int | None = None
    delay: float | None = None

    async def __aenter__(self) -> "_Unthrottled":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

