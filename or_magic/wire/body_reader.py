"""Reading a non-streamed answer's body under the two clocks a stream has (stream_reader.py).

httpx's `timeout` bounds each read, so a server that trickles its JSON a byte at a time, or sends
keep-alive whitespace before it forever, would never time out.  The body is read in the pieces
httpx hands over instead; each piece is checked against two clocks: whitespace before the JSON
(the keep-alive some servers send while generating) does not reset the silence clock
(`settings.timeout`), and the whole attempt, from sending the request, must end within
`settings.deadline`.  The clocks are checked as pieces arrive, so a server that goes fully silent
is still bounded by httpx's per-read `timeout`.

`Body` holds the decisions and the bytes; only the loop exists twice (`read_body`, `aread_body`),
once per I/O style.  The bytes (decoded, as httpx's `response.content` would be) then go with the
response's status and headers to the usual judging, so status handling, errors inside an HTTP
200, JSON decoding and retries are exactly as for any answer.  They are not copied into a second
`httpx.Response`: building one decodes the body again, which costs more than the rest of the
reading (measured ~50 us a request under load).

A clock that fires raises TimeoutError, which is not retried, as in a stream after its head: the
answer had begun, so the server is generating (and billing) it, a second attempt would be billed
again and take as long, and each retry would restart the clock (`max_retries + 1` deadlines).
"""

from __future__ import annotations

import time

import httpx

from ..core import jsonbody
from ..core.errors import TimeoutError
from ..core.settings import Settings


def over_deadline(settings: Settings, partial: str = "") -> TimeoutError:
    """The error when an answer (streamed or not) took longer than the `deadline` in all."""
    return TimeoutError(f"the answer took longer than {settings.deadline:g} s in all (deadline); raise it "
                        "with %config OpenRouterMagics.deadline = SECONDS", partial=partial)


def only_whitespace(settings: Settings) -> TimeoutError:
    return TimeoutError(f"the server sent only keep-alive whitespace for {settings.timeout:g} s (timeout); "
                        "raise it with %config OpenRouterMagics.timeout = SECONDS")


def timeout_text(settings: Settings, exc: Exception) -> str:
    """Which of httpx's per-read clocks fired, and how to raise it."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {settings.connect_timeout:g} s (connect_timeout)"
    return (f"the server sent nothing for {settings.timeout:g} s (timeout); "
            "raise it with %config OpenRouterMagics.timeout = SECONDS")


class Body:
    """The pieces of one answer's body so far, and the clocks they arrive under."""

    __slots__ = ("_settings", "_started", "_heard", "_begun", "_pieces", "_failure", "_late")

    def __init__(self, settings: Settings, started: float) -> None:
        self._settings = settings
        self._started = self._heard = started  # when the request was sent
        self._begun = False  # has anything but whitespace arrived?
        self._pieces: list[bytes] = []
        self._failure: TimeoutError | None = None
        self._late = False

    def take(self, piece: bytes) -> bool:
        """Keep one piece; False when a clock fired and reading must stop."""
        now = time.monotonic()
        if self._begun or not piece.isspace():  # isspace() stops at the first other byte: cheap
            self._begun, self._heard = True, now
        elif now - self._heard > self._settings.timeout:
            self._failure = only_whitespace(self._settings)
            return False
        self._pieces.append(piece)
        if now - self._started > self._settings.deadline:
            self._late = True  # judged in content(): this piece may have completed the answer
            return False
        return True

    def content(self) -> bytes:
        """The whole body; raises the TimeoutError of a clock that fired.

        Raised here, from a frame with no raw bytes in its locals, not while reading: no frame
        a verbose traceback shows holds a piece (which could hold a key the server echoed)."""
        if self._failure is None and self._late and not _whole_json(self._joined()):
            self._failure = over_deadline(self._settings)
        if self._failure is not None:
            raise self._failure
        return self._joined()

    def _joined(self) -> bytes:
        pieces = self._pieces
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_body(head: httpx.Response, body: Body) -> Body:
    """Read `head`'s body into `body` until it ends or a clock fires; the connection is always
    given back (also on Ctrl-C).  httpx's own errors (a read timeout, a drop) propagate."""
    try:
        for piece in head.iter_bytes():
            if not body.take(piece):
                break
    finally:
        head.close()
    return body


async def aread_body(head: httpx.Response, body: Body) -> Body:
    """The asyncio twin of `read_body`."""
    try:
        async for piece in head.aiter_bytes():
            if not body.take(piece):
                break
    finally:
        await head.aclose()
    return body


def _whole_json(content: bytes) -> bool:
    # An answer whose last piece came after the deadline but completed it was paid for: keep it.
    # Only reached when the deadline fired, so the extra parse costs nothing in the common case.
    try:
        return isinstance(jsonbody.loads(content), dict)
    except (ValueError, UnicodeDecodeError):
        return False
