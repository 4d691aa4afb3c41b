"""Reading a streamed (SSE) answer off an httpx response into the assembled body.

The connection is closed the moment anything goes wrong or the user interrupts, so the server
stops generating; every failure keeps the text (and the partial body) received so far.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Iterator

import httpx

from ..core.errors import ORMagicError, TimeoutError, TransportError
from ..core.secrets import scrub, scrub_bytes, scrub_json
from ..core.settings import Settings
from .answers import check_answer, check_choices
from .body_reader import Body, over_deadline, read_body
from .sse import DONE, SSEError, SSEParser
from .stream import StreamAssembler, StreamCancelled, TextHook, reasoning_piece


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
        # An error, or a server that does not stream: one plain body, under the same clocks.
        content = read_body(response, Body(settings, time.monotonic())).content()
        return check_answer(response.status_code, response.headers, content, key)
    assembler = StreamAssembler()
    failure: BaseException | None = None
    try:
        try:
            _read_events(response, assembler, key, on_text, settings)
        finally:  # closing mid-body drops the connection: the server stops generating
            response.close()
    except KeyboardInterrupt:
        assembler.cancel()
        failure = StreamCancelled(_clean_body(assembler, key))
    except SSEError as exc:
        # The key is removed before the line is shortened: a cut key would no longer match.
        shown = scrub(exc.line.decode("utf-8", "replace"), key)[:80]
        failure = _kept(TransportError(f"the stream is malformed: not a server-sent-events line: {shown!r}",
                                       partial=scrub(assembler.text, key)), assembler, key)
    except httpx.TimeoutException:
        failure = _kept(TimeoutError(
            f"the stream went silent: nothing arrived for {settings.timeout:g} s (timeout); raise it "
            "with %config OpenRouterMagics.timeout = SECONDS", partial=scrub(assembler.text, key)), assembler, key)
    except httpx.TransportError as exc:
        failure = _kept(TransportError(f"the connection dropped mid-stream ({scrub(str(exc), key) or type(exc).__name__})",
                                       partial=scrub(assembler.text, key)), assembler, key)
    except ORMagicError as exc:  # an error chunk, or the stream ended early
        failure = _kept(exc, assembler, key)
    if failure is not None:
        # Raised out here, with no traceback or context of its own: nothing chains back to the raw
        # line, and no frame whose locals hold unscrubbed payloads shows under %xmode Verbose.
        failure.__context__ = failure.__cause__ = None
        raise failure.with_traceback(None)
    return _clean_body(assembler, key)


def _read_events(response: httpx.Response, assembler: StreamAssembler, key: str | None,
                 on_text: TextHook | None, settings: Settings) -> None:
    # One read may carry several events (often the usage chunk together with [DONE]): every
    # payload before DONE counts, whatever else arrived with it.
    for payload in watched_events(response.iter_bytes(), settings, assembler, key):
        if payload == DONE:
            return
        _add_chunk(assembler, payload, key, on_text)
    if not assembler.finished:
        raise TransportError("the stream ended before the answer did (no finish_reason, no [DONE])",
                             partial=scrub(assembler.text, key))


def watched_events(pieces: Iterable[bytes], settings: Settings, assembler: StreamAssembler,
                   key: str | None) -> Iterator[bytes]:
    """The data payloads of a byte stream, with two clocks httpx's per-read timeout lacks: only
    an event resets the silence clock (keep-alive comments and stray bytes do not), and the whole
    answer must arrive within `settings.deadline`."""
    parser = SSEParser()
    started = heard = time.monotonic()
    for piece in pieces:
        events = parser.feed(piece)
        now = time.monotonic()
        if events:
            heard = now
        elif now - heard > settings.timeout:
            raise TimeoutError(f"the stream sent only keep-alives for {settings.timeout:g} s (timeout); raise it "
                               "with %config OpenRouterMagics.timeout = SECONDS", partial=scrub(assembler.text, key))
        if now - started > settings.deadline:
            raise over_deadline(settings, partial=scrub(assembler.text, key))
        yield from events
        if parser.done:
            return
    yield from parser.close()


def _add_chunk(assembler: StreamAssembler, payload: bytes, key: str | None, on_text: TextHook | None) -> None:
    payload = scrub_bytes(payload, key)  # a server echoing the key must not put it in the kept body
    try:
        chunk = json.loads(payload)
    except ValueError:
        preview = payload[:80].decode("utf-8", "replace")
        raise TransportError(f"the stream sent a chunk that is not JSON: {scrub(preview, key)!r}",
                             partial=scrub(assembler.text, key)) from None
    if not isinstance(chunk, dict):
        raise TransportError("the stream sent a chunk that is not a JSON object", partial=scrub(assembler.text, key))
    piece = assembler.add(chunk)
    if "error" in chunk or assembler.error_finish:  # the text so far is joined only when needed
        check_choices(chunk, key, partial=scrub(assembler.text, key))
    thought = reasoning_piece(chunk)
    if thought and on_text is not None and callable(getattr(on_text, "reasoning", None)):
        on_text.reasoning(thought)  # type: ignore[attr-defined]  # a display that shows thinking apart
    if piece and on_text is not None:
        on_text(piece)


def _kept(error: Exception, assembler: StreamAssembler, key: str | None) -> Exception:
    """Attach the partial body to a failure, so the run keeps its partial logprobs too."""
    error.body = _clean_body(assembler, key)
    return error


def _clean_body(assembler: StreamAssembler, key: str | None) -> dict[str, Any]:
    """The assembled body without the key: an echoed key may be split over several chunks (in the
    text, the reasoning, a tool call's arguments, any choice), so each chunk alone cannot be
    trusted to show it; the whole body is checked once it is joined."""
    return scrub_json(assembler.body(), key)
