"""Byte-level output of the fake OpenRouter server: JSON replies, SSE over chunked
transfer encoding, and the wire faults (drops, stalls, truncation, slow bodies).

Why chunked for SSE: keep-alive connections stay reusable, and a dropped stream is
detectable by the client (incomplete chunked body) instead of looking like a
normal end of body, as it would with ``Connection: close``.
"""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Callable

from tests.fakeserver.bodies import (
    Job,
    encode,
    error_chunk,
    response_body,
    stream_chunks,
)
from tests.fakeserver.faults import Fault

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
KEEPALIVE_EVERY = 0.05  # seconds between keep-alive comments of a `keepalive` fault
# A non-streamed answer's keep-alive: whitespace before the JSON (JSON allows it), sent while the
# answer is being generated so proxies and read timeouts see bytes (DeepSeek's API, sglang do so).
KEEPALIVE_WHITESPACE = b"\n"
MALFORMED_LINE = b"OPENROUTER-DEBUG this line has no field separator\n\n"
NON_JSON_LINE = b'data: {"id": "gen-broken", "choices": [ not json\n\n'


class Aborted(Exception):
    """The server is stopping: abandon the response."""


class Wire:
    """Writes one response on a handler's connection; ``wait`` wakes up on stop()."""

    def __init__(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        self.h = handler
        self.stopping = stopping

    def wait(self, seconds: float) -> None:
        if seconds > 0 and self.stopping.wait(seconds):
            raise Aborted

    def head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}", f"Date: {self.h.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.h.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> None:
        """Whole response in one write: one packet for small bodies (TCP_NODELAY is on)."""
        hdrs = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
        self.h.wfile.write(self.head(status, hdrs) + body)

    def send_json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self.send(status, encode(obj), headers)

    def drop(self) -> None:
        """Close the TCP connection now, whatever was (not) sent."""
        self.h.close_connection = True
        try:
            self.h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- chunked transfer encoding for SSE ---
    def chunk(self, data: bytes) -> None:
        self.h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def event(self, obj: object) -> None:
        self.chunk(b"data: " + encode(obj) + b"\n\n")

    def end_chunks(self) -> None:
        self.h.wfile.write(b"0\r\n\r\n")


def _reason(status: int) -> str:
    return BaseHTTPRequestHandler.responses.get(status, ("Error",))[0]


def write_completion(w: Wire, job: Job, fault: Fault | None) -> None:
    """A non-stream completion, shaped by a 200-level fault if any."""
    kind = fault.kind if fault else None
    if kind == "error_200":
        obj = fault.body
    elif kind in ("finish_error", "midstream"):
        upto = min(fault.after or 0, len(job.gen.tokens))
        obj = response_body(job, upto, fault.body)
    else:
        obj = response_body(job)
    data = b"not json" if kind == "non_json" else encode(obj)
    if kind == "truncated_json":
        data = data[: len(data) // 2]
    if kind == "keepalive":
        return _whitespace_then(w, job, data, fault.seconds)
    headers = {"Content-Type": "application/json", "Content-Length": str(len(data)),
               "X-Generation-Id": job.gen_id}
    if kind not in ("drop_midstream", "slow_body") and not (kind == "stall" and fault.after is not None):
        w.h.wfile.write(w.head(200, headers) + data)
        return
    w.h.wfile.write(w.head(200, headers))
    if kind == "drop_midstream":
        w.h.wfile.write(data[: len(data) // 2])
        w.drop()
    elif kind == "stall":
        w.wait(fault.seconds)
        w.h.wfile.write(data)
    else:  # slow_body: about ten pieces over fault.seconds
        step = max(1, len(data) // 10)
        for i in range(0, len(data), step):
            w.wait(fault.seconds / 10)
            w.h.wfile.write(data[i:i + step])


def _whitespace_then(w: Wire, job: Job, data: bytes, seconds: float) -> None:
    """The head at once, then only keep-alive whitespace for `seconds`, then the JSON: chunked,
    since the length is not known while the answer is still being generated."""
    w.h.wfile.write(w.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                                 "X-Generation-Id": job.gen_id}))
    for _ in range(max(1, int(seconds / KEEPALIVE_EVERY))):
        w.wait(KEEPALIVE_EVERY)
        w.chunk(KEEPALIVE_WHITESPACE)
    w.chunk(data)
    w.end_chunks()


def write_stream(w: Wire, job: Job, fault: Fault | None, chunk_delay: Callable[[], float]) -> None:
    """SSE: keep-alive comment, chunks (each preceded by a comment when delayed),
    [DONE]; a fault acts just before data chunk number ``fault.after``."""
    w.h.wfile.write(w.head(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                 "Transfer-Encoding": "chunked", "X-Generation-Id": job.gen_id}))
    w.chunk(KEEPALIVE)
    chunks = list(stream_chunks(job))
    kind = fault.kind if fault else None
    at = 0 if kind == "error_200" else (fault.after if fault and fault.after is not None else -1)
    spread = fault.seconds / len(chunks) if kind == "slow_body" else 0.0
    for i in range(len(chunks) + 1):
        if i == min(at, len(chunks)) and _stream_fault(w, job, fault, chunks[i:i + 1]):
            return
        if i == len(chunks):
            break
        delay = spread or (chunk_delay() if i else 0.0)
        if delay > 0:
            w.wait(delay)
            w.chunk(KEEPALIVE)
        w.event(chunks[i])
    w.chunk(b"data: [DONE]\n\n")
    w.end_chunks()


def _stream_fault(w: Wire, job: Job, fault: Fault, nxt: list[dict]) -> bool:
    """Act out a stream fault; True when the stream is over."""
    kind = fault.kind
    if kind in ("midstream", "finish_error", "error_200"):
        err = fault.body["error"] if kind == "error_200" else fault.body
        w.event(error_chunk(job, err))
        w.end_chunks()
        return True
    if kind == "drop_midstream":
        w.drop()
        return True
    if kind == "truncated_json":
        line = encode(nxt[0] if nxt else error_chunk(job, {}))
        w.chunk(b"data: " + line[: len(line) // 2] + b"\n\n")
        w.end_chunks()
        return True
    if kind == "malformed_sse":
        w.chunk(MALFORMED_LINE)
    elif kind == "non_json":
        w.chunk(NON_JSON_LINE)
    elif kind == "stall":
        w.wait(fault.seconds)
    elif kind == "keepalive":  # only `: OPENROUTER PROCESSING` comments for a while: no text at all
        for _ in range(max(1, int(fault.seconds / KEEPALIVE_EVERY))):
            w.wait(KEEPALIVE_EVERY)
            w.chunk(KEEPALIVE)
    return False
