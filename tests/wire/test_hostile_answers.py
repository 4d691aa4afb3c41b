"""Malformed answer shapes and redirects become clear errors or tolerated fields, never TypeErrors."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from or_magic.core.errors import TransportError
from or_magic.core.settings import Settings
from or_magic.wire.client import Client
from or_magic.wire.response import Completion
from or_magic.wire.stream import StreamAssembler

KEY = "sk-or-v1-hostile000000000000000000000000000000000000000000000000000"
odd = st.one_of(st.none(), st.text(max_size=3), st.lists(st.integers(), max_size=2), st.booleans(),
                st.dictionaries(st.text(max_size=2), st.integers(), max_size=1), st.integers(-2, 3))


@given(indexes=st.lists(odd, min_size=1, max_size=6))
def test_stream_chunks_with_malformed_indexes_keep_their_text(indexes):
    assembler = StreamAssembler()
    for i, index in enumerate(indexes):
        assembler.add({"choices": [{"index": index, "delta": {"content": f"t{i} ", "tool_calls": [
            {"index": index, "function": {"name": "f", "arguments": "{}"}}]}}]})
    assembler.add({"choices": [{"index": indexes[0], "delta": {}, "finish_reason": "stop"}]})
    body = assembler.body()
    texts = "".join(c["message"]["content"] for c in body["choices"])
    assert all(f"t{i} " in texts for i in range(len(indexes)))


@given(model=odd, provider=odd, gen_id=odd, finish=odd)
def test_non_string_text_fields_do_not_break_the_completion(model, provider, gen_id, finish):
    done = Completion.from_response({"model": model, "provider": provider, "id": gen_id,
                                     "choices": [{"message": {"content": "x", "tool_calls": "oops"},
                                                  "finish_reason": finish}]})
    for value in (done.model, done.provider, done.generation_id, done.finish_reason):
        assert value is None or isinstance(value, str)
    assert done.text == "x" and done.tool_calls == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("stream", [False, True])
def test_a_redirect_names_status_and_location_and_is_not_retried_or_followed(monkeypatch, status, stream):
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(status, headers={"Location": "https://elsewhere.example/v1/chat/completions"})

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    c = Client(Settings(base_url="http://127.0.0.1:9/v1", max_retries=2), transport=httpx.MockTransport(handler),
               on_retry=None)
    with pytest.raises(TransportError) as err:
        (c.stream if stream else c.complete)("chat", {"model": "m"})
    text = str(err.value)
    assert f"HTTP {status}" in text and "https://elsewhere.example/v1/chat/completions" in text
    assert len(calls) == 1 and "not valid JSON" not in text
