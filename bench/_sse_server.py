"""A local streaming server for bench_stream.py: one 2,000-token chat stream, timed at the source.

Every POST (any path, any body) gets the same stream, byte for byte what the project's fake
OpenRouter server sends for it (the chunks come from tests/fakeserver/bodies.py): the head and a
keep-alive comment, a pause, the first token's chunk, a pause, then every other chunk, the
usage chunk and `[DONE]` in one write.  Just before writing the first chunk and the rest it
reads CLOCK_MONOTONIC (shared by all processes on the machine), and `GET /timings` returns
those two instants for the last stream, so a client process can tell how long after the
server's first byte it showed text, and how fast it consumed a burst of chunks.  `GET /text`
returns the stream's full text, for checking what a subject displayed.

    python bench/_sse_server.py --port N [--tokens 2000] [--gap 0.03]   # prints URL=...
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeserver.bodies import encode, parse_job, stream_chunks  # noqa: E402

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"


def _framed(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def build_stream(tokens: int) -> tuple[bytes, bytes, str, int]:
    """(first chunk, everything after it, the full text, number of data events)."""
    job = parse_job("chat", {"model": "openai/gpt-4o-mini", "seed": 1, "max_tokens": tokens,
                             "messages": [{"role": "user", "content": "Tell me a long story."}], "stream": True},
                    logprobs_style="legacy", usage_style="after_finish")
    events = [b"data: " + encode(chunk) + b"\n\n" for chunk in stream_chunks(job)]
    rest = b"".join(_framed(e) for e in events[1:]) + _framed(b"data: [DONE]\n\n") + b"0\r\n\r\n"
    return _framed(events[0]), rest, job.gen.text, len(events)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stream: tuple[bytes, bytes, str, int]
    gap = 0.03
    timings: dict[str, int] = {}

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        first, rest, _, _ = self.stream
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + _framed(KEEPALIVE))
        time.sleep(self.gap)  # the model "thinks"; the client waits in a socket read, as it would
        first_ns = time.monotonic_ns()
        self.wfile.write(first)
        time.sleep(self.gap)  # keeps the first text's timing apart from the burst's
        rest_ns = time.monotonic_ns()
        self.wfile.write(rest)
        Handler.timings = {"first_byte_ns": first_ns, "rest_ns": rest_ns}

    def do_GET(self) -> None:
        _, _, text, events = self.stream
        body = json.dumps(Handler.timings if self.path.endswith("/timings") else
                          {"text": text, "events": events}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--gap", type=float, default=0.03)
    args = ap.parse_args()
    Handler.stream = build_stream(args.tokens)
    Handler.gap = args.gap
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"URL=http://127.0.0.1:{server.server_address[1]}/api/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
