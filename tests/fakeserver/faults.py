"""Faults the fake OpenRouter server can inject, and OpenRouter's real error bodies.

A ``Fault`` is plain data; ``tests/fakeserver/server.py`` acts on it. Build one with a
named constructor (see ``Fault``), or pass an int status to ``fail_next``.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from email.utils import formatdate

USER_ID = "user_2fakeOpenRouterUser000"

# Real messages where known (OPENROUTER.md §5); metadata is added by error_body().
_MESSAGES = {
    400: "Invalid request",
    401: "No auth credentials found",
    402: "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
    403: 'Your input was flagged for "harassment". No credits were charged.',
    404: "No endpoints found for this model.",
    408: "Request timed out",
    413: "Request entity too large",
    422: "Unprocessable entity",
    429: "Rate limit exceeded: free-models-per-min. ",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No available model provider that meets your routing requirements",
    504: "Gateway timeout",
    524: "Provider timed out (edge timeout)",
    529: "Provider returned error",
}


def _default_metadata(status: int, model: str) -> dict | None:
    provider = {"provider_name": "OpenAI", "is_byok": False}
    if status == 403:
        return {"reasons": ["harassment"], "flagged_input": "...you are an id...",
                "provider_name": "OpenAI", "model_slug": model}
    if status == 429:
        return {"headers": rate_limit_headers(20), "error_type": "rate_limit_exceeded"}
    if status == 502:
        raw = {"error": {"message": "The server had an error while processing your request.",
                         "type": "server_error", "code": None}}
        return {"raw": json.dumps(raw), **provider}
    if status == 529:
        return {"raw": '{"type":"error","error":{"type":"overloaded_error",'
                       '"message":"Overloaded"}}', "error_type": "provider_overloaded",
                **provider}
    return None


def error_body(status: int, message: str | None = None, metadata: dict | None = None,
               model: str = "openai/gpt-4o-mini") -> dict:
    """``{"error":{"code","message","metadata"?},"user_id"}`` as OpenRouter sends it."""
    err: dict = {"code": status, "message": message or _MESSAGES.get(status, "Error")}
    meta = metadata if metadata is not None else _default_metadata(status, model)
    if meta is not None:
        err["metadata"] = meta
    return {"error": err, "user_id": USER_ID}


def rate_limit_headers(limit: int, reset_ms: int | None = None) -> dict[str, str]:
    """X-RateLimit-* as OpenRouter sends them; Reset is epoch *milliseconds*."""
    if reset_ms is None:
        reset_ms = (int(time.time()) // 60 + 1) * 60_000  # start of the next minute
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset_ms)}


@dataclass
class Fault:
    """One injected failure. Kinds, and what they do to a stream / non-stream request:

    ==================  ==========================================================
    ``http``            HTTP ``status`` + ``body`` + ``headers`` (both; no SSE)
    ``error_200``       HTTP 200 whose JSON has a top-level ``error``; stream: the
                        error chunk is the first event
    ``finish_error``    200 with ``choices[0].finish_reason:"error"`` and
                        ``choices[0].error`` beside ``after`` tokens of content;
                        stream: same as ``midstream``
    ``midstream``       stream: ``after`` chunks, then an error chunk (OPENROUTER.md
                        §4; ``code`` int or str), then the stream ends without
                        [DONE]; non-stream: same as ``finish_error``
    ``malformed_sse``   stream: after ``after`` chunks a line with no ``:`` field
                        separator, then the stream goes on; non-stream: no effect
    ``non_json``        stream: after ``after`` chunks ``data: {not json...``,
                        then the stream goes on; non-stream: 200 body ``not json``
    ``drop_before``     close the connection before any response byte (both)
    ``drop_midstream``  stream: ``after`` chunks then close the socket without
                        ending the chunked body; non-stream: headers + half the body
    ``stall``           sleep ``seconds`` before the first byte (``after`` None), or
                        after ``after`` chunks (non-stream: after the headers)
    ``truncated_json``  non-stream: 200 with half a JSON body (Content-Length
                        matches); stream: ``after`` chunks, half a chunk, end
    ``slow_body``       the body (or the stream's chunks) spread over ``seconds``
    ``keepalive``       stream: after ``after`` chunks only ``: OPENROUTER PROCESSING``
                        comments for ``seconds``, then the rest; non-stream: the head,
                        then only whitespace (``\\n``) for ``seconds``, then the JSON
                        (chunked)
    ==================  ==========================================================
    """
    kind: str = "http"
    status: int = 500
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    after: int | None = None
    seconds: float = 0.0

    @classmethod
    def http(cls, status: int, message: str | None = None, *, metadata: dict | None = None,
             headers: dict[str, str] | None = None, body: dict | None = None) -> Fault:
        """Any status with OpenRouter's body (real message and metadata by default)."""
        if status == 429 and body is None and message is None and metadata is None:
            return cls.rate_limit(headers=headers)
        body = body if body is not None else error_body(status, message, metadata)
        return cls("http", status, body, dict(headers or {}))

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = 1, *, retry_after_ms: int | None = None,
                   http_date: bool = False, headers: dict[str, str] | None = None) -> Fault:
        """429 with X-RateLimit-* headers; ``Retry-After`` in seconds, or an HTTP-date
        ``retry_after`` seconds from now when ``http_date``; None omits it."""
        hdrs = rate_limit_headers(20)
        if retry_after is not None:
            hdrs["Retry-After"] = (formatdate(time.time() + float(retry_after), usegmt=True)
                                   if http_date else _num(retry_after))
        if retry_after_ms is not None:
            hdrs["retry-after-ms"] = str(retry_after_ms)
        hdrs.update(headers or {})
        return cls("http", 429, error_body(429), hdrs)

    @classmethod
    def free_tier_daily(cls) -> Fault:
        """The daily free-model cap: not worth retrying until X-RateLimit-Reset (epoch ms)."""
        reset = (int(time.time()) // 86400 + 1) * 86_400_000  # next 00:00 UTC
        hdrs = rate_limit_headers(50, reset)
        msg = ("Rate limit exceeded: free-models-per-day. Add 10 credits to unlock "
               "1000 free model requests per day")
        meta = {"headers": dict(hdrs), "limit_source": "openrouter_free_tier_daily"}
        return cls("http", 429, error_body(429, msg, meta), hdrs)

    @classmethod
    def availability(cls, status: int = 503, code: str = "provider_unavailable",
                     retryable: bool = True, retry_after: float | None = 2) -> Fault:
        """Availability error: ``error.availability{...}`` and *no* ``error.code``."""
        err = {"message": "No provider is currently available for this model.",
               "error_type": "model_unavailable", "http_status": status,
               "availability": {"code": code, "retryable": retryable,
                                "retry_after": retry_after, "fallback_models": []}}
        return cls("http", status, {"error": err, "user_id": USER_ID})

    @classmethod
    def error_in_200(cls, status: int = 502, message: str | None = None) -> Fault:
        return cls("error_200", 200, error_body(status, message))

    @classmethod
    def finish_error(cls, after_tokens: int = 3, code: int | str = 502,
                     message: str = "Provider returned error") -> Fault:
        return cls("finish_error", 200, _chunk_error(code, message), after=after_tokens)

    @classmethod
    def midstream_error(cls, after_chunks: int = 2, code: int | str = 429,
                        message: str = "Rate limit exceeded") -> Fault:
        return cls("midstream", 200, _chunk_error(code, message), after=after_chunks)

    @classmethod
    def malformed_sse(cls, after_chunks: int = 1) -> Fault:
        return cls("malformed_sse", 200, after=after_chunks)

    @classmethod
    def non_json_data(cls, after_chunks: int = 1) -> Fault:
        return cls("non_json", 200, after=after_chunks)

    @classmethod
    def drop_before(cls) -> Fault:
        return cls("drop_before", 0)

    @classmethod
    def drop_midstream(cls, after_chunks: int = 2) -> Fault:
        return cls("drop_midstream", 200, after=after_chunks)

    @classmethod
    def stall(cls, seconds: float, after_chunks: int | None = None) -> Fault:
        return cls("stall", 200, after=after_chunks, seconds=seconds)

    @classmethod
    def keepalive(cls, seconds: float, after_chunks: int = 1) -> Fault:
        """Stream: after ``after`` chunks, only keep-alive comments for ``seconds``, then the rest;
        non-stream: only keep-alive whitespace for ``seconds`` before the JSON."""
        return cls("keepalive", 200, after=after_chunks, seconds=seconds)

    @classmethod
    def truncated_json(cls, after_chunks: int = 0) -> Fault:
        return cls("truncated_json", 200, after=after_chunks)

    @classmethod
    def slow_body(cls, seconds: float = 0.5) -> Fault:
        return cls("slow_body", 200, seconds=seconds)

    @classmethod
    def coerce(cls, fault: Fault | int) -> Fault:
        return fault if isinstance(fault, Fault) else cls.http(int(fault))


def _num(x: float | str) -> str:
    return x if isinstance(x, str) else (str(int(x)) if float(x).is_integer() else str(x))


def _chunk_error(code: int | str, message: str) -> dict:
    etype = "rate_limit_exceeded" if code == 429 else "server_error"
    return {"code": code, "message": message, "metadata": {"error_type": etype}}


def fault_for_model(model: str) -> Fault | None:
    """``test/error-<status>`` always fails (for notebooks in another kernel);
    ``test/error-200`` and ``test/error-midstream`` give the in-band variants."""
    if not model.startswith("test/error-"):
        return None
    what = model[len("test/error-"):]
    if what == "200":
        return Fault.error_in_200()
    if what == "midstream":
        return Fault.midstream_error()
    if what.isdigit():
        return Fault.coerce(int(what))
    return None


def chaos_fault(rng: random.Random) -> Fault:
    """One random fault of the kinds a flaky upstream produces (short, for tests)."""
    make = rng.choice([
        lambda: Fault.rate_limit(retry_after=0),
        lambda: Fault.http(500), lambda: Fault.http(502), lambda: Fault.http(503),
        Fault.drop_before, Fault.truncated_json, Fault.error_in_200,
        lambda: Fault.slow_body(0.05),
    ])
    return make()
