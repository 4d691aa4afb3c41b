"""HTTP to OpenRouter (or any OpenAI-compatible server): auth, attribution, retries, errors.

The only module that imports httpx.  Everything the server says goes through `check_answer`,
which turns an error status, an error body inside an HTTP 200, or a choice that finished with
`"error"` into an `APIError`; httpx's own exceptions become `TransportError`s at this boundary.
The API key is read per client from the environment and scrubbed from any server text.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Callable

import httpx

from . import __version__
from .errors import APIError, ConfigError, ORMagicError, TimeoutError, TransportError, error_class_for
from .params import COMPLETIONS
from .retry import retry_delay, should_retry
from .settings import Settings
from .sse import SSEError, SSEParser
from .stream import StreamAssembler, StreamCancelled

PATHS = {"chat": "/chat/completions", COMPLETIONS: "/completions"}
RetryNotice = Callable[[str], None]
TextHook = Callable[[str], None]


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _ClientBase:
    """What the sync and async clients share: settings, key, headers, and the retry decision."""

    def __init__(self, settings: Settings, on_retry: RetryNotice | None) -> None:
        self.settings = settings
        self.base_url = settings.resolved_base_url()
        key = settings.api_key()
        if key is None and settings.needs_key():
            raise ConfigError(
                f"no OpenRouter API key: set the {settings.api_key_env} environment variable "
                "(create a key at https://openrouter.ai/keys), or point OPENROUTER_BASE_URL at a local server")
        self._key = key
        self.on_retry = on_retry
        # A sweep retries rate limits more patiently than one call: waiting slows it down
        # instead of failing rows (AsyncClient sets it from its caller).
        self.rate_limit_retries: int | None = None

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"<or_magic.{type(self).__name__} {self.base_url}>"

    def _http_options(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "headers": request_headers(self.settings, self._key),
                "timeout": _timeout(self.settings)}

    def _retry_wait(self, attempt: int, response: httpx.Response | None,
                    exc: httpx.TransportError | None) -> float | None:
        """Seconds to wait before another attempt, or None when this attempt is final."""
        if response is not None and response.status_code < 400:
            return None
        status = None if response is None else response.status_code
        headers = {} if response is None else response.headers
        error = {} if response is None else error_fields(response.content)
        budget = max(0, self.settings.max_retries)
        if status == 429 and self.rate_limit_retries is not None:
            budget = max(budget, self.rate_limit_retries)
        if attempt >= budget or not (status is None or should_retry(status, error)):
            return None
        delay = retry_delay(attempt, headers, error)
        if delay is not None:
            self._notice(status, delay, attempt + 1, budget)
        return delay

    def _final(self, response: httpx.Response | None, exc: httpx.TransportError | None) -> httpx.Response:
        """The response of the last attempt, or the error its transport failure maps to."""
        if response is not None:
            return response
        if isinstance(exc, httpx.TimeoutException):
            raise TimeoutError(_timeout_text(self.settings, exc)) from None
        raise TransportError(f"could not reach {self.base_url}: {_scrub(str(exc), self._key)}") from None

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        return check_answer(response.status_code, response.headers, response.content, self._key)

    def _notice(self, status: int | None, delay: float, attempt: int, max_retries: int) -> None:
        if self.on_retry is not None:
            what = {429: "rate limited"}.get(status or 0, f"HTTP {status}" if status else "connection failed")
            self.on_retry(f"or_magic: {what}, retrying in {delay:.1f} s ({attempt}/{max_retries})")


class Client(_ClientBase):
    """A connection pool plus the settings it was made with; reuse one for many requests."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None,
                 on_retry: RetryNotice | None = _stderr_notice) -> None:
        super().__init__(settings, on_retry)
        self._http = httpx.Client(transport=transport, **self._http_options())

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
        response = self._send_with_retries("POST", PATHS[endpoint], {**body, "stream": True}, stream=True)
        return read_stream(response, self.settings, self._key, on_text)

    def _send_with_retries(self, method: str, path: str, body: Any, *, params: Any = None,
                           stream: bool = False) -> httpx.Response:
        # A stream is retried only until its response head arrives: after that, text may have
        # been shown and paid for, and a retry would be a different answer.
        attempt = 0
        while True:
            response, exc = None, None
            try:
                request = self._http.build_request(method, path, json=body, params=params)
                response = self._http.send(request, stream=stream)
                if stream and response.status_code >= 400:
                    _read_whole(response)
            except httpx.TransportError as error:  # timeouts included
                exc = error
            delay = self._retry_wait(attempt, response, exc)
            if delay is None:
                return self._final(response, exc)
            time.sleep(delay)
            attempt += 1


class AsyncClient(_ClientBase):
    """The asyncio twin of `Client` for sweeps: same requests, errors and retry policy.

    `max_connections` bounds the pool to the sweep's concurrency.  A `throttle` (see
    parallel.Throttle) wraps every attempt: `async with throttle.attempt() as seen:` and is told
    each attempt's status and retry delay, so a sweep can slow down on rate limits.
    """

    def __init__(self, settings: Settings, *, max_connections: int | None = None,
                 rate_limit_retries: int | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 on_retry: RetryNotice | None = None, throttle: Any = None) -> None:
        super().__init__(settings, on_retry)
        self.rate_limit_retries = rate_limit_retries
        self.throttle = throttle
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(transport=transport, limits=limits, **self._http_options())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a non-streamed completion and return the checked JSON answer."""
        return self._answer(await self._send_with_retries("POST", PATHS[endpoint], body))

    async def _send_with_retries(self, method: str, path: str, body: Any) -> httpx.Response:
        attempt = 0
        while True:
            async with self._attempt() as seen:
                response, exc = None, None
                try:
                    response = await self._http.send(self._http.build_request(method, path, json=body))
                except httpx.TransportError as error:  # timeouts included
                    exc = error
                delay = self._retry_wait(attempt, response, exc)
                seen.status, seen.delay = (None if response is None else response.status_code), delay
            if delay is None:
                return self._final(response, exc)
            await asyncio.sleep(delay)
            attempt += 1

    def _attempt(self) -> Any:
        return self.throttle.attempt() if self.throttle is not None else _Unthrottled()


class _Unthrottled:
    """The `throttle.attempt()` of a client without a throttle: records, never waits."""

    status: int | None = None
    delay: float | None = None

    async def __aenter__(self) -> "_Unthrottled":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def read_stream(response: httpx.Response, settings: Settings, key: str | None,
                on_text: TextHook | None = None) -> dict[str, Any]:
    """Read an SSE completion to its end and return the assembled body.

    An error chunk raises APIError; a malformed line, a chunk that is not JSON, a dropped
    connection or an early end raise TransportError; silence longer than the timeout raises
    TimeoutError.  Each keeps the text received so far as `partial` (and the assembled body as
    `body`).  Ctrl-C (KeyboardInterrupt, also from `on_text`) closes the connection at once and
    raises StreamCancelled with the partial body, whose finish_reason is "cancelled".
    """
    if response.status_code >= 400 or response.headers.get("content-type", "").startswith("application/json"):
        _read_whole(response)  # an error, or a server that does not stream: one plain body
        return check_answer(response.status_code, response.headers, response.content, key)
    assembler = StreamAssembler()
    try:
        try:
            _read_events(response, assembler, key, on_text)
        finally:  # closing mid-body drops the connection: the server stops generating
            response.close()
    except KeyboardInterrupt:
        assembler.cancel()
        raise StreamCancelled(assembler.body()) from None
    except SSEError as exc:
        raise _kept(TransportError(f"the stream is malformed: {exc}", partial=assembler.text), assembler)
    except httpx.TimeoutException:
        raise _kept(TimeoutError(
            f"the stream went silent: nothing arrived for {settings.timeout:g} s (timeout); raise it "
            "with %config OpenRouterMagics.timeout = SECONDS", partial=assembler.text), assembler) from None
    except httpx.TransportError as exc:
        raise _kept(TransportError(f"the connection dropped mid-stream ({_scrub(str(exc), key) or type(exc).__name__})",
                                   partial=assembler.text), assembler) from None
    except ORMagicError as exc:  # an error chunk, or the stream ended early
        raise _kept(exc, assembler)
    return assembler.body()


def _read_events(response: httpx.Response, assembler: StreamAssembler, key: str | None,
                 on_text: TextHook | None) -> None:
    parser = SSEParser()
    for piece in response.iter_bytes():
        for payload in parser.feed(piece):
            if parser.done:
                return
            _add_chunk(assembler, payload, key, on_text)
    for payload in parser.close():
        if not parser.done:
            _add_chunk(assembler, payload, key, on_text)
    if not parser.done and not assembler.finished:
        raise TransportError("the stream ended before the answer did (no finish_reason, no [DONE])",
                             partial=assembler.text)


def _add_chunk(assembler: StreamAssembler, payload: bytes, key: str | None, on_text: TextHook | None) -> None:
    try:
        chunk = json.loads(payload)
    except ValueError:
        preview = payload[:80].decode("utf-8", "replace")
        raise TransportError(f"the stream sent a chunk that is not JSON: {_scrub(preview, key)!r}",
                             partial=assembler.text) from None
    if not isinstance(chunk, dict):
        raise TransportError("the stream sent a chunk that is not a JSON object", partial=assembler.text)
    piece = assembler.add(chunk)
    if "error" in chunk or assembler.error_finish:  # the text so far is joined only when needed
        check_choices(chunk, key, partial=assembler.text)
    if piece and on_text is not None:
        on_text(piece)


def _kept(error: Exception, assembler: StreamAssembler) -> Exception:
    """Attach the partial body to a failure, so the run keeps its partial logprobs too."""
    error.body = assembler.body()  # type: ignore[attr-defined]
    return error


def _read_whole(response: httpx.Response) -> None:
    """Read a plain-JSON answer to a stream request (an error, say) whole and free the connection."""
    try:
        response.read()
    finally:
        response.close()


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


def _scrub(text: str, key: str | None) -> str:
    return text.replace(key, "sk-…(redacted)") if key else text


def error_fields(content: bytes) -> dict[str, Any]:
    """The `error` object of an error body, or {} when the body has none."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def api_error(status: int | None, error: dict[str, Any], key: str | None, *,
              fallback: str = "", partial: str = "") -> APIError:
    """Build the APIError for an `error` object; OpenRouter's own code wins over the status."""
    code = error.get("code")
    if status is None or status < 400:
        status = code if isinstance(code, int) else error.get("http_status")
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    message = str(error.get("message") or fallback or "no message")
    raw = metadata.get("raw")
    if raw and message == "Provider returned error":
        message += f": {str(raw)[:300]}"
    cls = error_class_for(status if isinstance(status, int) else None)
    return cls(status if isinstance(status, int) else None, _scrub(message, key), code=code,
               metadata=metadata, partial=partial)


def check_answer(status: int, headers: Any, content: bytes, key: str | None) -> dict[str, Any]:
    """Parse a JSON answer, raising for an error status or an error inside an HTTP 200."""
    if status >= 400:
        text = content[:300].decode("utf-8", "replace")
        raise api_error(status, error_fields(content), key, fallback=text or f"HTTP {status}")
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        preview = content[:120].decode("utf-8", "replace")
        raise TransportError(f"the server's answer is not valid JSON: {_scrub(preview, key)!r}") from None
    if not isinstance(data, dict):
        raise TransportError("the server's answer is not a JSON object")
    check_choices(data, key)
    return data


def check_choices(data: dict[str, Any], key: str | None, partial: str | None = None) -> None:
    """Raise for a top-level `error` or a choice that finished with an error (both seen in 200s).

    `partial` is the text kept in the error (default: the text in `data`; a stream passes the
    text assembled so far)."""
    if isinstance(data.get("error"), dict):
        raise api_error(None, data["error"], key, partial=_partial_text(data) if partial is None else partial)
    for choice in data.get("choices") or []:
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            error = choice.get("error") if isinstance(choice.get("error"), dict) else {}
            raise api_error(None, error, key, fallback="the provider stopped with an error",
                            partial=_partial_text(data) if partial is None else partial)


def _partial_text(data: dict[str, Any]) -> str:
    choices = data.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    return str(message.get("content") or first.get("text") or "")
