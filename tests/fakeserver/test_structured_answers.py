"""The fake server's structured output and tool calls, over real HTTP, in OpenAI/OpenRouter's shapes."""
from __future__ import annotations

import json

import httpx
import pytest

from tests.fakeserver.server import FakeOpenRouter

GPT = "openai/gpt-4o-mini"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}},
                                           "mood": {"enum": ["happy", "sad"]}},
          "required": ["name", "age", "tags", "mood"], "additionalProperties": False}
FORMAT = {"type": "json_schema", "json_schema": {"name": "p", "strict": True, "schema": SCHEMA}}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]


@pytest.fixture(scope="module")
def client():
    with FakeOpenRouter() as srv, httpx.Client(base_url=srv.base_url, timeout=5) as c:
        yield c


def ask(client, content, **kw):
    body = {"model": GPT, "messages": [{"role": "user", "content": content}], **kw}
    return client.post("/chat/completions", json=body).json()["choices"][0]


def streamed(client, content, **kw):
    body = {"model": GPT, "messages": [{"role": "user", "content": content}], "stream": True, **kw}
    with client.stream("POST", "/chat/completions", json=body) as resp:
        lines = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_json_schema_answers_fit_and_repeat(client):
    first = ask(client, "Describe someone.", response_format=FORMAT)
    value = json.loads(first["message"]["content"])
    assert set(value) == set(SCHEMA["properties"]) and isinstance(value["age"], int)
    assert all(isinstance(t, str) for t in value["tags"]) and value["mood"] in ("happy", "sad")
    assert ask(client, "Describe someone.", response_format=FORMAT) == first  # deterministic, even unseeded
    chunks = streamed(client, "Describe someone.", response_format=FORMAT)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == first["message"]["content"] and len(chunks) > 4


@pytest.mark.parametrize("marker, check", [
    ("invalid_json", lambda text: pytest.raises(json.JSONDecodeError, json.loads, text)),
    ("wrong_type", lambda text: isinstance(json.loads(text)["name"], list) or pytest.fail(text)),
    ("missing_field", lambda text: "name" not in json.loads(text) or pytest.fail(text)),
    ("extra_field", lambda text: json.loads(text)["unexpected"] == 1 or pytest.fail(text)),
])
def test_scripted_schema_misbehaviour(client, marker, check):
    check(ask(client, f"Describe someone. [fake:{marker}]", response_format=FORMAT)["message"]["content"])


def test_tool_calls_unstreamed(client):
    choice = ask(client, "Use get_weather and get_time.", tools=TOOLS)
    message = choice["message"]
    assert choice["finish_reason"] == "tool_calls" and message["content"] is None
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather", "get_time"]
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]).keys() == {"city"}
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in message["tool_calls"])
    assert ask(client, "No tools mentioned.", tools=TOOLS)["message"].get("tool_calls") is None
    assert ask(client, "get_weather", tools=TOOLS, tool_choice="none")["message"].get("tool_calls") is None
    named = ask(client, "hi", tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert [c["function"]["name"] for c in named["message"]["tool_calls"]] == ["get_time"]


def test_tool_calls_streamed_as_indexed_deltas(client):
    chunks = streamed(client, "Weather?", tools=TOOLS, tool_choice="required")
    deltas = [d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert deltas[0]["id"].startswith("call_") and deltas[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert all(d["index"] == 0 and "id" not in d for d in deltas[1:]) and len(deltas) > 2
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments).keys() == {"city"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-2:] == ["tool_calls", None]
