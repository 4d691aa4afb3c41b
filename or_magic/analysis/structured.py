"""Structured answers and tool calls as tables.

- `--schema`: each run's answer is parsed and checked (validate.py); `.df` gains one typed column
  per field (integer → Int64, number → float, boolean → boolean, the rest as is) and a
  `schema_error` column (None, or the first violation).  A field whose name is already a column
  (`text`, `model`, an input column, ...) is named `field_<name>`.  A run whose answer does not
  fit keeps its text; its fields are empty.
- `--schema-multi`: `.df` gets `items` (how many) and `schema_error`; `.items` is the long table
  (run, run keys, item, fields).
- `--vars row=df` rows: the input columns stay in `.df` beside the keys (`row` is the index
  label); an input column named like a runs column is named `row.<column>`.
- Tool calls: `.tool_calls` has run, run keys, call, id, function, arguments (parsed from JSON),
  arguments_error; `.df` has a `tool_calls` count when any run offered tools or got calls.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from ..run.prompt import Row
from .validate import parse_answer

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run
    from ..run.schema import SchemaSpec

TOOL_CALL_COLUMNS = ["call", "id", "function", "arguments", "arguments_error"]
_DTYPES = {"integer": "Int64", "number": "float64", "boolean": "boolean"}


def parsed(runs: Sequence["Run"], spec: "SchemaSpec") -> list[tuple[Any, str | None]]:
    """Each run's (data, schema_error): data is the object (the item list for --schema-multi), or None."""
    out: list[tuple[Any, str | None]] = []
    for run in runs:
        if run.completion is None:  # a failed request: its error column says why
            out.append((None, None))
            continue
        value, problem = parse_answer(run.text, spec.wire_schema)
        if spec.multi and isinstance(value, list) and problem:  # a bare list, as unenforcing models write
            value, problem = parse_answer(json.dumps({"items": value}), spec.wire_schema)
        if problem:
            out.append((None, problem))
        else:
            out.append((value["items"] if spec.multi else value, None))
    return out


def extend_runs_frame(df: "pd.DataFrame", runs: Sequence["Run"], key_columns: Sequence[str],
                      spec: "SchemaSpec | None") -> "pd.DataFrame":
    """The runs table with the input columns of --vars rows, the tool_calls count and the schema fields."""
    df = _with_inputs(df, runs, key_columns)
    if any(r.spec.sets("tools") or (r.completion and r.completion.tool_calls) for r in runs):
        df["tool_calls"] = [len(r.completion.tool_calls) if r.completion else 0 for r in runs]
    if spec is None:
        return df
    results = parsed(runs, spec)
    if spec.multi:
        df["items"] = [len(data) if data is not None else None for data, _ in results]
    else:
        fields = _field_columns(spec, [data for data, _ in results], set(df.columns))
        for name, values in fields.items():
            df[name] = values
    df["schema_error"] = [problem for _, problem in results]
    return df


def _with_inputs(df: "pd.DataFrame", runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """Insert each --vars row's input columns right after the key columns."""
    names = [n for n, v in (runs[0].spec.variables.items() if runs else ()) if isinstance(v, Row)]
    position = 1 + len(key_columns)
    for name in names:
        rows = [r.spec.variables.get(name) for r in runs]
        for column in rows[0].values:
            shown = column if column not in df.columns else f"{name}.{column}"
            df.insert(position, shown, [row.values.get(column) if isinstance(row, Row) else None for row in rows],
                      allow_duplicates=True)
            position += 1
    return df


def _field_columns(spec: "SchemaSpec", objects: Sequence[Any], taken: set[str]) -> dict[str, Any]:
    """One typed column per top-level field; a name already taken becomes field_<name>."""
    import pandas as pd

    columns: dict[str, Any] = {}
    properties = spec.schema.get("properties") or {}
    for name in spec.fields:
        values = [obj.get(name) if isinstance(obj, dict) else None for obj in objects]
        dtype = _DTYPES.get(_type_of(properties.get(name), spec.schema))
        shown = f"field_{name}" if name in taken else name
        columns[shown] = pd.array(values, dtype=dtype) if dtype else pd.Series(values, dtype=object).to_numpy()
    return columns


def _type_of(node: Any, root: dict[str, Any]) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
        node = (root.get("$defs") or {}).get(node["$ref"].rsplit("/", 1)[-1])
    kind = node.get("type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) else None


def items_frame(runs: Sequence["Run"], key_columns: Sequence[str], spec: "SchemaSpec") -> "pd.DataFrame":
    """--schema-multi's long table: one row per item of every valid answer."""
    import pandas as pd

    keys = ["run", *key_columns]
    rows: list[dict[str, Any]] = []
    owners: list[Any] = []
    for run, (data, _) in zip(runs, parsed(runs, spec)):
        for i, item in enumerate(data or ()):
            owners.append(run)
            rows.append({"item": i, **item})
    head = {name: [r.index if name == "run" else r.key().get(name) for r in owners] for name in keys}
    frame = pd.DataFrame({**head, "item": [row["item"] for row in rows]})
    frame["run"] = frame["run"].astype("int64")
    frame["item"] = frame["item"].astype("int64")
    for name, values in _field_columns(spec, rows, set(keys) | {"item"}).items():
        frame[name] = values
    return frame


def tool_calls_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per tool call of every run: keys, call index, id, function name, parsed arguments."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run in runs:
        for i, call in enumerate(run.completion.tool_calls if run.completion else ()):
            arguments, problem = parse_arguments(call)
            function = _function(call)
            rows.append({"run": run.index, **{k: run.key().get(k) for k in key_columns}, "call": i,
                         "id": call.get("id") if isinstance(call, dict) else None, "function": function.get("name"),
                         "arguments": arguments, "arguments_error": problem})
    frame = pd.DataFrame(rows, columns=["run", *key_columns, *TOOL_CALL_COLUMNS])
    return frame.astype({"run": "int64", "call": "int64"}) if rows else frame


def parse_arguments(call: Any) -> tuple[Any, str | None]:
    """A tool call's arguments from their JSON string: (value, None) or (None, why they don't parse)."""
    function = _function(call)
    text = function.get("arguments")
    if isinstance(text, dict):  # some providers send an object rather than a string
        return text, None
    if not isinstance(text, str) or not text.strip():
        return {}, None  # a call without arguments
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at char {exc.pos}"


def _function(call: Any) -> dict[str, Any]:
    """A tool call's `function` object ({} when a provider sent something else)."""
    function = call.get("function") if isinstance(call, dict) else None
    return function if isinstance(function, dict) else {}


def tool_call_lines(run: "Run") -> list[str]:
    """A tool-call answer as lines `name({"arg": ...})`, for the display (instead of a blank)."""
    lines = []
    for call in run.completion.tool_calls if run.completion else ():
        function = _function(call)
        arguments, problem = parse_arguments(call)
        shown = json.dumps(arguments, ensure_ascii=False) if problem is None else str(function.get("arguments"))
        lines.append(f"→ {function.get('name') or '?'}({shown})" + (f"  [{problem}]" if problem else ""))
    return lines
