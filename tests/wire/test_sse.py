"""The SSE parser and the chunk assembler, without a network."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from or_magic.wire.response import Completion
from or_magic.wire.sse import DONE, SSEError, SSEParser, iter_events
from or_magic.wire.stream import StreamAssembler

WIRE = (b": OPENROUTER PROCESSING\n\n"
        b'data: {"a":1}\n\n'
        b": OPENROUTER PROCESSING\r\n\r\n"
        b'data: {"b":2}\r\n\r\n'
        b"event: message\nid: 7\nretry: 100\ndata: {\"c\":\ndata: 3}\n\n"
        b"data: [DONE]\n\n"
        b"data: ignored after done\n\n")


def test_events_comments_crlf_multiline_and_done():
    assert list(iter_events([WIRE])) == [b'{"a":1}', b'{"b":2}', b'{"c":\n3}', DONE]


@given(st.lists(st.integers(min_value=0, max_value=len(WIRE)), max_size=12))
def test_any_cut_of_the_bytes_gives_the_same_events(cuts):
    bounds = [0, *sorted(cuts), len(WIRE)]
    pieces = [WIRE[a:b] for a, b in zip(bounds, bounds[1:])]
    assert list(iter_events(pieces)) == [b'{"a":1}', b'{"b":2}', b'{"c":\n3}', DONE]


def test_unterminated_last_event_still_counts():
    assert list(iter_events([b'data: {"x":1}'])) == [b'{"x":1}']


@pytest.mark.parametrize("line", [b"OPENROUTER-DEBUG this line has no field separator", b"<html>",
                                  b"foo: bar"])
def test_a_line_that_is_not_sse_is_an_error(line):
    with pytest.raises(SSEError, match="not a server-sent-events line"):
        SSEParser().feed(line + b"\n\n")
    parser = SSEParser()  # events before the bad line in the same read still count, then it raises
    assert parser.feed(b'data: {"a":1}\n\n' + line + b"\n\n") == [b'{"a":1}']
    with pytest.raises(SSEError, match="not a server-sent-events line"):
        parser.close()


def chunk(content=None, finish=None, **extra):
    choice = {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": finish, **extra}
    return {"id": "gen-1", "model": "m", "provider": "P", "created": 1, "choices": [choice]}


def test_usage_after_finish_does_not_erase_the_finish_reason():
    a = StreamAssembler()
    assert a.add(chunk("Hi")) == "Hi"
    assert a.add(chunk(" there")) == " there"
    a.add(chunk("", "stop"))
    a.add({**chunk("", None), "usage": {"prompt_tokens": 3, "completion_tokens": 2, "cost": 0.5}})
    done = Completion.from_response(a.body())
    assert (done.text, done.finish_reason, done.completion_tokens, done.cost) == ("Hi there", "stop", 2, 0.5)
    assert done.generation_id == "gen-1" and done.provider == "P"


def test_streamed_tool_calls_and_reasoning_are_merged():
    a = StreamAssembler()
    a.add(chunk(None, None, ))
    a.add({"choices": [{"index": 0, "delta": {"reasoning": "think "}}]})
    a.add({"choices": [{"index": 0, "delta": {"reasoning": "hard", "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x"'}}]}}]})
    a.add({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                        "finish_reason": "tool_calls"}]})
    done = Completion.from_response(a.body())
    assert done.finish_reason == "tool_calls" and done.reasoning == "think hard"
    assert done.tool_calls == [{"type": "function", "id": "call_1",
                                "function": {"name": "f", "arguments": '{"x": 1}'}}]
    assert json.loads(done.tool_calls[0]["function"]["arguments"]) == {"x": 1}


def test_legacy_chunks_with_ragged_logprobs_stay_aligned():
    a = StreamAssembler()
    a.add({"choices": [{"index": 0, "text": "a", "logprobs": {"tokens": ["a"], "token_logprobs": [-1.0],
                                                             "top_logprobs": [{"a": -1.0}], "text_offset": [0]}}]})
    a.add({"choices": [{"index": 0, "text": "b", "logprobs": {"tokens": ["b"], "token_logprobs": [-2.0]}}]})
    a.add({"choices": [{"index": 0, "text": "", "finish_reason": "length"}]})
    done = Completion.from_response(a.body())
    assert done.text == "ab" and done.logprobs.token == ["a", "b"] and done.logprobs.offset == [0, None]
    assert done.logprobs.alt_token == ["a"]


def test_cancel_marks_unfinished_choices():
    a = StreamAssembler()
    a.add(chunk("Hi"))
    a.cancel()
    assert Completion.from_response(a.body()).finish_reason == "cancelled"
    empty = StreamAssembler()
    empty.cancel()
    assert Completion.from_response(empty.body()).finish_reason == "cancelled"


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_bytes_give_payloads_or_an_sse_error_never_anything_else(pieces):
    parser = SSEParser()
    try:
        for piece in pieces:
            assert all(isinstance(p, bytes) for p in parser.feed(piece))
        parser.close()
    except SSEError as exc:
        assert "not a server-sent-events line" in str(exc)


class _CountingBytes(bytes):
    """Counts the bytes copied when a parser glues what it kept in front of this piece."""

    copied = 0

    def __radd__(self, other: bytes) -> bytes:
        _CountingBytes.copied += len(other) + len(self)
        return bytes(other) + bytes(self)


def test_one_large_event_in_many_reads_is_parsed_in_linear_work():
    from or_magic.wire.sse import SSEParser

    payload = b'{"choices": [{"delta": {"content": "' + b"x" * 400_000 + b'"}}]}'
    data = b"data: " + payload + b"\n\n"
    parser, events = SSEParser(), []
    _CountingBytes.copied = 0
    for start in range(0, len(data), 1000):
        events += parser.feed(_CountingBytes(data[start:start + 1000]))
    assert events == [payload]
    assert _CountingBytes.copied <= 3 * len(data)  # gluing the kept tail each read would be ~80 MB
