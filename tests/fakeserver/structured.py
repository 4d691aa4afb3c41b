"""Structured output and tool calls of the fake server, as OpenAI/OpenRouter shape them.

``response_format: {"type": "json_schema", "json_schema": {"schema": ...}}`` is honoured: the
content is JSON valid for the schema, deterministic from (model, prompt, seed) like the text.
``{"type": "json_object"}`` gives some JSON object.  Tools: with ``tools`` given and
``tool_choice`` not ``none``, the answer is tool calls (content null, finish_reason
"tool_calls") when ``tool_choice`` is ``required`` or names a function, or (``auto``) when the
prompt mentions a tool's name: one call per mentioned tool, arguments generated from each
tool's ``parameters`` schema.

Scripted misbehaviour, for tests: a marker in the prompt (any message) makes the schema answer
break it in one way: ``[fake:invalid_json]`` (cut-off JSON), ``[fake:wrong_type]`` (the first
field gets a value of another type), ``[fake:missing_field]`` (the first required field is
left out), ``[fake:extra_field]`` (an unexpected field is added); ``[fake:bad_arguments]``
makes tool-call arguments invalid JSON.
"""
from __future__ import annotations

import json
import random
import re
from typing import Any

from tests.fakeserver.textgen import Generation, fixed_text, stable_hash

_WORDS = ("alpha", "bright", "calm", "delta", "ember", "fjord", "glow", "harbor", "iris", "juniper")
_MARK = re.compile(r"\[fake:(invalid_json|wrong_type|missing_field|extra_field|bad_arguments)\]")
MAX_DEPTH = 6


def markers(prompt_key: str) -> set[str]:
    return set(_MARK.findall(prompt_key))


def value_for(schema: Any, rng: random.Random, root: dict, depth: int = 0) -> Any:
    """A value valid for `schema` (the subset strict mode allows), chosen by `rng`."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return value_for(node, rng, root, depth + 1)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return value_for(schema[key][0], rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {name: value_for(sub, rng, root, depth + 1) for name, sub in props.items()}
    if kind == "array":
        return [value_for(schema.get("items", {"type": "string"}), rng, root, depth + 1)
                for _ in range(rng.randint(1, 3))]
    return _scalar(kind, rng)


def _scalar(kind: Any, rng: random.Random) -> Any:
    if kind == "integer":
        return rng.randint(0, 100)
    if kind == "number":
        return round(rng.uniform(0, 10), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))


def schema_answer(response_format: Any, rng: random.Random, prompt_key: str) -> str | None:
    """The JSON content for a response_format, or None when it asks for nothing structured."""
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": _scalar("string", rng)})
    spec = response_format.get("json_schema")
    if response_format.get("type") != "json_schema" or not isinstance(spec, dict):
        return None
    schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
    value = value_for(schema, rng, schema)
    return _break(value, schema, markers(prompt_key))


def _break(value: Any, schema: dict, kinds: set[str]) -> str:
    target = value
    # --schema-multi: misbehave inside the first item, where a user's fields are
    if isinstance(value, dict) and list(value) == ["items"] and isinstance(value["items"], list) and value["items"]:
        target = value["items"][0]
    if isinstance(target, dict) and target:
        first = next(iter(target))
        if "wrong_type" in kinds:
            target[first] = [] if isinstance(target[first], str) else "not the right type"
        if "missing_field" in kinds:
            del target[first]
        if "extra_field" in kinds:
            target["unexpected"] = 1
    text = json.dumps(value, ensure_ascii=False)
    return text[: max(1, len(text) // 2)] if "invalid_json" in kinds else text


def tool_calls(body: dict, rng: random.Random, prompt_key: str) -> list[dict] | None:
    """The tool calls this request gets, or None for a text answer."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    if choice == "required":
        chosen = tools[:1]
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        chosen = [t for t in tools if t["function"].get("name") == name]
    else:
        chosen = [t for t in tools if str(t["function"].get("name")) in prompt_key]
    if not chosen:
        return None
    bad = "bad_arguments" in markers(prompt_key)
    calls = []
    for i, tool in enumerate(chosen):
        params = tool["function"].get("parameters") or {"type": "object", "properties": {}}
        arguments = json.dumps(value_for(params, rng, params), ensure_ascii=False)
        calls.append({"id": f"call_{rng.getrandbits(64):016x}", "type": "function",
                      "function": {"name": tool["function"].get("name"),
                                   "arguments": arguments[:-1] if bad else arguments}})
    return calls


def tool_call_deltas(calls: list[dict]) -> list[list[dict]]:
    """Streamed as OpenAI does: per call a head delta (id, type, name, empty arguments), then the
    arguments string in pieces, each keyed by the call's index."""
    deltas: list[list[dict]] = []
    for i, call in enumerate(calls):
        fn = call["function"]
        deltas.append([{"index": i, "id": call["id"], "type": "function",
                        "function": {"name": fn["name"], "arguments": ""}}])
        args = fn["arguments"]
        deltas += [[{"index": i, "function": {"arguments": args[k:k + 7]}}] for k in range(0, len(args), 7)]
    return deltas


def structured_generation(endpoint: str, body: dict, model: str,
                          prompt_key: str) -> tuple[Generation | None, list[dict] | None]:
    """(the generation, the tool calls) of a structured or tool-call answer; (None, None) for plain text.

    Deterministic from (model, prompt, seed) even unseeded, so tests can compare answers; not cut
    at max_tokens (a cut-off JSON answer is scripted with [fake:invalid_json] instead)."""
    rng = random.Random(stable_hash("structured", model, prompt_key, body.get("seed")))
    calls = tool_calls(body, rng, prompt_key) if endpoint == "chat" else None
    if calls:
        return fixed_text("", "tool_calls"), calls
    content = schema_answer(body.get("response_format"), rng, prompt_key)
    return (fixed_text(content) if content is not None else None), None
