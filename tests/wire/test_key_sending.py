"""Where the key goes, and what happens to a key or base URL that cannot be used."""

from __future__ import annotations

import httpx
import pytest

from or_magic.core.errors import AuthError, ConfigError, TransportError
from or_magic.core.settings import Settings
from or_magic.wire.client import Client

KEY = "sk-or-v1-sendingtest0000000000000000000000000000000000000000000000"
OK = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}


def client(monkeypatch, base_url, key=KEY, status=200, **settings):
    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(status, json=OK if status == 200 else {"error": {"code": status, "message": "No auth"}})

    c = Client(Settings(base_url=base_url, **settings), transport=httpx.MockTransport(handler), on_retry=None)
    return c, seen


@pytest.mark.parametrize("raw", [KEY + "\n", KEY + "\r\n", f" {KEY} "])
def test_key_with_surrounding_whitespace_is_sent_stripped(monkeypatch, raw):
    c, seen = client(monkeypatch, "http://127.0.0.1:9/v1", raw)
    c.complete("chat", {"model": "m"})
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_unsendable_key_fails_before_anything_is_sent(monkeypatch):
    with pytest.raises(ConfigError, match=r"\$OPENROUTER_API_KEY") as err:
        client(monkeypatch, "http://127.0.0.1:9/v1", KEY[:20] + "\n" + KEY[20:])
    assert KEY[20:40] not in str(err.value) and KEY[:20] not in str(err.value)


def test_local_protocol_error_is_not_retried(monkeypatch):
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {KEY}\\n'")

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    c = Client(Settings(base_url="http://127.0.0.1:9/v1", max_retries=2), transport=httpx.MockTransport(handler),
               on_retry=None)
    with pytest.raises(TransportError) as err:
        c.complete("chat", {"model": "m"})
    assert len(calls) == 1 and KEY not in str(err.value) and "could not send" in str(err.value)


@pytest.mark.parametrize("url,sent", [
    ("https://openrouter.ai/api/v1", True), ("https://eu.openrouter.ai/api/v1", True),
    ("http://openrouter.ai/api/v1", False), ("http://localhost:8080/v1", True),
    ("http://127.0.0.1:9/v1", True), ("http://127.200.3.4/v1", True), ("http://[::1]:8000/v1", True),
    ("https://vllm.example.com/v1", False), ("http://10.0.0.5:8000/v1", False),
    ("http://localhost.example.com/v1", False), ("https://openrouter.ai.evil.com/v1", False),
    ("http://127.0.0.1.nip.io/v1", False),
])
def test_key_goes_only_to_openrouter_over_https_and_loopback(monkeypatch, capsys, url, sent):
    monkeypatch.delenv("OR_MAGIC_SEND_KEY_TO", raising=False)
    c, seen = client(monkeypatch, url)
    c.complete("chat", {"model": "m"})
    assert ("Authorization" in seen[0].headers) is sent
    notice = capsys.readouterr().err
    assert ("OR_MAGIC_SEND_KEY_TO" in notice) is (not sent) and KEY not in notice


@pytest.mark.parametrize("how", ["env", "setting"])
def test_key_goes_to_a_host_named_in_the_opt_in(monkeypatch, how):
    url = "http://gpu-box.lan:8000/v1"
    if how == "env":
        monkeypatch.setenv("OR_MAGIC_SEND_KEY_TO", "other.host, GPU-BOX.lan")
        c, seen = client(monkeypatch, url)
    else:
        monkeypatch.delenv("OR_MAGIC_SEND_KEY_TO", raising=False)
        c, seen = client(monkeypatch, url, send_key_to_hosts=("gpu-box.lan",))
    c.complete("chat", {"model": "m"})
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_a_401_from_a_host_without_the_key_says_how_to_send_it(monkeypatch):
    monkeypatch.delenv("OR_MAGIC_SEND_KEY_TO", raising=False)
    c, seen = client(monkeypatch, "https://vllm.example.org/v1", status=401)
    with pytest.raises(AuthError) as err:
        c.complete("chat", {"model": "m"})
    assert "not sent" in str(err.value) and "OR_MAGIC_SEND_KEY_TO=vllm.example.org" in str(err.value)
    assert "Authorization" not in seen[0].headers


@pytest.mark.parametrize("url", ["openrouter.ai/api/v1", "ftp://openrouter.ai/api/v1", " https://openrouter.ai/api/v1",
                                 "http://[::1", "http://", "http://host:port/v1"])
def test_malformed_base_url_is_a_config_error(monkeypatch, url):
    with pytest.raises(ConfigError, match="base_url") as err:
        client(monkeypatch, url)
    assert "\n" not in str(err.value)


def test_malformed_base_url_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("OPENROUTER_BASE_URL", "localhost:8080/v1")
    with pytest.raises(ConfigError, match=r"\$OPENROUTER_BASE_URL"):
        client(monkeypatch, "")
