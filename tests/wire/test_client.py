"""Client unit tests through httpx.MockTransport: errors at the boundary, retries, headers."""

import json

import httpx
import pytest

from or_magic.core.errors import (
    APIError,
    AuthError,
    ConfigError,
    CreditsError,
    RateLimitError,
    ServerError,
    TransportError,
)
from or_magic.core.settings import Settings
from or_magic.wire import client as client_module
from or_magic.wire.client import Client

KEY = "sk-or-v1-fakeunitkey0000000000000000000000000000000000000000000000000"


def make_client(handler, monkeypatch, **settings):
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    notices = []
    c = Client(Settings(base_url="http://127.0.0.1:9/api/v1", **settings),
               transport=httpx.MockTransport(handler), on_retry=notices.append)
    c.notices = notices
    return c


def error_body(code, message, **extra):
    return {"error": {"code": code, "message": message, **extra}, "user_id": "user_1"}


@pytest.mark.parametrize("status,cls,fix", [
    (400, APIError, "model id"), (401, AuthError, "OPENROUTER_API_KEY"), (402, CreditsError, "credits"),
    (403, APIError, "moderation"), (404, APIError, "another model"), (422, APIError, "--param"),
])
def test_error_statuses_name_status_message_and_fix(monkeypatch, status, cls, fix):
    c = make_client(lambda req: httpx.Response(status, json=error_body(status, "Boom " + KEY)), monkeypatch)
    with pytest.raises(cls) as err:
        c.complete("chat", {"model": "m"})
    text = str(err.value)
    assert f"HTTP {status}" in text and "Boom" in text and fix in text
    assert KEY not in text and err.value.status == status


def test_retries_then_succeeds_honouring_retry_after(monkeypatch):
    calls, slept = [], []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)

    def handler(request):
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(429, json=error_body(429, "Rate limit exceeded"), headers={"Retry-After": "2"})
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    c = make_client(handler, monkeypatch, max_retries=2)
    assert c.complete("chat", {"model": "m"})["choices"][0]["message"]["content"] == "ok"
    assert slept == [2.0, 2.0] and len(calls) == 3
    assert c.notices[0] == "or_magic: rate limited, retrying in 2.0 s (1/2)"


def test_gives_up_after_max_retries(monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)
    c = make_client(lambda req: httpx.Response(502, json=error_body(502, "Provider returned error",
                                               metadata={"raw": '{"detail":"upstream"}'})), monkeypatch, max_retries=1)
    with pytest.raises(ServerError, match="upstream"):
        c.complete("chat", {"model": "m"})
    assert len(c.notices) == 1


def test_daily_cap_not_retried(monkeypatch):
    body = error_body(429, "Rate limit exceeded: free-models-per-day",
                      metadata={"limit_source": "openrouter_free_tier_daily"})
    c = make_client(lambda req: httpx.Response(429, json=body), monkeypatch)
    with pytest.raises(RateLimitError, match="free-models-per-day"):
        c.complete("chat", {"model": "m"})
    assert c.notices == []


def test_errors_inside_http_200(monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)
    c = make_client(lambda req: httpx.Response(200, json=error_body(429, "Rate limit exceeded")), monkeypatch)
    with pytest.raises(RateLimitError):
        c.complete("chat", {"model": "m"})
    assert len(c.notices) == 2  # an error inside a 200, with no text yet, is retried like a 429
    partial = {"choices": [{"finish_reason": "error", "message": {"content": "half an ans"},
                            "error": {"code": 502, "message": "upstream died"}}]}
    c = make_client(lambda req: httpx.Response(200, json=partial), monkeypatch)
    with pytest.raises(ServerError) as err:
        c.complete("chat", {"model": "m"})
    assert err.value.partial == "half an ans" and "upstream died" in str(err.value)
    assert c.notices == []  # partial text was paid for: kept, not asked for again


def test_availability_error_without_code_uses_http_status(monkeypatch):
    body = {"error": {"message": "No endpoints", "availability": {"code": "no_endpoints", "retryable": False}}}
    c = make_client(lambda req: httpx.Response(503, json=body), monkeypatch)
    with pytest.raises(ServerError, match="HTTP 503: No endpoints"):
        c.complete("chat", {"model": "m"})


def test_non_json_answer_and_connection_error(monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)
    c = make_client(lambda req: httpx.Response(200, content=b"<html>oops"), monkeypatch)
    with pytest.raises(TransportError, match="not valid JSON"):
        c.complete("chat", {"model": "m"})
    assert [n.split(",")[0] for n in c.notices] == ["or_magic: truncated answer"] * 2

    def refuse(request):
        raise httpx.ConnectError("refused")

    c = make_client(refuse, monkeypatch, max_retries=1)
    with pytest.raises(TransportError, match="could not reach"):
        c.complete("chat", {"model": "m"})


def test_headers_and_repr(monkeypatch):
    seen = []
    c = make_client(lambda req: seen.append(req) or httpx.Response(200, json={"data": []}), monkeypatch,
                    app_url="https://example.org/app", app_title="My App")
    c.get("/models")
    headers = seen[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["http-referer"] == "https://example.org/app" and headers["x-title"] == "My App"
    assert KEY not in repr(c)


def test_missing_key_for_openrouter_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set the OPENROUTER_API_KEY environment variable"):
        Client(Settings(base_url="https://openrouter.ai/api/v1"))
    Client(Settings(base_url="http://127.0.0.1:9/v1"))  # local servers need no key


def test_json_body_sent(monkeypatch):
    seen = []
    c = make_client(lambda req: seen.append(req) or httpx.Response(200, json={"choices": []}), monkeypatch)
    c.complete("completions", {"model": "m", "prompt": "p"})
    assert seen[0].url.path == "/api/v1/completions" and json.loads(seen[0].content) == {"model": "m", "prompt": "p"}
