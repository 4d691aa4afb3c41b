"""Tests of the local OpenRouter-compatible server (tests/fakeserver/server.py), over real HTTP."""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakeserver.server import FakeOpenRouter, Fault

CHAT, COMP = "/chat/completions", "/completions"
GPT, INSTRUCT = "openai/gpt-4o-mini", "openai/gpt-3.5-turbo-instruct"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def srv():
    with FakeOpenRouter() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(srv):
    srv.clear()
    srv.latency = srv.chunk_delay = srv.chaos = 0.0
    srv.require_key, srv.usage_style, srv.completions_logprobs_style = None, "after_finish", "legacy"
    yield


@pytest.fixture
def client(srv):
    with httpx.Client(base_url=srv.base_url, timeout=5) as c:
        yield c


def chat(content="Tell me a story", **kw):
    return {"model": GPT, "messages": [{"role": "user", "content": content}], **kw}


def comp(prompt="Once upon a time", **kw):
    return {"model": INSTRUCT, "prompt": prompt, **kw}


def sse_events(text: str) -> list[tuple[str, str]]:
    """(kind, value) per SSE line group: kind is comment, data or other."""
    out = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith(":"):
                out.append(("comment", line[1:].strip()))
            elif line.startswith("data:"):
                out.append(("data", line[5:].strip()))
            elif line:
                out.append(("other", line))
    return out


def stream(client, path, body):
    with client.stream("POST", path, json={**body, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
        return sse_events(r.read().decode())


def data_objs(events):
    return [json.loads(v) for k, v in events if k == "data" and v != "[DONE]"]


# --- shapes, determinism, sampling ---------------------------------------------------

def test_chat_response_shape_and_cost(client):
    r = client.post(CHAT, json=chat(seed=1, max_tokens=5))
    b = r.json()
    assert r.status_code == 200 and r.headers["x-generation-id"] == b["id"]
    assert b["id"].startswith("gen-") and b["object"] == "chat.completion"
    assert {"provider", "model", "created", "system_fingerprint"} <= b.keys()
    ch = b["choices"][0]
    assert ch["message"]["role"] == "assistant" and ch["message"]["refusal"] is None
    assert ch["finish_reason"] == ch["native_finish_reason"] == "length"
    assert ch["logprobs"] is None
    u = b["usage"]
    assert u["completion_tokens"] == 5 and u["total_tokens"] == u["prompt_tokens"] + 5
    assert u["cost"] == pytest.approx(u["prompt_tokens"] * 0.00000015 + 5 * 0.0000006)
    assert {"is_byok", "prompt_tokens_details", "completion_tokens_details", "cost_details"} <= u.keys()


def test_completions_shape(client):
    b = client.post(COMP, json=comp(seed=3)).json()
    assert b["object"] == "text_completion" and b["model"] == INSTRUCT
    ch = b["choices"][0]
    assert isinstance(ch["text"], str) and ch["logprobs"] is None
    assert b["usage"]["completion_tokens"] == 16  # the default max_tokens


def texts(client, n, path=CHAT, **kw):
    make = chat if path == CHAT else comp
    return [client.post(path, json=make(**kw)).json()["choices"][0] for _ in range(n)]


def test_seed_and_temperature_zero_are_deterministic(client):
    a, b = texts(client, 2, seed=7, temperature=1.3)
    assert a == b
    c, d = texts(client, 2, path=COMP, temperature=0)
    assert c == d
    assert len({texts(client, 1, seed=s)[0]["message"]["content"] for s in range(6)}) > 1
    unseeded = {t["message"]["content"] for t in texts(client, 6, temperature=1.0)}
    assert len(unseeded) > 1


def test_higher_temperature_varies_more(client):
    def distinct(t):
        return len({texts(client, 1, seed=s, temperature=t, max_tokens=5)[0]["message"]["content"]
                    for s in range(20)})
    assert distinct(0) == 1
    assert distinct(0.1) < distinct(1.5)


def test_max_tokens_and_max_completion_tokens(client):
    for key in ("max_tokens", "max_completion_tokens"):
        b = client.post(CHAT, json=chat(seed=1, **{key: 7})).json()
        assert b["usage"]["completion_tokens"] == 7 and b["choices"][0]["finish_reason"] == "length"


def test_stop_sequences(client):
    full = client.post(COMP, json=comp(temperature=0, max_tokens=30)).json()["choices"][0]["text"]
    word = full[len(full) // 2:].split()[0]
    for stop in (word, [word, "zzz"]):
        ch = client.post(COMP, json=comp(temperature=0, max_tokens=30, stop=stop)).json()["choices"][0]
        assert ch["finish_reason"] == "stop" and ch["text"] == full[:full.index(word)]


def test_validation_errors(client):
    for body in ({"model": GPT}, chat(temperature=3), chat(logprobs=True, top_logprobs=21),
                 comp(logprobs=6), comp(prompt=["a", "b"]), chat(stop=["a"] * 5)):
        path = COMP if "prompt" in body else CHAT
        r = client.post(path, json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == 400, body
    bad = client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400


def test_a_request_longer_than_the_context_is_refused_like_openrouter(client):
    """Prompt tokens (words + 4 per message) plus the asked-for answer must fit context_length."""
    fits = {**chat(" ".join(["w"] * 200)), "model": "test/short-context", "max_tokens": 50}
    assert client.post(CHAT, json=fits).status_code == 200
    r = client.post(CHAT, json={**fits, "max_tokens": 100})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 400 and error["metadata"]["error_type"] == "context_length_exceeded"
    assert error["message"].startswith("This endpoint's maximum context length is 300 tokens. "
                                       "However, you requested about 304 tokens")


def test_unknown_model_and_test_models(client):
    r = client.post(CHAT, json={**chat(), "model": "nope/none"})
    assert r.status_code == 400
    assert r.json()["error"]["availability"]["code"] == "model_not_found"
    for model in ("test/anything", "acme/nologprobs-1"):
        assert client.post(CHAT, json={**chat(), "model": model}).status_code == 200


# --- logprobs -------------------------------------------------------------------------

def check_chat_logprobs(content_items, text, n):
    assert b"".join(bytes(e["bytes"]) for e in content_items).decode().startswith(text)
    for e in content_items:
        alts = e["top_logprobs"]
        assert len(alts) == n
        assert [a["logprob"] for a in alts] == sorted((a["logprob"] for a in alts), reverse=True)
        assert sum(math.exp(a["logprob"]) for a in alts) <= 1 + 1e-12
        same = [a for a in alts if a["token"] == e["token"]]
        if same:
            assert same[0]["logprob"] == e["logprob"] and same[0]["bytes"] == e["bytes"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(0, 20), temp=st.sampled_from([0, 0.5, 1, 2]))
def test_chat_logprob_invariants(client, seed, n, temp):
    b = client.post(CHAT, json=chat(seed=seed, temperature=temp, logprobs=True, top_logprobs=n,
                                    max_tokens=40)).json()
    lp = b["choices"][0]["logprobs"]
    assert lp["refusal"] is None and len(lp["content"]) == 40
    check_chat_logprobs(lp["content"], b["choices"][0]["message"]["content"], n)


def test_split_utf8_tokens_appear(client):
    lp = client.post(CHAT, json=chat(seed=5, logprobs=True, top_logprobs=2, max_tokens=600)).json()
    content = lp["choices"][0]["logprobs"]["content"]
    partial = [e for e in content if e["token"].startswith("\\x")]
    assert partial, "expected some emoji split into partial UTF-8 byte tokens"
    whole = b"".join(bytes(e["bytes"]) for e in content).decode()
    assert whole == lp["choices"][0]["message"]["content"]


def test_logprobs_null_when_not_asked_or_unsupported(client):
    for body in (chat(), chat(logprobs=False, top_logprobs=3),
                 {**chat(logprobs=True, top_logprobs=3), "model": "test/nologprobs"},
                 {**chat(logprobs=True), "model": "anthropic/claude-3.5-haiku"},
                 {**comp(logprobs=3), "model": "acme/nologprobs"}):
        path = COMP if "prompt" in body else CHAT
        assert client.post(path, json=body).json()["choices"][0]["logprobs"] is None


@pytest.mark.parametrize("ask", [{"logprobs": 3}, {"top_logprobs": 3}])
def test_legacy_logprobs(client, ask):
    prompt = "Once upon a time"
    ch = client.post(COMP, json=comp(prompt, seed=2, max_tokens=300, **ask)).json()["choices"][0]
    lp = ch["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == 300
    assert lp["text_offset"][0] == len(prompt)
    for tok, tlp, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
        assert len(top) == 3 and sum(map(math.exp, top.values())) <= 1
        assert tok not in top or top[tok] == tlp
    # offsets advance by the characters each token adds (partial bytes add none)
    pieces = [ch["text"][a - len(prompt):b - len(prompt)]
              for a, b in zip(lp["text_offset"], lp["text_offset"][1:] + [len(prompt) + len(ch["text"])])]
    assert "".join(pieces) == ch["text"]
    assert any(t.startswith("bytes:") for t in lp["tokens"])


def test_completions_chat_style_logprobs(srv, client):
    srv.completions_logprobs_style = "chat"
    ch = client.post(COMP, json=comp(seed=4, logprobs=2)).json()["choices"][0]
    check_chat_logprobs(ch["logprobs"]["content"], ch["text"], 2)


def test_big_logprob_response_is_fast(client):
    t = time.perf_counter()
    r = client.post(CHAT, json=chat(seed=1, logprobs=True, top_logprobs=20, max_tokens=4096))
    assert time.perf_counter() - t < 2.5  # ~0.3 s here; generous for a shared machine
    assert len(r.json()["choices"][0]["logprobs"]["content"]) == 4096


# --- streaming -------------------------------------------------------------------------

def test_chat_stream_matches_non_stream(client):
    body = chat(seed=11, logprobs=True, top_logprobs=2, max_tokens=20)
    whole = client.post(CHAT, json=body).json()["choices"][0]
    ev = stream(client, CHAT, body)
    assert ev[0] == ("comment", "OPENROUTER PROCESSING") and ev[-1] == ("data", "[DONE]")
    objs = data_objs(ev)
    assert all(o["object"] == "chat.completion.chunk" for o in objs)
    tokens, finish, use = objs[:-2], objs[-2], objs[-1]
    assert tokens[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(o["choices"][0]["delta"]["content"] for o in tokens) == whole["message"]["content"]
    assert [e for o in tokens for e in o["choices"][0]["logprobs"]["content"]] == whole["logprobs"]["content"]
    assert finish["choices"][0]["finish_reason"] == "length" and "usage" not in finish
    assert use["choices"][0]["finish_reason"] is None and use["usage"]["completion_tokens"] == 20


def test_stream_usage_empty_choices(srv, client):
    assert data_objs(stream(client, CHAT, chat(fake_usage_style="empty_choices")))[-1]["choices"] == []
    srv.usage_style = "empty_choices"
    use = data_objs(stream(client, CHAT, chat()))[-1]
    assert use["choices"] == [] and use["usage"]["completion_tokens"] == 16


def test_completions_stream_legacy_chunks(client):
    body = comp(seed=8, logprobs=1, max_tokens=12)
    whole = client.post(COMP, json=body).json()["choices"][0]
    tokens = data_objs(stream(client, COMP, body))[:-2]
    assert "".join(o["choices"][0]["text"] for o in tokens) == whole["text"]
    merged = [t for o in tokens for t in o["choices"][0]["logprobs"]["tokens"]]
    assert merged == whole["logprobs"]["tokens"]
    assert [o["choices"][0]["logprobs"]["text_offset"][0] for o in tokens] == whole["logprobs"]["text_offset"]


def test_chunk_delay_and_latency(srv, client):
    srv.chunk_delay, srv.latency = 0.01, 0.1
    t = time.perf_counter()
    ev = stream(client, CHAT, chat(max_tokens=5))
    assert time.perf_counter() - t >= 0.1 + 6 * 0.01
    kinds = [k for k, _ in ev]
    assert kinds[:3] == ["comment", "data", "comment"] and kinds.count("comment") == 7


# --- faults ----------------------------------------------------------------------------

def test_fail_next_429_is_realistic(srv, client):
    srv.fail_next(429)
    r = client.post(CHAT, json=chat())
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.headers["x-ratelimit-remaining"] == "0" and int(r.headers["x-ratelimit-reset"]) > time.time() * 1000
    assert r.json()["error"]["code"] == 429 and r.json()["user_id"].startswith("user_")
    assert client.post(CHAT, json=chat()).status_code == 200  # only the next one


@pytest.mark.parametrize("status,needle", [(401, "No auth credentials"), (402, "credits"),
                                           (403, "flagged"), (502, "Provider returned error"),
                                           (503, "provider"), (524, "timed out"), (529, "Provider")])
def test_http_faults_have_real_bodies(srv, client, status, needle):
    srv.fail_next(status)
    r = client.post(CHAT, json=chat())
    err = r.json()["error"]
    assert r.status_code == err["code"] == status and needle in err["message"]
    if status == 403:
        assert err["metadata"]["reasons"]
    if status == 502:
        assert "error" in json.loads(err["metadata"]["raw"])


def test_rate_limit_variants(srv, client):
    srv.fail_next(Fault.rate_limit(retry_after=2, retry_after_ms=1500))
    srv.fail_next(Fault.rate_limit(retry_after=3, http_date=True))
    srv.fail_next(Fault.free_tier_daily())
    a, b, c = (client.post(CHAT, json=chat()) for _ in range(3))
    assert a.headers["retry-after"] == "2" and a.headers["retry-after-ms"] == "1500"
    assert b.headers["retry-after"].endswith("GMT")
    meta = c.json()["error"]["metadata"]
    assert meta["limit_source"] == "openrouter_free_tier_daily"
    assert int(c.headers["x-ratelimit-reset"]) % 86_400_000 == 0


def test_availability_error_has_no_code(srv, client):
    srv.fail_next(Fault.availability(retry_after=4))
    r = client.post(CHAT, json=chat())
    assert r.status_code == 503 and "code" not in r.json()["error"]
    assert r.json()["error"]["availability"] == {"code": "provider_unavailable", "retryable": True,
                                                 "retry_after": 4, "fallback_models": []}


def test_http_fault_with_custom_headers(srv, client):
    srv.fail_next(Fault.http(500, "boom", headers={"Retry-After": "0"}), count=2)
    assert [client.post(CHAT, json=chat()).status_code for _ in range(3)] == [500, 500, 200]
    srv.fail_next(500)
    srv.clear()
    assert client.post(CHAT, json=chat()).status_code == 200


def test_errors_inside_200(srv, client):
    srv.fail_next(Fault.error_in_200())
    b = client.post(CHAT, json=chat()).json()
    assert b["error"]["code"] == 502 and "choices" not in b
    full = client.post(CHAT, json=chat(seed=3)).json()["choices"][0]["message"]["content"]
    srv.fail_next(Fault.finish_error(after_tokens=3))
    r = client.post(CHAT, json=chat(seed=3))
    ch = r.json()["choices"][0]
    assert r.status_code == 200 and ch["finish_reason"] == "error" and ch["error"]["code"] == 502
    assert full.startswith(ch["message"]["content"]) and r.json()["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("code", [429, "server_error"])
def test_midstream_error(srv, client, code):
    srv.fail_next(Fault.midstream_error(after_chunks=2, code=code))
    ev = stream(client, CHAT, chat())
    objs = data_objs(ev)
    assert len(objs) == 3 and ("data", "[DONE]") not in ev
    assert objs[-1]["error"]["code"] == code and objs[-1]["choices"][0]["finish_reason"] == "error"


def test_stream_error_in_200_and_test_error_models(client):
    first = data_objs(stream(client, CHAT, {**chat(), "model": "test/error-200"}))[0]
    assert first["error"]["code"] == 502
    assert "error" in data_objs(stream(client, CHAT, {**chat(), "model": "test/error-midstream"}))[-1]
    r = client.post(CHAT, json={**chat(), "model": "test/error-402"})
    assert r.status_code == 402 and r.json()["error"]["code"] == 402


def test_malformed_and_non_json_lines(srv, client):
    srv.fail_next(Fault.malformed_sse(after_chunks=1))
    ev = stream(client, CHAT, chat(max_tokens=3))
    assert [k for k, _ in ev].count("other") == 1 and ev[-1] == ("data", "[DONE]")
    srv.fail_next(Fault.non_json_data(after_chunks=2))
    ev = stream(client, CHAT, chat(max_tokens=3))
    bad = [v for k, v in ev if k == "data" and v != "[DONE]" and not _is_json(v)]
    assert len(bad) == 1 and ev[-1] == ("data", "[DONE]")


def _is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def test_dropped_connections(srv, client):
    srv.fail_next(Fault.drop_before())
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(CHAT, json=chat())
    srv.fail_next(Fault.drop_midstream(after_chunks=2))
    got = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", CHAT, json=chat(stream=True)) as r:
            got.extend(line for line in r.iter_lines() if line.startswith("data:"))
    assert len(got) == 2
    srv.fail_next(Fault.drop_midstream())
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(CHAT, json=chat())
    assert client.post(CHAT, json=chat()).status_code == 200  # the pool recovers


def test_truncated_json(srv, client):
    srv.fail_next(Fault.truncated_json())
    r = client.post(CHAT, json=chat())
    assert r.status_code == 200 and not _is_json(r.text)
    srv.fail_next(Fault.truncated_json(after_chunks=2))
    ev = stream(client, CHAT, chat())
    datas = [v for k, v in ev if k == "data"]
    assert len(datas) == 3 and not _is_json(datas[-1])


def test_stall_and_slow_body(srv, client):
    for fault in (Fault.stall(0.2), Fault.slow_body(0.2)):
        srv.fail_next(fault)
        t = time.perf_counter()
        assert client.post(CHAT, json=chat()).json()["choices"]
        assert time.perf_counter() - t >= 0.2
    srv.fail_next(Fault.stall(1.0, after_chunks=1))
    with pytest.raises(httpx.ReadTimeout):
        with client.stream("POST", CHAT, json=chat(stream=True), timeout=0.2) as r:
            for _ in r.iter_lines():
                pass


def test_chaos_rate_roughly_right():
    with FakeOpenRouter(chaos=0.3, chaos_seed=1) as s, httpx.Client(base_url=s.base_url) as c:
        bad = 0
        for _ in range(200):
            try:
                r = c.post(CHAT, json=chat(max_tokens=2))
                bad += r.status_code != 200 or "error" in r.json()
            except (httpx.HTTPError, ValueError):
                bad += 1
        assert 35 <= bad <= 85  # slow bodies succeed: expect about 0.3 * 7/8 * 200 = 52


# --- auth, catalog, key, generation, plumbing --------------------------------------------

def test_require_key(srv, client):
    srv.require_key = "sk-or-v1-secret"
    assert client.get("/models").json()["error"]["message"] == "No auth credentials found"
    wrong = client.post(CHAT, json=chat(), headers={"Authorization": "Bearer sk-or-v1-other"})
    assert wrong.status_code == 401
    ok = client.post(CHAT, json=chat(), headers={"Authorization": "Bearer sk-or-v1-secret"})
    assert ok.status_code == 200


def test_models_and_filter(client):
    data = client.get("/models").json()["data"]
    ids = {m["id"] for m in data}
    assert {GPT, INSTRUCT, "openai/gpt-3.5-turbo", "meta-llama/llama-3.1-8b-instruct",
            "mistralai/mistral-7b-instruct:free", "anthropic/claude-3.5-haiku", "test/nologprobs"} <= ids
    m = data[0]
    assert isinstance(m["pricing"]["prompt"], str) and m["top_provider"]["context_length"]
    free = next(m for m in data if m["id"].endswith(":free"))
    assert free["pricing"]["prompt"] == free["pricing"]["completion"] == "0"
    lp = {m["id"] for m in client.get("/models", params={"supported_parameters": "logprobs,top_logprobs"}).json()["data"]}
    assert GPT in lp and "anthropic/claude-3.5-haiku" not in lp and "test/nologprobs" not in lp


def test_key_generation_credits(client):
    before = client.get("/key").json()["data"]
    gen = client.post(CHAT, json=chat(max_tokens=10)).json()
    after = client.get("/key").json()["data"]
    assert after["usage"] == pytest.approx(before["usage"] + gen["usage"]["cost"])
    assert {"limit", "limit_remaining", "is_free_tier", "is_management_key", "usage_daily"} <= after.keys()
    g = client.get("/generation", params={"id": gen["id"]}).json()["data"]
    assert g["id"] == gen["id"] and g["tokens_completion"] == 10 and g["total_cost"] == gen["usage"]["cost"]
    assert client.get("/generation", params={"id": "gen-nope"}).status_code == 404
    assert client.get("/credits").status_code == 403
    assert client.get("/nowhere").status_code == 404


def test_recorded_requests(srv, client):
    client.post(CHAT, json=chat(seed=1), params={"x": "1"}, headers={"X-Title": "t"})
    rec = srv.last
    assert (rec.method, rec.path, rec.query) == ("POST", "/api/v1/chat/completions", {"x": "1"})
    assert rec.headers["x-title"] == "t" and rec.body["seed"] == 1 and len(srv.requests) == 1


def test_keep_alive_and_concurrency(srv):
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        req = b"GET /api/v1/key HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(req + req)
        time.sleep(0.1)
        assert sock.recv(65536).count(b"HTTP/1.1 200 OK") == 2
    with httpx.Client(base_url=srv.base_url) as c:
        codes = []
        threads = [threading.Thread(target=lambda: codes.append(c.post(CHAT, json=chat()).status_code))
                   for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert codes == [200] * 16 and len(srv.requests) == 18


def test_stop_wakes_stalled_requests():
    s = FakeOpenRouter().start()
    s.fail_next(Fault.stall(30))
    th = threading.Thread(target=lambda: pytest.raises(httpx.HTTPError, httpx.post,
                                                       s.base_url + CHAT, json=chat(), timeout=10))
    th.start()
    time.sleep(0.1)
    t = time.perf_counter()
    s.stop()
    th.join(5)
    assert time.perf_counter() - t < 2 and not th.is_alive()


def test_subprocess_mode():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakeserver", "--latency", "0.01"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("OPENROUTER_BASE_URL=http://127.0.0.1:")
        base = line.split("=", 1)[1]
        assert base.endswith("/api/v1") and httpx.get(base + "/models").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
