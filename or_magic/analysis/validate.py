"""Checking an answer against its schema locally: parse the JSON, name the first violation.

A small validator for the JSON-schema subset the concise syntax produces and pydantic commonly
emits: ``type`` (one or a list), ``properties``/``required``/``additionalProperties``, ``items``,
``enum``, ``const``, ``anyOf``/``oneOf``, local ``$ref`` (``#/$defs/...``).  Other keywords
(lengths, patterns, formats) are not checked: the provider enforces them, and the contract of
a table is the field names and their types.  No dependency, and fast enough for every row.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"\A\s*```(?:json)?\s*\n(.*?)\n?```\s*\Z", re.DOTALL)
_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def parse_answer(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """(the parsed value, None) or (what parsed or None, the first violation as one line)."""
    body = text.strip()
    fenced = _FENCE.match(body)  # models without enforcement often wrap JSON in a code fence
    if fenced:
        body = fenced.group(1)
    if not body:
        return None, "not valid JSON: the answer is empty"
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at char {exc.pos}"
    return value, first_violation(value, schema)


def first_violation(value: Any, schema: dict[str, Any]) -> str | None:
    """The first place where `value` breaks `schema`, as 'where: what', or None when it fits."""
    return _check(value, schema, schema, "$")


def _check(value: Any, node: Any, root: dict[str, Any], where: str) -> str | None:
    if not isinstance(node, dict):
        return None
    if "$ref" in node:
        return _check(value, _resolve(node["$ref"], root), root, where)
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            if not any(_check(value, sub, root, where) is None for sub in node[key]):
                return f"{where}: {_shown(value)} fits none of the allowed alternatives"
    if "const" in node and value != node["const"]:
        return f"{where}: expected {node['const']!r}, got {_shown(value)}"
    if isinstance(node.get("enum"), list) and value not in node["enum"]:
        return f"{where}: {_shown(value)} is not one of {', '.join(map(repr, node['enum']))}"
    wanted = node.get("type")
    kinds = wanted if isinstance(wanted, list) else [wanted] if isinstance(wanted, str) else []
    if kinds and not any(_TYPES.get(k, lambda v: True)(value) for k in kinds):
        return f"{where}: expected {' or '.join(kinds)}, got {_shown(value)}"
    if isinstance(value, dict):
        return _check_object(value, node, root, where)
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            problem = _check(item, node["items"], root, f"{where}[{i}]")
            if problem:
                return problem
    return None


def _check_object(value: dict[str, Any], node: dict[str, Any], root: dict[str, Any], where: str) -> str | None:
    properties = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    for name in node.get("required") or ():
        if name not in value:
            return f"{where}: missing field {name!r}"
    if node.get("additionalProperties") is False:
        extra = [k for k in value if k not in properties]
        if extra:
            return f"{where}: extra field {extra[0]!r} (allowed: {', '.join(properties) or 'none'})"
    for name, sub in properties.items():
        if name in value:
            problem = _check(value[name], sub, root, f"{where}.{name}")
            if problem:
                return problem
    return None


def _resolve(ref: Any, root: dict[str, Any]) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return {}  # a remote $ref is not followed: nothing to check against
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _shown(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)
    text = json.dumps(value, ensure_ascii=False)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
