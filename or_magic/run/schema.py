"""`--schema SPEC` / `--schema-multi SPEC`: the JSON schema an answer must fit, and its request field.

SPEC is one of (tried in this order):
- ``@file.json``: a JSON schema read from a file;
- inline JSON (starts with ``{``): a JSON schema;
- the name of a notebook variable holding a JSON-schema dict or a pydantic model class;
- a concise field list (the grammar below).

Concise grammar (as simonw/llm's ``schema_dsl``)::

    spec   := field ("," field)*        -- or one field per line; then descriptions may hold commas
    field  := NAME [TYPE] [":" DESCRIPTION]
    TYPE   := str | int | float | bool | list | list[str] | list[int] | list[float] | list[bool]

``'name, age int, score float, tags list, summary: one sentence'`` gives five required fields
(``list`` is a list of strings; no type means ``str``).  Aliases: string, integer, number,
boolean.  A name is a Python-style identifier; names must differ.

Every object of the schema is sent strict, as OpenRouter's structured-output docs specify:
all its properties required and ``additionalProperties: false``.  ``--schema-multi`` wraps the
object as ``{"items": [object, ...]}`` on the wire.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..core.errors import InvalidOption

TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"}, "string": {"type": "string"},
    "int": {"type": "integer"}, "integer": {"type": "integer"},
    "float": {"type": "number"}, "number": {"type": "number"},
    "bool": {"type": "boolean"}, "boolean": {"type": "boolean"},
}
LIST_OF_STRINGS = {"type": "array", "items": {"type": "string"}}
STRUCTURED_OUTPUTS_HINT = ("--structured-outputs is not a request option: on OpenRouter `structured_outputs` is the "
                           "capability flag in a model's supported_parameters (%openrouter models lists them); to get "
                           "structured output use --schema SPEC, e.g. --schema 'name, age int'")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WIRE_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class SchemaSpec:
    """A resolved schema: its name on the wire, the object schema (strict), and whether a list is asked."""

    name: str
    schema: dict[str, Any]  # the object one answer (or one item) must fit
    multi: bool = False

    @property
    def wire_schema(self) -> dict[str, Any]:
        """What is sent: the object, or ``{"items": [object, ...]}`` for --schema-multi."""
        if not self.multi:
            return self.schema
        defs = self.schema.get("$defs")  # $ref paths point at the root: keep them there
        item = {k: v for k, v in self.schema.items() if k != "$defs"}
        wrapped = {"type": "object", "properties": {"items": {"type": "array", "items": item}},
                   "required": ["items"], "additionalProperties": False}
        return {**wrapped, "$defs": defs} if defs else wrapped

    def response_format(self) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": self.name, "strict": True, "schema": self.wire_schema}}

    @property
    def fields(self) -> list[str]:
        """The top-level field names of one object (the typed columns)."""
        return list((self.schema.get("properties") or {}).keys())


def parse_concise(spec: str, flag: str = "--schema") -> dict[str, Any]:
    """A concise field list as a strict JSON object schema; one-line InvalidOption on a bad field."""
    # "\n" only: splitlines() would also split on \x85 or \u2028 inside a description
    parts = spec.split("\n") if "\n" in spec.strip() else spec.split(",")
    properties: dict[str, Any] = {}
    for part in parts:
        if not part.strip():
            if "\n" in spec.strip():
                continue  # blank lines between fields are fine
            raise InvalidOption(f"{flag} {spec!r}: has an empty field; write fields like 'name, age int'")
        head, colon, description = part.partition(":")
        words = head.split()
        if not words:
            raise InvalidOption(f"{flag} {spec!r}: a field has a description but no name; write 'name: ...'")
        if len(words) > 2:
            raise InvalidOption(f"{flag} {spec!r}: field {head.strip()!r} has more than a name and a type; "
                                "put a description after a colon, e.g. 'summary: one sentence'")
        name, type_name = words[0], (words[1] if len(words) == 2 else "str")
        if not _NAME.match(name):
            raise InvalidOption(f"{flag} {spec!r}: field name {name!r} must be a letter or _ then letters, digits, _")
        if name in properties:
            raise InvalidOption(f"{flag} {spec!r}: field {name!r} is given twice; give each field once")
        prop = dict(_field_type(spec, flag, name, type_name))
        if colon and description.strip():
            prop["description"] = description.strip()
        properties[name] = prop
    if not properties:
        raise InvalidOption(f"{flag} {spec!r}: names no field; write e.g. --schema 'name, age int'")
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _field_type(spec: str, flag: str, name: str, type_name: str) -> dict[str, Any]:
    folded = type_name.lower()
    if folded in TYPES:
        return TYPES[folded]
    if folded == "list":
        return LIST_OF_STRINGS
    inner = re.fullmatch(r"list\[(\w+)\]", folded)
    if inner and inner.group(1) in TYPES:
        return {"type": "array", "items": TYPES[inner.group(1)]}
    raise InvalidOption(f"{flag} {spec!r}: field {name!r} has unknown type {type_name!r}; "
                        "use str, int, float, bool, list or list[int|float|bool]")


def resolve_schema(spec: Any, namespace: Mapping[str, Any], multi: bool = False) -> SchemaSpec:
    """SPEC (text, a dict, or a pydantic model class) as a strict `SchemaSpec`; nothing is sent."""
    flag = "--schema-multi" if multi else "--schema"
    name = "response"
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise InvalidOption(f"{flag}: is empty; give fields like 'name, age int', a JSON schema or @file.json")
        if text.startswith("@"):
            name = Path(text[1:]).stem
            schema = _json(flag, text, _read(flag, text[1:]))
        elif text.startswith(("{", "[")):
            schema = _json(flag, text, text)
        elif _NAME.match(text) and text in namespace:
            name = text
            schema = _from_value(flag, text, namespace[text])
        else:
            schema = parse_concise(spec, flag)
    else:
        name = getattr(spec, "__name__", name)
        schema = _from_value(flag, type(spec).__name__, spec)
    return SchemaSpec(_wire_name(name), strict(schema, flag), multi)


def _read(flag: str, path: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise InvalidOption(f"{flag} @{path}: cannot read the file ({exc.strerror})") from None


def _json(flag: str, shown: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        short = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidOption(f"{flag} {short}: is not valid JSON ({exc.msg} at char {exc.pos})") from None


def _from_value(flag: str, shown: str, value: Any) -> dict[str, Any]:
    """A dict is a JSON schema; a pydantic model class gives its own (pydantic is optional)."""
    if isinstance(value, type) and callable(getattr(value, "model_json_schema", None)):
        return value.model_json_schema()
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidOption(f"{flag} {shown}: is a {type(value).__name__}; give a JSON-schema dict or a pydantic "
                        "model class, a concise field list, inline JSON or @file.json")


def strict(schema: Any, flag: str = "--schema") -> dict[str, Any]:
    """A copy of `schema` with every object strict (all properties required, no others), as strict mode needs."""
    if not isinstance(schema, dict):
        raise InvalidOption(f"{flag}: the schema must be a JSON object, got {type(schema).__name__}")
    if "schema" in schema and isinstance(schema["schema"], dict) and "properties" not in schema:
        schema = schema["schema"]  # OpenAI's {"name": ..., "schema": {...}} wrapper
    if schema.get("type") not in (None, "object") or not isinstance(schema.get("properties", {}), dict):
        raise InvalidOption(f"{flag}: the schema must describe an object with properties "
                            "(one table row per answer); wrap a list as --schema-multi")
    out = copy.deepcopy(schema)
    out.setdefault("type", "object")
    _strict_node(out)
    return out


def _strict_node(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _strict_node(item)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("properties"), dict):
        node["required"] = list(node["properties"])
        node["additionalProperties"] = False
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions"):
            for sub in value.values() if isinstance(value, dict) else ():
                _strict_node(sub)
        elif key in ("items", "anyOf", "oneOf", "allOf"):
            _strict_node(value)


def _wire_name(name: str) -> str:
    """OpenRouter's json_schema name: ≤ 64 characters of [A-Za-z0-9_-]."""
    return (_WIRE_NAME.sub("_", name) or "response")[:64]
