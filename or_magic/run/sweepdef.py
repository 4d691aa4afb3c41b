"""What defines a sweep, as data that outlives the kernel: the recorded definition of a call
(store/sweeps.py keeps it), the fingerprint of its grid, and the way back to `CallOptions`.

The fingerprint hashes the requests themselves — every run's endpoint and body in grid order, the
base URL and the axes — so two plans share one exactly when they would send the same runs in the
same positions, whatever notebook variable or option produced them.  The definition holds the
options with every notebook value resolved (a `--vars` list's items, a DataFrame's rows as label
and values, the values the template read, the schema), so `or_magic.resume(id)` can plan the same
runs in a fresh kernel; it is also what names the difference when a cell no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from typing import Any, Iterable, Mapping, Sequence

from ..core.routing import Routing
from .call import CallOptions
from .prompt import Row, template_fields
from .request import Run

# How a sweep ran, not what it is: recorded for or_magic.resume(), never compared.
HOW_IT_RAN = ("concurrency", "max_cost", "cache")


# One encoder for every run: json.dumps with options builds a new one per call (a third of the time).
_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode


def grid_fingerprint(base_url: str, axes: Sequence[str], runs: Iterable[Run]) -> str:
    """A hash of the requests a plan makes, in grid order (one pass; no body is kept, so a
    100,000-run plan does not hold 100,000 bodies before it sends)."""
    digest = hashlib.sha256(json.dumps([base_url.rstrip("/"), list(axes)]).encode())
    for run in runs:
        digest.update(b"\n")
        digest.update(_ENCODE([run.spec.endpoint, run.spec.fresh_body()]).encode())
    return digest.hexdigest()[:32]


def sweep_definition(prompt: str, options: CallOptions, models: Sequence[str], var_items: Mapping[str, Sequence[Any]],
                     namespace: Mapping[str, Any], schema: Any, completions_models: Sequence[str]) -> dict[str, Any]:
    """The call's options as JSON-able data, every notebook value resolved."""
    read = [name for name in template_fields(prompt) if name not in var_items and name in namespace]
    return _plain({
        "models": list(models), "params": options.params, "samples": options.samples, "system": options.system,
        "endpoint": options.endpoint, "extra": options.extra, "choices": options.choices,
        "vars": {name: _items(items) for name, items in var_items.items()},
        # fill_template writes str(value): the text is all that reaches the request
        "variables": {name: str(namespace[name]) for name in read},
        "schema": {"name": schema.name, "schema": schema.schema, "multi": schema.multi} if schema else None,
        "routing": asdict(options.routing), "reasoning": options.reasoning, "strict": options.strict,
        "completions_models": list(completions_models),
        **{name: getattr(options, name) for name in HOW_IT_RAN},
    })


def _items(items: Sequence[Any]) -> dict[str, Any]:
    if items and isinstance(items[0], Row):
        return {"rows": [[row.label, row.values] for row in items]}
    return {"items": list(items)}


def _plain(value: Any) -> Any:
    """`value` as JSON would give it back (tuples as lists, odd objects as text)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between two definitions (each `key: then → now`), the run-only options aside."""
    def shown(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    found = []
    for key in dict.fromkeys([*recorded, *now]):
        if key in HOW_IT_RAN:
            continue
        then, current = recorded.get(key), now.get(key)
        if key == "params" and isinstance(then, dict) and isinstance(current, dict):
            found += [f"{name}: {shown(_one(then.get(name)))} then, {shown(_one(current.get(name)))} now"
                      for name in dict.fromkeys([*then, *current]) if then.get(name) != current.get(name)]
        elif then != current:
            found.append(f"{key}: {shown(then)} then, {shown(current)} now")
    return found


def _one(values: Any) -> Any:
    """An option's value list as the user wrote it: `2` for [2], the list for a swept one."""
    return values[0] if isinstance(values, list) and len(values) == 1 else values


class _NamedSchema(dict):  # type: ignore[type-arg]
    """A recorded JSON schema that keeps its wire name: run/schema.py names a value by `__name__`."""


def options_from_definition(definition: Mapping[str, Any]) -> tuple[CallOptions, dict[str, Any]]:
    """The `CallOptions` and template values that plan a recorded sweep's runs again."""
    import pandas as pd

    vars_: dict[str, Any] = {}
    for name, given in definition.get("vars", {}).items():
        if "rows" in given:  # back to a DataFrame, so every run keeps its row's label as its key
            labels = [tuple(label) if isinstance(label, list) else label for label, _ in given["rows"]]
            vars_[name] = pd.DataFrame([values for _, values in given["rows"]], index=labels)
        else:
            vars_[name] = given["items"]
    schema = definition.get("schema")
    named = None
    if schema:
        named = _NamedSchema(schema["schema"])
        named.__name__ = schema["name"]  # type: ignore[attr-defined]
    known = {f.name for f in fields(Routing)}
    routing = Routing(**{k: tuple(v) if isinstance(v, list) else v
                         for k, v in (definition.get("routing") or {}).items() if k in known})
    options = CallOptions(
        models=list(definition.get("models", [])), params=dict(definition.get("params", {})),
        system=definition.get("system"), endpoint=definition.get("endpoint"),
        samples=definition.get("samples", 1), extra=dict(definition.get("extra") or {}),
        choices=list(definition.get("choices") or []), vars=vars_, routing=routing,
        reasoning=definition.get("reasoning"), strict=bool(definition.get("strict")),
        schema=named, schema_multi=bool(schema and schema.get("multi")),
        yes=True,  # the sweep's size was confirmed when it started
        **{name: definition.get(name) for name in HOW_IT_RAN})
    return options.check(), dict(definition.get("variables") or {})
