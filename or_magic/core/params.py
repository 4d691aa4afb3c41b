"""The request-parameter table: the single definition of every sampling option.

Each `Param` carries its wire name, type, range and help.  The magic's option parser, the
`%%openrouter?` help, range checks, request bodies, sweep axes and widget bounds are all
derived from `PARAMS`, so a bound is written exactly once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import InvalidOption

CHAT = "chat"
COMPLETIONS = "completions"
ENDPOINTS = (CHAT, COMPLETIONS)

# Models that only exist as text-completion models.  Chat-tuned models such as
# meta-llama/llama-3.1-8b-instruct also end in "-instruct" but need their chat template, so
# the rule names OpenAI's legacy instruct/base models rather than every "*-instruct".
DEFAULT_COMPLETIONS_MODELS: tuple[str, ...] = (
    "openai/*-instruct",
    "openai/*-instruct:*",
    "openai/davinci-*",
    "openai/babbage-*",
    "*-base",
    "*/*-base-*",
)


@dataclass(frozen=True)
class Param:
    """One request parameter of the OpenRouter API."""

    name: str  # the wire name, e.g. "top_p"; the option is --top-p
    kind: str  # a key of _CONVERT: "float", "int", "bool", "str", "json", ...
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True when `low` itself is not allowed, e.g. top_p in (0, 1]
    short: str | None = None  # e.g. "-t"
    sweepable: bool = False  # may take a comma list / range and become a sweep axis
    repeatable: bool = False  # may be given several times (e.g. --stop)
    max_items: int | None = None  # for repeatable options

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """The allowed values, as said in help and errors."""
        if self.low is None and self.high is None:
            return {"int": "an integer", "float": "a number"}.get(self.kind, "")
        if self.high is None:
            return f"{'>' if self.low_open else '≥'} {_num(self.low)}"
        left = "(" if self.low_open else "["
        return f"{left}{_num(self.low)}, {_num(self.high)}]"

    def check(self, value: Any) -> Any:
        """Convert `value` (text or a Python value) to this parameter's type and range-check it."""
        converted = _CONVERT[self.kind](self, value)
        if self.kind in ("int", "float") and not self._in_range(converted):
            raise self.invalid(value)
        return converted

    def _in_range(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and value > self.high
        return not (too_low or too_high)

    def invalid(self, value: Any, why: str | None = None) -> InvalidOption:
        """The one-line error for a bad value: the option, what was given, what is allowed."""
        expected = why or f"must be {self.range_text()}"
        shown = value if isinstance(value, str) else repr(value)
        return InvalidOption(f"{self.flag} {shown}: {expected}")


def _num(x: float | None) -> str:
    return "-∞" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _to_float(p: Param, v: Any) -> float:
    if isinstance(v, bool):
        raise p.invalid(v, f"must be a number {p.range_text()}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise p.invalid(v, f"must be a number {p.range_text()}") from None


INT64 = 2**63  # what providers' JSON parsers (and their seeds, token counts) can hold


def _to_int(p: Param, v: Any) -> int:
    if isinstance(v, bool):
        raise p.invalid(v, f"must be an integer {p.range_text()}")
    try:
        number = int(v) if isinstance(v, float) and v.is_integer() else int(str(v).strip())
    except ValueError:
        raise p.invalid(v, f"must be an integer {p.range_text()}") from None
    if not -INT64 <= number < INT64:
        raise p.invalid(v, "is beyond a 64-bit integer; give a smaller value")
    return number


def _to_bool(p: Param, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise p.invalid(v, "must be true or false")


def _to_str(p: Param, v: Any) -> str:
    if p.repeatable and str(v) == "":  # an empty stop sequence would stop nothing (or everything)
        raise p.invalid(repr(""), "is empty; give the text to stop at (escapes such as \\n work on the magic line)")
    return str(v)


def _to_json(p: Param, v: Any) -> Any:
    """JSON given inline, or `@path` to a JSON file; Python values pass through."""
    if not isinstance(v, str):
        return v
    text = v
    if v.startswith("@"):
        try:
            text = Path(v[1:]).expanduser().read_text()
        except OSError as exc:
            raise p.invalid(v, f"cannot read the file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise p.invalid(v, f"is not valid JSON ({exc.msg} at char {exc.pos})") from None


def _to_response_format(p: Param, v: Any) -> dict[str, Any]:
    """`json`, `text`, a full response_format object, or a bare JSON schema (wrapped for you)."""
    if isinstance(v, str) and v.strip().lower() in ("json", "json_object", "text"):
        kind = v.strip().lower()
        return {"type": "text" if kind == "text" else "json_object"}
    value = _to_json(p, v)
    if not isinstance(value, dict):
        raise p.invalid(v, "must be json, text, a JSON schema object, or @file.json")
    if "type" in value and value["type"] in ("text", "json_object", "json_schema", "grammar", "python"):
        return value
    if "schema" in value:  # {"name": ..., "schema": {...}} as OpenAI's json_schema field
        return {"type": "json_schema", "json_schema": {"name": "response", "strict": True, **value}}
    return {"type": "json_schema", "json_schema": {"name": "response", "strict": True, "schema": value}}


def _to_tool_choice(p: Param, v: Any) -> Any:
    """none / auto / required, a JSON object, or the bare name of a function to force."""
    if isinstance(v, dict):
        return v
    text = str(v).strip()
    if text in ("none", "auto", "required"):
        return text
    if text.startswith("{"):
        return _to_json(p, text)
    if not text.replace("_", "").replace("-", "").isalnum():
        raise p.invalid(v, "must be none, auto, required, a function name, or a JSON object")
    return {"type": "function", "function": {"name": text}}


def _to_tools(p: Param, v: Any) -> list[Any]:
    value = _to_json(p, v)
    if isinstance(value, dict):  # one tool given on its own
        value = [value]
    if not isinstance(value, list):
        raise p.invalid(v, "must be a JSON list of tool definitions, or @file.json")
    return value


_CONVERT: dict[str, Callable[[Param, Any], Any]] = {
    "float": _to_float,
    "int": _to_int,
    "bool": _to_bool,
    "str": _to_str,
    "json": _to_json,
    "format": _to_response_format,
    "tool_choice": _to_tool_choice,
    "tools": _to_tools,
}

_PARAM_LIST = [
    Param("temperature", "float", "randomness of sampling; 0 = always the likeliest token",
          0, 2, short="-t", sweepable=True),
    Param("top_p", "float", "nucleus sampling: keep the smallest token set with this total probability",
          0, 1, low_open=True, sweepable=True),
    Param("top_k", "int", "sample only from the k likeliest tokens; 0 = off (ignored by OpenAI models)",
          0, None, sweepable=True),
    Param("min_p", "float", "drop tokens less likely than min_p × the top token's probability",
          0, 1, sweepable=True),
    Param("top_a", "float", "drop tokens less likely than top_a × (top probability)²", 0, 1, sweepable=True),
    Param("seed", "int", "sampling seed, for repeatable outputs where the provider supports it",
          sweepable=True),
    Param("max_tokens", "int", "upper bound on generated tokens", 1, None, sweepable=True),
    Param("max_completion_tokens", "int", "upper bound on generated tokens (newer name)", 1, None,
          sweepable=True),
    Param("stop", "str", "stop sequence (repeat the option for several, at most 4)",
          repeatable=True, max_items=4),
    Param("frequency_penalty", "float", "penalise tokens by how often they already appeared",
          -2, 2, sweepable=True),
    Param("presence_penalty", "float", "penalise tokens that already appeared at all", -2, 2,
          sweepable=True),
    Param("repetition_penalty", "float", "penalise repeated tokens (1 = off)", 0, 2, low_open=True,
          sweepable=True),
    Param("logit_bias", "json", 'JSON object token-id → bias in [-100, 100], e.g. \'{"50256": -100}\''),
    Param("logprobs", "bool", "return the log-probability of each generated token"),
    Param("top_logprobs", "int", "also return the N likeliest alternatives per token (implies --logprobs)",
          0, 20, sweepable=True),
    Param("response_format", "format", "json (any JSON object), a JSON schema, or @file.json"),
    Param("tools", "tools", "JSON list of tool (function) definitions, or @file.json"),
    Param("tool_choice", "tool_choice", "none, auto, required, or the name of a function to call"),
]

PARAMS: dict[str, Param] = {p.name: p for p in _PARAM_LIST}


def check_params(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and convert a mapping of wire name → value; unknown names are an error."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        param = PARAMS.get(name)
        if param is None:
            raise InvalidOption(f"unknown parameter {name!r}: use one of {', '.join(PARAMS)} "
                                "or pass other body fields with --param KEY=JSON")
        checked[name] = _check_one(param, value)
    _check_logit_bias(checked.get("logit_bias"))
    return checked


def _check_one(param: Param, value: Any) -> Any:
    if param.repeatable:
        items = [value] if isinstance(value, str) else list(value)
        if param.max_items and len(items) > param.max_items:
            raise param.invalid(items, f"at most {param.max_items} values")
        return [param.check(v) for v in items]
    return param.check(value)


def _check_logit_bias(bias: Any) -> None:
    param = PARAMS["logit_bias"]
    if bias is None:
        return
    if not isinstance(bias, dict):
        raise param.invalid(bias, 'must be a JSON object like {"50256": -100}')
    for token, weight in bias.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not -100 <= weight <= 100:
            raise param.invalid(bias, f"bias for token {token!r} must be a number in [-100, 100]")
