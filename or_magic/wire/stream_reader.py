"""Reading a streamed (SSE) answer off an httpx response into the assembled body.

The connection is closed the moment anything goes wrong or the user interrupts, so the server
stops generating; every failure keeps the text (and the partial body) received so far.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..core.errors import ORMagicError, TimeoutError, TransportError
from ..core.secrets import scrub, scrub_bytes, scrub_json
from ..core.settings import Settings
from .answers import check_answer, check_choices
from .sse import DONE, SSEError, iter_events
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
        read_whole(response)  # an error, or a server that does not stream: one plain body
        return check_answer(response.status_code, response.headers, response.content, key)
    assembler = StreamAssembler()
    try:
        try:
            _read_events(response, assembler, key, on_text)
        finally:  # closing mid-body drops the connection: the server stops generating
            response.close()
    except KeyboardInterrupt:
        assembler.cancel()
        raise StreamCancelled(_clean_body(assembler, key)) from None
    except SSEError as exc:
        # The key is removed before the line is shortened: a cut key would no longer match.
        shown = scrub(exc.line.decode("utf-8", "replace"), key)[:80]
        raise _kept(TransportError(f"the stream is malformed: not a server-sent-events line: {shown!r}",
                                   partial=scrub(assembler.text, key)), assembler, key) from None
    except httpx.TimeoutException:
        raise _kept(TimeoutError(
            f"the stream went silent: nothing arrived for {settings.timeout:g} s (timeout); raise it "
            "with %config OpenRouterMagics.timeout = SECONDS", partial=scrub(assembler.text, key)), assembler, key) from None
    except httpx.TransportError as exc:
        raise _kept(TransportError(f"the connection dropped mid-stream ({scrub(str(exc), key) or type(exc).__name__})",
                                   partial=scrub(assembler.text, key)), assembler, key) from None
    except ORMagicError as exc:  # an error chunk, or the stream ended early
        raise _kept(exc, assembler, key)
    return _clean_body(assembler, key)


def _read_events(response: httpx.Response, assembler: StreamAssembler, key: str | None,
                 on_text: TextHook | None) -> None:
    # One read may carry several events (often the usage chunk together with [DONE]): every
    # payload before DONE counts, whatever else arrived with it.
    for payload in iter_events(response.iter_bytes()):
        if payload == DONE:
            return
        _add_chunk(assembler, payload, key, on_text)
    if not assembler.finished:
        raise TransportError("the stream ended before the answer did (no finish_reason, no [DONE])",
                             partial=scrub(assembler.text, key))


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
    """The assembled body without the key: an echoed key may be split over several chunks, so
    each chunk alone cannot be trusted to show it.  Tokens join into the text, so a key that is
    not in the text is nowhere in the body (error chunks were scrubbed on arrival)."""
    body = assembler.body()
    return scrub_json(body, key) if key and key in assembler.text else body


def read_whole(response: httpx.Response) -> None:
    """Read a plain-JSON answer to a stream request (an error, say) whole and free the connection."""
    try:
        response.read()
    finally:
        response.close()
