"""Retries beyond the status table: timeouts before and after the first byte, dropped
connections, errors inside an HTTP 200, and the defaults of the retry and timeout settings."""

import httpx
import pytest

from or_magic.core.errors import APIError, TimeoutError, TransportError
from or_magic.core.settings import Settings
from or_magic.wire import client as client_module
from tests.wire.test_client import make_client

OK = {"id": "gen-1", "model": "m", "choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}]}


class FailingBody(httpx.SyncByteStream):
    """A body that sends a first piece, then fails with `exc`."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __iter__(self):
        yield b'{"id": "gen-1", '
        raise self.exc


def flaky(*failures):
    """A handler that fails with each of `failures` in turn, then answers OK; counts calls."""
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) <= len(failures):
            failure = failures[len(calls) - 1]
            if isinstance(failure, Exception):
                raise failure
            return failure
        return httpx.Response(200, json=OK)

    handler.calls = calls
    return handler


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)


def test_read_timeout_before_the_first_byte_is_retried(monkeypatch):
    handler = flaky(httpx.ReadTimeout("silent"), httpx.ConnectTimeout("no route"))
    c = make_client(handler, monkeypatch)
    assert c.complete("chat", {"model": "m"})["choices"][0]["message"]["content"] == "fine"
    assert len(handler.calls) == 3
    assert c.notices[0] == "or_magic: connection failed, retrying in " + c.notices[0].split(" in ")[1]


def test_timeout_after_the_first_byte_is_not_retried(monkeypatch):
    # The server was answering: a repeat would be billed again, and would likely be as slow.
    handler = flaky(httpx.Response(200, stream=FailingBody(httpx.ReadTimeout("stalled"))))
    c = make_client(handler, monkeypatch)
    with pytest.raises(TimeoutError, match="sent nothing for"):
        c.complete("chat", {"model": "m"})
    assert len(handler.calls) == 1 and c.notices == []


def test_connection_dropped_mid_answer_is_retried(monkeypatch):
    handler = flaky(httpx.Response(200, stream=FailingBody(httpx.RemoteProtocolError("peer closed"))))
    c = make_client(handler, monkeypatch)
    assert c.complete("chat", {"model": "m"})["id"] == "gen-1"
    assert len(handler.calls) == 2


def test_connection_errors_give_up_after_max_retries(monkeypatch):
    handler = flaky(*[httpx.ConnectError("refused")] * 5)
    c = make_client(handler, monkeypatch, max_retries=3)
    with pytest.raises(TransportError, match="could not reach"):
        c.complete("chat", {"model": "m"})
    assert len(handler.calls) == 4 and [n[-5:] for n in c.notices] == ["(1/3)", "(2/3)", "(3/3)"]


def test_error_inside_200_retried_then_succeeds(monkeypatch):
    inside = httpx.Response(200, json={"error": {"code": 502, "message": "Provider returned error"}})
    handler = flaky(inside, httpx.Response(200, content=b'{"id": "gen-1", "cho'))
    c = make_client(handler, monkeypatch)
    assert c.complete("chat", {"model": "m"})["id"] == "gen-1"
    assert "inside HTTP 200" in c.notices[0] and "truncated answer" in c.notices[1]


def test_non_retryable_error_inside_200_is_not_retried(monkeypatch):
    handler = flaky(*[httpx.Response(200, json={"error": {"code": 400, "message": "bad"}})] * 3)
    c = make_client(handler, monkeypatch)
    with pytest.raises(Exception, match="HTTP 400: bad"):
        c.complete("chat", {"model": "m"})
    assert len(handler.calls) == 1


def test_string_codes_inside_200_count_as_provider_errors(monkeypatch):
    handler = flaky(*[httpx.Response(200, json={"error": {"code": "server_error", "message": "x"}})] * 3)
    c = make_client(handler, monkeypatch, max_retries=1)
    with pytest.raises(APIError, match="server_error"):
        c.complete("chat", {"model": "m"})
    assert len(handler.calls) == 2


def test_defaults_follow_the_reasoning():
    s = Settings()
    # Like the openai SDK: two retries, and a read timeout long enough for a long generation.
    assert s.max_retries == 2 and s.timeout == 600 and s.connect_timeout == 10


def test_free_tier_daily_cap_says_when_it_resets_and_is_not_retried(server):
    import or_magic
    from or_magic.core.errors import RateLimitError
    from tests.fakeserver.faults import Fault

    server.fail_next(Fault.free_tier_daily())
    with pytest.raises(RateLimitError, match=r"resets at \d{4}-\d\d-\d\d 00:00 UTC; not retried") as err:
        or_magic.complete("hi", "meta-llama/llama-3.1-8b-instruct:free")
    assert len(server.requests) == 1 and "free-models-per-day" in str(err.value)


def test_daily_cap_error_names_the_reset_time_from_the_header(server):
    import time

    from or_magic import complete
    from or_magic.core.errors import RateLimitError
    from tests.fakeserver.faults import Fault

    server.fail_next(Fault.free_tier_daily())  # X-RateLimit-Reset: the next 00:00 UTC, in epoch ms
    with pytest.raises(RateLimitError) as err:
        complete("hi", "openai/gpt-4o-mini", stream=False)
    next_midnight = time.strftime("%Y-%m-%d 00:00", time.gmtime((int(time.time()) // 86400 + 1) * 86400))
    assert f"resets at {next_midnight} UTC" in str(err.value) and "not retried" in str(err.value)
