"""The request path made cheaper (wire/request_maker.py) sends what httpx's build_request sends."""

import json

import httpx
import pytest

from or_magic.core.settings import Settings
from or_magic.wire.client import Client
from or_magic.wire.request_maker import RequestMaker, send_direct

KEY = "sk-or-v1-fakeunitkey0000000000000000000000000000000000000000000000000"
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "café 🙂 \u2028"}],
        "max_tokens": 16, "temperature": 0, "stop": ["\n"]}


def _pair(http, method, path, body, headers=None):
    return http.build_request(method, path, json=body, headers=headers), \
        RequestMaker(http).build(method, path, body, None, headers)


def test_same_url_headers_body_and_timeout_as_build_request():
    http = httpx.Client(base_url="http://127.0.0.1:9/api/v1", headers={"Authorization": "Bearer x", "X-Title": "t"},
                        timeout=httpx.Timeout(600, connect=10))
    maker = RequestMaker(http)
    for headers in (None, {"Connection": "close"}):
        for body in (BODY, {**BODY, "max_tokens": 1000}, {}):  # the second call to a path reuses what was kept
            slow = http.build_request("POST", "/chat/completions", json=body, headers=headers)
            fast = maker.build("POST", "/chat/completions", body, None, headers)
            assert fast.url == slow.url and fast.method == slow.method and fast.content == slow.content
            assert sorted(fast.headers.multi_items()) == sorted(slow.headers.multi_items())
            assert fast.extensions == slow.extensions


def test_params_cookies_and_bodiless_requests_are_left_to_httpx():
    http = httpx.Client(base_url="http://127.0.0.1:9/api/v1")
    slow, fast = _pair(http, "GET", "/generation", None)
    assert fast.url == slow.url and fast.content == b""
    assert RequestMaker(http).build("GET", "/models", None, {"q": "a b"}).url.params["q"] == "a b"
    http.cookies.set("session", "abc", domain="127.0.0.1")
    made = RequestMaker(http).build("POST", "/chat/completions", BODY)
    assert made.headers["cookie"] == "session=abc"


def test_a_cookie_the_server_sets_is_still_kept_and_sent_back(monkeypatch):
    """The client's QuietJar skips only answers without Set-Cookie: cookies behave as with httpx's jar."""
    seen = []

    def handler(request):
        seen.append(request.headers.get("cookie"))
        answer = {"id": "g", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                                                         "content": "ok"}}]}
        headers = {"Set-Cookie": "__cf_bm=token1; Path=/"} if len(seen) == 2 else {}
        return httpx.Response(200, json=answer, headers=headers)

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    client = Client(Settings(base_url="http://127.0.0.1:9/api/v1"), transport=httpx.MockTransport(handler))
    for _ in range(4):
        assert client.complete("chat", BODY)["choices"][0]["message"]["content"] == "ok"
    assert seen == [None, None, "__cf_bm=token1", "__cf_bm=token1"]


def test_the_body_on_the_wire_is_the_json_sent(monkeypatch):
    bodies = []

    def handler(request):
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": "ok"}}]})

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    client = Client(Settings(base_url="http://127.0.0.1:9/api/v1"), transport=httpx.MockTransport(handler))
    client.complete("chat", BODY)
    client.complete("completions", {"model": "m", "prompt": "p"})
    assert bodies == [BODY, {"model": "m", "prompt": "p"}]


def _ok(request):
    return httpx.Response(200, json={"choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": "ok"}}]})


def test_requests_go_to_the_transport_without_client_send(monkeypatch):
    """The sync client hands its requests to its transport itself (request_maker.send_direct):
    httpx.Client.send's auth, redirect, hook and cookie layers are never entered."""
    sent = []

    def handler(request):
        sent.append(request)
        return _ok(request)

    def no_send(*args, **kwargs):
        raise AssertionError("httpx.Client.send was called")

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    client = Client(Settings(base_url="http://127.0.0.1:9/api/v1"), transport=httpx.MockTransport(handler))
    monkeypatch.setattr(httpx.Client, "send", no_send)
    assert client.complete("chat", BODY)["choices"][0]["message"]["content"] == "ok"
    assert [str(r.url) for r in sent] == ["http://127.0.0.1:9/api/v1/chat/completions"]
    assert sent[0].headers["authorization"] == f"Bearer {KEY}"


def test_send_direct_takes_the_transport_mounted_for_the_url_and_sets_the_request():
    """Proxies from the environment are mounts: the transport is chosen per URL, as httpx does."""
    mounted, default = [], []
    http = httpx.Client(transport=httpx.MockTransport(lambda r: default.append(r) or _ok(r)),
                        mounts={"http://proxied.test": httpx.MockTransport(lambda r: mounted.append(r) or _ok(r))})
    send = send_direct(http)
    for url in ("http://proxied.test/v1/chat/completions", "http://127.0.0.1:9/v1/chat/completions"):
        request = http.build_request("POST", url, json=BODY)
        response = send(request)
        assert response.request is request and json.loads(response.read())["choices"][0]["message"]["content"] == "ok"
    assert len(mounted) == 1 and len(default) == 1


def test_send_direct_on_a_closed_client_raises_as_httpx_does():
    http = httpx.Client(transport=httpx.MockTransport(_ok))
    request = http.build_request("POST", "http://127.0.0.1:9/v1/chat/completions", json=BODY)
    http.close()
    with pytest.raises(RuntimeError, match="closed"):
        send_direct(http)(request)


def test_a_sweeps_client_sends_what_build_request_would_and_keeps_cookies_too(monkeypatch):
    """AsyncClient (sweeps) builds its requests with the RequestMaker as well: same bytes, headers and
    cookies as httpx's own build_request."""
    import asyncio

    from or_magic.wire.client import AsyncClient

    sent = []

    def handler(request):
        sent.append(request)
        answer = {"id": "g", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                                                         "content": "ok"}}]}
        headers = {"Set-Cookie": "__cf_bm=token1; Path=/"} if len(sent) == 2 else {}
        return httpx.Response(200, json=answer, headers=headers)

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)

    async def main():
        client = AsyncClient(Settings(base_url="http://127.0.0.1:9/api/v1"), transport=httpx.MockTransport(handler))
        expected = client._http.build_request("POST", "/chat/completions", json=BODY)  # before any cookie
        made = []
        monkeypatch.setattr(client._requests, "build", lambda *a: made.append(a) or RequestMaker.build(client._requests, *a))
        for body in (BODY, {**BODY, "max_tokens": 3}, BODY):
            assert (await client.complete("chat", body))["choices"][0]["message"]["content"] == "ok"
        await client.aclose()
        return made, expected

    made, expected = asyncio.run(main())
    assert len(made) == 3  # every attempt went through the RequestMaker
    assert sent[0].url == expected.url and sent[0].content == sent[2].content == expected.content
    assert sorted(sent[0].headers.multi_items()) == sorted(expected.headers.multi_items())
    assert [r.headers.get("cookie") for r in sent] == [None, None, "__cf_bm=token1"]
