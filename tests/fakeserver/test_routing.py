"""The fake server's provider routing, model fallbacks, reasoning and delayed /generation, over real HTTP."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.fakeserver.server import FakeOpenRouter

LLAMA = "meta-llama/llama-3.1-8b-instruct"
R1 = "deepseek/deepseek-r1"


@pytest.fixture(scope="module")
def srv():
    with FakeOpenRouter() as s:
        yield s


@pytest.fixture(scope="module")
def client(srv):
    with httpx.Client(base_url=srv.base_url, timeout=5) as c:
        yield c


def ask(client, model=LLAMA, **kw):
    body = {"model": model, "messages": [{"role": "user", "content": "Say hi"}], **kw}
    return client.post("/chat/completions", json=body)


def test_endpoints_list_each_providers_parameters(client):
    data = client.get(f"/models/{LLAMA}/endpoints").json()["data"]
    by_name = {e["provider_name"]: e for e in data["endpoints"]}
    assert set(by_name) == {"DeepInfra", "Together", "Lambda"}
    assert "seed" not in by_name["Together"]["supported_parameters"]
    assert "top_logprobs" in by_name["DeepInfra"]["supported_parameters"]
    assert client.get("/models/nobody/nothing/endpoints").status_code == 404


def test_order_pins_and_names_the_provider(client):
    for name in ("Together", "Lambda"):
        answer = ask(client, provider={"order": [name], "allow_fallbacks": False}).json()
        assert answer["provider"] == name
    assert ask(client).json()["provider"] == "DeepInfra"  # the first listed when nothing is asked


def test_sort_ignore_quantizations_and_max_price(client):
    assert ask(client, provider={"sort": "throughput"}).json()["provider"] == "Together"
    assert ask(client, provider={"sort": "price"}).json()["provider"] == "Together"
    assert ask(client, provider={"ignore": ["DeepInfra"]}).json()["provider"] == "Together"
    assert ask(client, provider={"quantizations": ["bf16"]}).json()["provider"] == "DeepInfra"
    assert ask(client, provider={"max_price": {"prompt": 0.015}}).json()["provider"] == "Together"
    pinned = {"order": ["Lambda"], "allow_fallbacks": False}
    assert ask(client, provider=pinned).json()["provider"] == "Lambda"
    assert ask(client, provider={**pinned, "data_collection": "deny"}).status_code == 404  # Lambda keeps data


def test_require_parameters_fails_as_openrouter_does(client):
    # Together lists no seed: pinned to it with require_parameters, nothing fits.
    resp = ask(client, seed=1, provider={"order": ["Together"], "allow_fallbacks": False,
                                         "require_parameters": True})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "No endpoints found that can handle the requested parameters."
    # Without the pin it routes past Together to one that lists seed.
    routed = ask(client, seed=1, provider={"ignore": ["DeepInfra"], "require_parameters": True}).json()
    assert routed["provider"] == "Lambda"


def test_together_ignores_seed_deepinfra_honours_it(client):
    def texts(name):
        pin = {"order": [name], "allow_fallbacks": False}
        return {ask(client, seed=7, temperature=1.5, provider=pin).json()["choices"][0]["message"]["content"]
                for _ in range(4)}

    assert len(texts("DeepInfra")) == 1
    assert len(texts("Together")) > 1


def test_models_fallback_names_the_model_that_answered(client):
    answer = ask(client, model="test/error-503", models=["openai/gpt-4o-mini"]).json()
    assert answer["model"] == "openai/gpt-4o-mini"


def test_reasoning_in_whole_and_streamed_answers(client):
    whole = ask(client, R1, reasoning={"effort": "low"}).json()
    message = whole["choices"][0]["message"]
    assert message["reasoning"].split()[:3] == ["Let", "me", "think"]
    assert message["reasoning_details"][0]["type"] == "reasoning.text"
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] == 8
    excluded = ask(client, R1, reasoning={"effort": "high", "exclude": True}).json()
    assert excluded["choices"][0]["message"]["reasoning"] is None
    assert excluded["usage"]["completion_tokens_details"]["reasoning_tokens"] == 32
    body = {"model": R1, "messages": [{"role": "user", "content": "Say hi"}], "stream": True,
            "reasoning": {"max_tokens": 3}}
    with client.stream("POST", "/chat/completions", json=body) as resp:
        chunks = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning") or "" for d in deltas) == "Let me think "
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert all(not d.get("reasoning") for d in deltas[first_content:])  # thought comes first


def test_generation_is_404_until_the_delay_passed(srv, client):
    srv.generation_delay = 0.3
    try:
        gen_id = ask(client).json()["id"]
        assert client.get("/generation", params={"id": gen_id}).status_code == 404
        deadline = time.monotonic() + 5
        while client.get("/generation", params={"id": gen_id}).status_code == 404:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stats = client.get("/generation", params={"id": gen_id}).json()["data"]
        assert stats["provider_name"] == "DeepInfra"
    finally:
        srv.generation_delay = 0.0
