"""HTTP plumbing of the fake OpenRouter server: request recording, auth, routing.

The server state and test controls live in ``tests/fakeserver/server.py`` (FakeOpenRouter);
the handler reaches them through ``self.server.fake``.
"""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from tests.fakeserver import catalog as catalog
from tests.fakeserver.bodies import BadRequest, parse_job
from tests.fakeserver.faults import error_body
from tests.fakeserver.wire import Aborted, Wire, write_completion, write_stream

if TYPE_CHECKING:
    from tests.fakeserver.server import FakeOpenRouter

PREFIX = "/api/v1"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict | None
    at: float = 0.0  # time.monotonic() when the request had arrived (line and headers read): the server's clock


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    fake: FakeOpenRouter

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # client hang-ups are expected here; handler bugs answer 500 themselves


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: Server

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()
        with self.server.fake.lock:
            self.server.fake.conns.add(self.request)

    def finish(self) -> None:
        with self.server.fake.lock:
            self.server.fake.conns.discard(self.request)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass  # no per-request logging: benchmarks measure ~1 ms overheads

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self) -> None:
        fake = self.server.fake
        w = Wire(self, fake.stopping)
        try:
            self._route(fake, w)
        except (OSError, Aborted):
            w.drop()  # client went away, or the server is stopping
        except Exception as exc:  # a bug in the fake: say so loudly, keep serving
            import traceback
            traceback.print_exc()
            w.send_json(500, error_body(500, f"fake server bug: {exc!r}"))

    def _read_request(self) -> tuple[Recorded, object, bool]:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body, bad_json = None, False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        rec = Recorded(self.command, url.path, dict(parse_qsl(url.query)),
                       {k.lower(): v for k, v in self.headers.items()},
                       body if isinstance(body, dict) else None, arrived)
        return rec, body, bad_json

    def _route(self, fake: FakeOpenRouter, w: Wire) -> None:
        rec, body, bad_json = self._read_request()
        fake.record(rec)
        route = (rec.method, rec.path.removeprefix(PREFIX))
        if fake.require_key is not None and not self._authorized(fake, w):
            return
        if route in (("POST", "/chat/completions"), ("POST", "/completions")):
            if bad_json:
                return w.send_json(400, error_body(400, "Invalid JSON in request body"))
            endpoint = "chat" if route[1] == "/chat/completions" else "completions"
            return self._completion(fake, w, endpoint, body)
        if rec.method == "GET":
            return self._get(fake, w, route[1], rec.query)
        w.send_json(404, error_body(404, "Not Found"))

    def _authorized(self, fake: FakeOpenRouter, w: Wire) -> bool:
        auth = self.headers.get("Authorization")
        if auth == f"Bearer {fake.require_key}":
            return True
        w.send_json(401, error_body(401, None if auth is None else "User not found."))
        return False

    def _get(self, fake: FakeOpenRouter, w: Wire, path: str, query: dict[str, str]) -> None:
        if path == "/models":
            return w.send_json(200, {"data": catalog.list_models(query.get("supported_parameters"))})
        if path in ("/key", "/auth/key"):
            return w.send_json(200, fake.key_info())
        if path.startswith("/models/") and path.endswith("/endpoints"):
            data = catalog.endpoints_data(path[len("/models/"):-len("/endpoints")])
            if data is None:
                return w.send_json(404, error_body(404, "No endpoints found for this model"))
            return w.send_json(200, {"data": data})
        if path == "/generation":
            with fake.lock:
                ready_at, stats = fake.generations.get(query.get("id", ""), (0.0, None))
            if stats is None or time.monotonic() < ready_at:  # OpenRouter: 404 for a few seconds
                return w.send_json(404, error_body(404, "Generation not found"))
            return w.send_json(200, {"data": stats})
        if path == "/credits":
            return w.send_json(403, error_body(403, "Only management keys can fetch credits",
                                               metadata={}))
        w.send_json(404, error_body(404, "Not Found"))

    def _completion(self, fake: FakeOpenRouter, w: Wire, endpoint: str, body: object) -> None:
        fake.enter()
        try:
            self._complete(fake, w, endpoint, body)
        finally:
            fake.leave()

    def _complete(self, fake: FakeOpenRouter, w: Wire, endpoint: str, body: object) -> None:
        started = time.monotonic()
        fault = fake.fault_for(body)
        if fault and fault.kind == "drop_before":
            return w.drop()
        if fault and fault.kind == "stall" and fault.after is None:
            w.wait(fault.seconds)
        w.wait(fake.latency)
        if fault and fault.kind == "http":
            return w.send_json(fault.status, fault.body, fault.headers)
        scripted = fake.scripted_answer(endpoint, body)
        if scripted is not None:
            return w.send_json(200, scripted)
        try:
            job = parse_job(endpoint, body, logprobs_style=fake.completions_logprobs_style,
                            usage_style=fake.usage_style, prefill_style=fake.prefill_style,
                            memory=fake.prompts)
        except BadRequest as exc:
            return w.send_json(exc.status, exc.body)
        if job.stream:
            write_stream(w, job, fault, lambda: fake.chunk_delay)
        else:
            write_completion(w, job, fault)
        if not (fault and fault.kind == "error_200"):
            fake.served(job, started, fault)
