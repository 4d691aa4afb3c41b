"""Server-sent events, as OpenAI-compatible servers send them: a pure, incremental parser.

Bytes go in as they arrive (in pieces cut anywhere); complete events come out.  Only what a
completion stream uses is kept: `data:` lines (several in one event are joined with a newline,
as the SSE spec says).  `:` comment lines (OpenRouter's `: OPENROUTER PROCESSING` keep-alives),
`event:`, `id:` and `retry:` lines are skipped.  `data: [DONE]` ends the stream.  Any other
non-empty line is not SSE at all (an HTML error page, a proxy's debug output): it raises
`SSEError` at once rather than being silently ignored, so a broken stream cannot look like a
short answer.  No I/O and no or_magic imports, so it can be fuzzed on its own.
"""

from __future__ import annotations

from typing import Iterable, Iterator

DONE = b"[DONE]"
_IGNORED_FIELDS = frozenset({b"event", b"id", b"retry"})


class SSEError(ValueError):
    """A line that is not valid server-sent-events syntax (`line` holds it whole)."""

    def __init__(self, message: str, line: bytes = b"") -> None:
        super().__init__(message)
        self.line = line


class SSEParser:
    """Feed bytes, get the `data` payloads of complete events (bytes; `DONE` ends the stream)."""

    def __init__(self) -> None:
        # An incomplete last line, kept in pieces until its newline arrives: joined once then, so
        # one large event arriving in many reads costs linear time, not quadratic.
        self._tail: list[bytes] = []
        self._data: list[bytes] = []  # data lines of the event being read
        self.done = False
        self._error: SSEError | None = None  # a bad line met after good events: raised next call

    def feed(self, piece: bytes) -> list[bytes]:
        """The payloads of the events completed by `piece`, in order."""
        if self._error is not None:
            raise self._error
        if b"\n" not in piece:
            if piece:
                self._tail.append(piece)
            return []
        if self._tail:
            self._tail.append(piece)
            piece, self._tail = b"".join(self._tail), []
        lines = piece.split(b"\n")
        last = lines.pop()
        self._tail = [last] if last else []
        events: list[bytes] = []
        for line in lines:
            if self.done:
                break
            try:
                payload = self._line(line[:-1] if line.endswith(b"\r") else line)
            except SSEError as exc:
                if not events:
                    raise
                self._error = exc  # the events before the bad line were sent (and paid for) first
                break
            if payload is not None:
                events.append(payload)
        return events

    def close(self) -> list[bytes]:
        """End of input: an unterminated last event still counts (some servers omit the blank line)."""
        if self._error is not None:
            raise self._error
        events = self.feed(b"\n\n") if (self._tail or self._data) and not self.done else []
        self._tail = []
        return events

    def _line(self, line: bytes) -> bytes | None:
        if not line:  # blank line: the event is complete
            return self._dispatch()
        if line[0] == 0x3A:  # b":" comment / keep-alive
            return None
        name, colon, value = line.partition(b":")
        if name == b"data":
            self._data.append(value[1:] if value[:1] == b" " else value)
            return None
        if colon and name in _IGNORED_FIELDS:
            return None
        shown = line[:80].decode("utf-8", "replace")
        raise SSEError(f"not a server-sent-events line: {shown!r}", line)

    def _dispatch(self) -> bytes | None:
        if not self._data:
            return None
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        if payload == DONE:
            self.done = True
        return payload


def iter_events(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Every data payload in a byte stream, up to (and including) `DONE`."""
    parser = SSEParser()
    for piece in pieces:
        yield from parser.feed(piece)
        if parser.done:
            return
    yield from parser.close()
