"""A non-streamed answer is read under the same clocks as a stream: the overall `deadline`, and a
silence clock that keep-alive whitespace before the JSON does not reset (sync and async clients)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import httpx
import pytest

from or_magic.core.errors import TimeoutError
from or_magic.core.settings import Settings
from or_magic.wire.body_reader import Body
from or_magic.wire.client import AsyncClient, Client
from tests.fakeserver.faults import Fault

BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "tell me a story"}],
        "max_tokens": 12, "seed": 7}  # seeded: the fake server answers it the same every time


def _sync(settings: Settings) -> dict:
    client = Client(settings)
    try:
        return client.complete("chat", BODY)
    finally:
        client.close()


def _async(settings: Settings) -> dict:
    async def run() -> dict:
        client = AsyncClient(settings)
        try:
            return await client.complete("chat", BODY)
        finally:
            await client.aclose()
    return asyncio.run(run())


CLIENTS = pytest.mark.parametrize("complete", [_sync, _async], ids=["sync", "async"])


def _text(answer: dict) -> str:
    return answer["choices"][0]["message"]["content"]


@CLIENTS
def test_a_trickled_body_fails_at_the_deadline_and_is_not_retried(server, complete):
    server.fail_next(Fault.slow_body(seconds=5))  # ten pieces, 0.5 s apart: each read is quick
    with pytest.raises(TimeoutError, match=r"longer than 1 s in all \(deadline\)") as err:
        complete(Settings(deadline=1))
    assert "%config OpenRouterMagics.deadline" in str(err.value)
    assert len(server.requests) == 1  # the answer had begun: a repeat would be billed again


@CLIENTS
def test_a_normal_body_still_works(server, complete):
    answer = complete(Settings(deadline=5))
    assert _text(answer) and answer["choices"][0]["finish_reason"]


@CLIENTS
def test_a_slow_but_steady_body_within_the_deadline_succeeds(server, complete):
    expected = _text(complete(Settings()))
    server.fail_next(Fault.slow_body(seconds=0.5))
    assert _text(complete(Settings(deadline=5))) == expected


@CLIENTS
def test_keepalive_whitespace_before_the_json_is_parsed(server, complete):
    expected = _text(complete(Settings()))
    server.fail_next(Fault.keepalive(seconds=0.3))
    assert _text(complete(Settings(deadline=5))) == expected


@CLIENTS
def test_keepalive_whitespace_does_not_reset_the_deadline(server, complete):
    server.fail_next(Fault.keepalive(seconds=4))  # whitespace every 0.05 s, then the JSON
    with pytest.raises(TimeoutError, match=r"longer than 1 s in all \(deadline\)"):
        complete(Settings(deadline=1))
    assert len(server.requests) == 1


@CLIENTS
def test_keepalive_whitespace_does_not_reset_the_silence_clock(server, complete):
    server.fail_next(Fault.keepalive(seconds=3))
    with pytest.raises(TimeoutError, match=r"only keep-alive whitespace for 0.5 s \(timeout\)"):
        complete(Settings(timeout=0.5))


def test_a_last_piece_after_the_deadline_that_completes_the_answer_is_kept():
    # The deadline fires on the piece that arrives late; if that piece completed the JSON, the
    # answer was paid for and is whole: it is kept, not thrown away.
    body = Body(Settings(deadline=1), started=time.monotonic() - 5)
    assert body.take(b'\n{"choices": []}') is False  # late: stop reading
    assert json.loads(body.content()) == {"choices": []}


def test_a_late_piece_that_leaves_the_answer_unfinished_is_the_deadline_error():
    body = Body(Settings(deadline=1), started=time.monotonic() - 5)
    assert body.take(b'{"choices": [') is False
    with pytest.raises(TimeoutError, match=r"longer than 1 s in all \(deadline\)"):
        body.content()


def test_a_compressed_body_is_decoded_once(monkeypatch):
    # The pieces are decoded as they arrive (as httpx's response.content would be): judged as such.
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-fake")
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "zipped"},
                           "finish_reason": "stop"}]}
    packed = gzip.compress(json.dumps(answer).encode())

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                              content=packed)

    client = Client(Settings(base_url="http://127.0.0.1:9/api/v1"), transport=httpx.MockTransport(handler))
    assert _text(client.complete("chat", BODY)) == "zipped"


class _Trickle(httpx.SyncByteStream):
    """A body that arrives a piece at a time, each after a pause."""

    def __init__(self, pieces: list[bytes], pause: float) -> None:
        self.pieces, self.pause = pieces, pause

    def __iter__(self):
        for piece in self.pieces:
            time.sleep(self.pause)
            yield piece


def test_a_deadline_failure_keeps_an_echoed_key_out_of_every_frame(monkeypatch):
    # Under %xmode Verbose every frame's locals are shown: none may hold the raw pieces.
    key = "sk-or-v1-echoedkey000000000000000000000000000000000000000000000000000"
    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    pieces = [b'{"choices": [{"message": {"content": "', key.encode(), b'"', b'}}]}']

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=_Trickle(pieces, 0.15))

    client = Client(Settings(base_url="http://127.0.0.1:9/api/v1", deadline=0.2),
                    transport=httpx.MockTransport(handler))
    with pytest.raises(TimeoutError, match=r"\(deadline\)") as err:
        client.complete("chat", BODY)
    assert err.value.__context__ is None
    tb = err.value.__traceback__.tb_next  # from complete() inwards (this test's frame holds the key)
    assert tb is not None
    while tb is not None:
        for name, value in tb.tb_frame.f_locals.items():
            assert key not in repr(value), f"{tb.tb_frame.f_code.co_name}: {name}"
        tb = tb.tb_next
