"""A key echoed in odd places of a stream reaches no text the user can see."""

from __future__ import annotations

import json
import traceback

import httpx
import pytest

from or_magic.core.errors import TransportError
from or_magic.core.settings import Settings
from or_magic.wire.client import Client

KEY = "sk-or-v1-streamecho00000000000000000000000000000000000000000000000000"


def sse(*events: bytes) -> bytes:
    return b"".join(events)


def client(monkeypatch, content: bytes) -> Client:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    handler = lambda request: httpx.Response(200, content=content, headers={"content-type": "text/event-stream"})
    return Client(Settings(base_url="http://127.0.0.1:9/v1"), transport=httpx.MockTransport(handler), on_retry=None)


def event(delta: dict, index: int = 0, finish=None) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": index, "delta": delta, "finish_reason": finish}]}).encode() + b"\n\n"


def test_a_key_split_over_chunks_in_reasoning_tool_calls_and_other_choices_is_scrubbed(monkeypatch):
    half = len(KEY) // 2
    content = sse(event({"reasoning": "the key is " + KEY[:half]}), event({"reasoning": KEY[half:]}),
                  event({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"k": "' + KEY[:9]}}]}),
                  event({"tool_calls": [{"index": 0, "function": {"arguments": KEY[9:] + '"}'}}]}),
                  event({"content": "x" + KEY[:20]}, index=1), event({"content": KEY[20:]}, index=1),
                  event({"content": "ok"}, finish="stop"), b"data: [DONE]\n\n")
    body = client(monkeypatch, content).stream("chat", {"model": "m"})
    assert KEY not in json.dumps(body) and "ok" in json.dumps(body)


def test_a_malformed_line_holding_the_key_leaves_nothing_in_the_error_chain(monkeypatch):
    content = sse(event({"content": "hi"}), b"garbage Bearer " + KEY.encode() + b"\n\n")
    with pytest.raises(TransportError) as err:
        client(monkeypatch, content).stream("chat", {"model": "m"})
    shown = "".join(traceback.format_exception(err.value, chain=True))
    assert KEY not in shown and err.value.__context__ is None and err.value.partial == "hi"
    frames = traceback.extract_tb(err.value.__traceback__, limit=None)
    assert all(KEY not in repr(f.locals) for f in frames if f.locals)
