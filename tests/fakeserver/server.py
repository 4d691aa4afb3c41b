"""A local OpenRouter-compatible server for tests and benchmarks (stdlib only).

Nothing in the test suite may call a remote host; everything talks to this server
on 127.0.0.1. It imitates the wire facts in OPENROUTER.md, odd cases included.

Interface (``FakeOpenRouter(latency=0.0, chunk_delay=0.0, require_key=None, chaos=0.0, chaos_seed=0,
completions_logprobs_style="legacy", usage_style="after_finish", port=0)``)::

    with FakeOpenRouter() as srv:
        srv.base_url               # "http://127.0.0.1:<port>/api/v1"
        srv.requests               # list[Recorded], in arrival order
        srv.last                   # the last Recorded
        srv.fail_next(429)         # next completion request gets a realistic 429
        srv.fail_next(Fault.midstream_error(after_chunks=2), count=3)
        srv.clear()                # forget requests, faults, scripts, prompts, max_in_flight
        srv.prefill_style = "echo" # assistant prefill: "continue" (default), "echo", "ignore"
        srv.script_first_token({"Yes": 0.7, "No": 0.3}, ["Yes"] * 7 + ["No"] * 3)
        srv.max_in_flight          # most completion requests being served at once
        srv.latency = 0.2          # plain attributes, changeable while running:
                                   # latency, chunk_delay, chaos, require_key,
                                   # completions_logprobs_style, usage_style, key_limit
        srv.port                   # the bound port (``port=0`` picks a free one)

``latency`` is slept before the first byte of every completion response (time to first token);
``chunk_delay`` between stream chunks; both (and fault stalls) end on ``stop()``. ``key_limit``
(USD or None) is what GET /key reports.

``Recorded(method, path, query, headers, body, at)``: path like "/api/v1/chat/completions",
query a dict of str, headers with lower-case names, body the parsed JSON object or None, ``at``
the server's ``time.monotonic()`` when the request arrived (for spacing, e.g. ``--rate``).

Endpoints under /api/v1: POST chat/completions, POST completions, GET models
(``?supported_parameters=a,b``), GET key (and auth/key), GET generation?id=,
GET credits (403: management key required). Unknown path: 404; bad JSON: 400;
unknown model: 400 ``model_not_found`` (ids starting ``test/`` or containing
``nologprobs`` are accepted). With ``require_key`` set, a request without
``Authorization: Bearer <key>`` gets OpenRouter's 401 body.

Generation (tests/fakeserver/textgen.py): deterministic from (model, prompt/messages, seed)
when ``seed`` is set or temperature is 0 (streamed or not: same text); fresh
randomness otherwise. Honoured: temperature (0 = argmax; higher = more varied),
top_p, top_k, max_tokens / max_completion_tokens (default 16, finish_reason
"length"), stop (finish_reason "stop"; content is cut exactly at the stop text,
logprobs keep the token it starts in). Out-of-range values get a 400; what the serving
provider does not support (penalties, a seed on Together, ...) is dropped, as on OpenRouter.
Routing (routing.py, catalog._ENDPOINTS: meta-llama/llama-3.1-8b-instruct has three providers
that differ on purpose): ``provider`` {order, allow_fallbacks, sort, ignore, quantizations,
max_price, data_collection, require_parameters} and the ``models`` fallback list are honoured; nothing fitting is
OpenRouter's 404; GET models/{author}/{slug}/endpoints lists each provider's parameters.
Reasoning (reasoning.py): deepseek/deepseek-r1 thinks when asked, streamed as delta.reasoning.
``generation_delay`` (s): GET generation answers 404 until then. Structured output and tools
(tests/fakeserver/structured.py): ``response_format`` json_schema gets JSON valid for
the schema (deterministic from model, prompt and seed; prompt markers such as
``[fake:wrong_type]`` script invalid JSON / wrong types / missing / extra fields);
``tools`` get tool calls (content null, finish_reason "tool_calls") for
``tool_choice`` required or a named function, or when the prompt names a tool;
streamed as OpenAI's indexed ``delta.tool_calls`` pieces. Chat logprobs need
``logprobs: true`` (+``top_logprobs`` 0-20); /completions gives them for
``logprobs: <int 0-5>`` or ``top_logprobs``, in the legacy shape, or in the chat
shape when ``completions_logprobs_style == "chat"``. Models without "logprobs" in
their supported_parameters (anthropic/claude-3.5-haiku, any id containing
``nologprobs``) answer ``logprobs: null``. Emoji come as partial UTF-8 byte tokens.

Continuation (tests/fakeserver/continuation.py): a chat request ending with an assistant message
continues that prefill (``prefill_style``), and a /completions prompt that extends one served
before continues it, both exactly where generating that text would have gone on. Scripted
answers (tests/fakeserver/scripted.py): one-token answers with known reported probabilities
and sampled frequencies, for calibration.

Streaming: SSE over chunked encoding; ``: OPENROUTER PROCESSING`` first and before
every chunk when chunk_delay > 0; one chunk per token; a finish chunk; a usage chunk
shaped by ``usage_style`` ("after_finish": one choice with empty delta after the
finish chunk, as captured; "empty_choices": ``choices: []``, as documented),
overridable per request with the body field ``fake_usage_style``; ``data: [DONE]``.

Faults (tests/fakeserver/faults.py, class ``Fault``; its docstring tables what each kind
does to stream and non-stream requests). Queued with ``fail_next``, they hit the
next completion requests in order. Named constructors:
``Fault.http(status, message=None, *, metadata=None, headers=None, body=None)``
(any status, OpenRouter's real body: 401 no credentials, 402 credits, 403 moderation
with metadata.reasons, 429 with Retry-After + X-RateLimit-*, 502 metadata.raw as
JSON-in-a-string, 503, 524, 529, ...), ``Fault.rate_limit(retry_after=1, *,
retry_after_ms=None, http_date=False, headers=None)``, ``Fault.free_tier_daily()``,
``Fault.availability(status=503, code=..., retryable=True, retry_after=2)`` (no
error.code), ``Fault.error_in_200(status=502)``, ``Fault.finish_error(after_tokens=3,
code=502)``, ``Fault.midstream_error(after_chunks=2, code=429)`` (code int or str),
``Fault.malformed_sse(after_chunks=1)``, ``Fault.non_json_data(after_chunks=1)``,
``Fault.drop_before()``, ``Fault.drop_midstream(after_chunks=2)``,
``Fault.stall(seconds, after_chunks=None)``, ``Fault.truncated_json(after_chunks=0)``,
``Fault.slow_body(seconds=0.5)``, ``Fault.keepalive(seconds, after_chunks=1)`` (non-stream:
whitespace before the JSON); ``fail_next(<int>)`` is ``Fault.http(<int>)``.
Model ids ``test/error-<status>`` always fail with that status (``test/error-200``:
error inside a 200 body; ``test/error-midstream``: mid-stream error chunk).
``chaos=p``: each completion request, with probability p (seeded by chaos_seed),
gets a random 429 (Retry-After: 0), 500, 502, 503, dropped connection, truncated
JSON, 200-with-error or slow body.
``python -m tests.fakeserver [--port N] [--latency S] [--chunk-delay S] [--chaos P]`` serves
standalone (prints ``OPENROUTER_BASE_URL=...``) until SIGTERM/SIGINT.
"""
from __future__ import annotations

import collections
import random
import socket
import threading
import time

from tests.fakeserver.accounting import generation_stats
from tests.fakeserver.bodies import Job
from tests.fakeserver.continuation import PromptMemory
from tests.fakeserver.faults import Fault, chaos_fault, fault_for_model
from tests.fakeserver.handler import PREFIX, Handler, Recorded, Server
from tests.fakeserver.scripted import Script, scripted_body

__all__ = ["FakeOpenRouter", "Fault", "Recorded"]


class FakeOpenRouter:
    def __init__(self, *, latency: float = 0.0, chunk_delay: float = 0.0,
                 require_key: str | None = None, chaos: float = 0.0, chaos_seed: int = 0,
                 completions_logprobs_style: str = "legacy", usage_style: str = "after_finish",
                 port: int = 0) -> None:
        self.latency, self.chunk_delay, self.chaos = latency, chunk_delay, chaos
        self.require_key = require_key
        self.completions_logprobs_style = completions_logprobs_style
        self.usage_style = usage_style
        self.key_limit: float | None = None  # USD cap reported by GET /key
        self.prefill_style = "continue"  # assistant prefill: "continue", "echo" or "ignore" (continuation.py)
        self.prompts = PromptMemory()  # /completions prompts served, for prompt continuation
        self._scripts: list[Script] = []
        self.requests: list[Recorded] = []
        self.in_flight = 0  # completion requests being served right now
        self.last_request_at = 0.0  # time.monotonic() of the newest request (wait_idle)
        self.max_in_flight = 0  # the most seen at once since the last clear()
        self._port = port
        self.lock = threading.Lock()
        self._faults: collections.deque[Fault] = collections.deque()
        self._chaos_rng = random.Random(chaos_seed)
        self.generations: dict[str, tuple[float, dict]] = {}  # id -> (ready at, stats)
        self.generation_delay = 0.0  # seconds before GET /generation knows an answer, as on OpenRouter
        self._usage = 0.0
        self.stopping = threading.Event()
        self.conns: set[socket.socket] = set()
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> FakeOpenRouter:
        self.stopping.clear()
        self._httpd = Server(("127.0.0.1", self._port), Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openrouter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()  # wakes handlers sleeping in latency/stall/chunk_delay
        self._httpd.shutdown()
        self._httpd.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:  # idle keep-alive connections would otherwise live on
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenRouter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenRouter is not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    # --- test controls ---
    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self._faults.clear()
            self._scripts.clear()
            self.max_in_flight = self.in_flight
        self.prompts.clear()
        self.prefill_style = "continue"

    @property
    def last(self) -> Recorded:
        with self.lock:
            return self.requests[-1]

    def fail_next(self, fault: Fault | int, count: int = 1) -> None:
        f = Fault.coerce(fault)
        with self.lock:
            self._faults.extend([f] * count)

    def script_first_token(self, reported: dict[str, float], sampled: list[str], when: str | None = None) -> None:
        """Answer the next len(sampled) requests (containing `when`) with these one-token answers,
        each reporting `reported` as its distribution (tests/fakeserver/scripted.py)."""
        with self.lock:
            self._scripts.append(Script(dict(reported), collections.deque(sampled), when))

    # --- used by the handler ---
    def scripted_answer(self, endpoint: str, body: object) -> dict | None:
        """The next scripted answer for this request, if a script matches it."""
        if not isinstance(body, dict) or body.get("stream") is True:
            return None
        with self.lock:
            scripts = list(self._scripts)
        for script in scripts:
            if script.matches(body):
                token = script.take()
                if token is not None:
                    legacy = endpoint == "completions" and self.completions_logprobs_style == "legacy"
                    return scripted_body(endpoint, body, token, script.reported, legacy)
        return None

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def record(self, rec: Recorded) -> None:
        with self.lock:
            self.requests.append(rec)
            self.last_request_at = time.monotonic()

    def wait_idle(self, quiet: float = 0.1, limit: float = 3.0) -> None:
        """Wait (at most `limit` s) until no request is being served and none arrived for `quiet`
        s: a test's cancelled sweep may still have requests on their way, which must not be
        counted as the next test's."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            with self.lock:
                busy = self.in_flight > 0 or time.monotonic() - self.last_request_at < quiet
            if not busy:
                return
            time.sleep(0.01)

    def fault_for(self, body: object) -> Fault | None:
        """Queued fault first, then a test/error-<status> model, then chaos."""
        with self.lock:
            if self._faults:
                return self._faults.popleft()
        model = body.get("model") if isinstance(body, dict) else None
        # With a `models` list a failing model is fallen back from (routing.py), not served as a fault.
        fallbacks = isinstance(body, dict) and bool(body.get("models"))
        fault = fault_for_model(model) if isinstance(model, str) and not fallbacks else None
        if fault is None and self.chaos > 0:
            with self.lock:
                if self._chaos_rng.random() < self.chaos:
                    fault = chaos_fault(self._chaos_rng)
        return fault

    def served(self, job: Job, started: float, fault: Fault | None) -> None:
        finish = "error" if fault and fault.kind in ("midstream", "finish_error") else job.gen.finish_reason
        stats = generation_stats(job, int((time.monotonic() - started) * 1000), job.stream, finish)
        with self.lock:
            self._usage += job.cost
            self.generations[job.gen_id] = (time.monotonic() + self.generation_delay, stats)

    def key_info(self) -> dict:
        key = self.require_key or "sk-or-v1-fake0000000000000000key"
        with self.lock:
            used = self._usage
        limit = self.key_limit
        return {"data": {
            "label": f"{key[:12]}...{key[-3:]}", "limit": limit,
            "limit_remaining": None if limit is None else max(0.0, limit - used),
            "limit_reset": None, "usage": used, "usage_daily": used, "usage_weekly": used,
            "usage_monthly": used, "byok_usage": 0, "byok_usage_daily": 0,
            "byok_usage_weekly": 0, "byok_usage_monthly": 0, "include_byok_in_limit": False,
            "is_free_tier": False, "is_management_key": False, "is_provisioning_key": False,
            "expires_at": None, "rate_limit": {"requests": -1, "interval": "10s",
                                               "note": "This field is deprecated"}}}
