"""HTTP to OpenRouter (or any OpenAI-compatible server): auth, attribution, retries, errors.

The only module that imports httpx.  Everything the server says goes through `check_answer`,
which turns an error status, an error body inside an HTTP 200, or a choice that finished with
`"error"` into an `APIError`; httpx's own exceptions become `TransportError`s at this boundary.
The API key is read per client from the environment and scrubbed from any server text.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

import httpx

from . import __version__, jsonbody
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
        # A stream is retried only until its response head arrives: after that, text may have
        # been shown and paid for, and a retry would be a different answer.
        max_retries = max(0, self.settings.max_retries)
        for attempt in range(max_retries + 1):
            request = self._http.build_request(method, path, json=body, params=params)
            try:
                response = self._http.send(request, stream=stream)
                if stream and response.status_code >= 400:
                    _read_whole(response)
            except httpx.TimeoutException as exc:
                failure: Exception = TimeoutError(_timeout_text(self.settings, exc))
                status, headers, error = None, {}, {}
            except httpx.TransportError as exc:
                failure = TransportError(f"could not reach {self.base_url}: {_scrub(str(exc), self._key)}")
                status, headers, error = None, {}, {}
            else:
                if response.status_code < 400:
                    return response
                status, headers = response.status_code, response.headers
                error = error_fields(response.content)
                failure = None  # type: ignore[assignment]
            retryable = status is None or should_retry(status, error)
            delay = retry_delay(attempt, headers, error) if retryable and attempt < max_retries else None
            if delay is None:
                if failure is not None:
                    raise failure
                return response
            self._notice(status, delay, attempt + 1, max_retries)
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _notice(self, status: int | None, delay: float, attempt: int, max_retries: int) -> None:
        if self.on_retry is not None:
            what = {429: "rate limited"}.get(status or 0, f"HTTP {status}" if status else "connection failed")
            self.on_retry(f"or_magic: {what}, retrying in {delay:.1f} s ({attempt}/{max_retries})")


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
        data = jsonbody.loads(content)
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
