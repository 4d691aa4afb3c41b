"""The shape of a sweep: value lists and ranges, template variables as axes, the size cap.

Value syntax for a sweepable option (checked against the parameter table, nothing sent):
- a comma list: ``0,0.5,1``;
- an integer range, both ends included: ``1:10`` (1..10) or ``0:100:25`` (0, 25, 50, 75, 100);
- a float range needs its step: ``0:1:0.25`` (0, 0.25, 0.5, 0.75, 1.0); it runs from START up to
  END, included when the step lands on it (``0:1:0.3`` is 0, 0.3, 0.6, 0.9).
  Without a step, ``0:1`` on a float option is refused: how many points is not obvious.
  Values are rounded to 10 decimals so 0.1 steps give 0.3, not 0.30000000000000004.
Items mix freely: ``1:3,10`` is 1, 2, 3, 10.

``--vars NAME=SOURCE`` makes a template variable an axis: the prompt is filled once per item of
SOURCE, a list/tuple/range/Series/array in the namespace, a ``df.column`` path, or a DataFrame
whose column NAME is used.  When the prompt reads ``{NAME.col}`` fields, a DataFrame (or a list of
dicts) gives one run per *row*: ``{NAME.col}`` is that row's column, the key column NAME holds the
row's index label (to join results back), and the input columns stay in the runs table.
Several ``--vars`` multiply.
"""

from __future__ import annotations

import itertools
import math
from collections import ChainMap
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from ..core.errors import InvalidOption
from ..core.params import PARAMS, Param, check_params
from .prompt import Row, fill_template, row_fields, template_fields
from .request import LazyRuns, Plan, Run

RANGE_DECIMALS = 10
MAX_RANGE_POINTS = 100_000  # a range item longer than this is a typo, not a sweep


def param_values(param: Param, given: Any, shown: str | None = None) -> list[Any]:
    """The checked values of one option: text as on the magic line (`0.7`, `0,0.5,1`, `1:10`) or
    Python values (a list or range is an axis, except --stop's texts and a list of tools).  More
    than one value on an option that cannot be swept is an error naming it as `shown`."""
    shown = shown or param.flag
    if isinstance(given, str) and param.sweepable:
        return axis_values(param, given)
    keeps_lists = param.repeatable or param.kind == "tools"
    if isinstance(given, range) and len(given) > MAX_RANGE_POINTS:  # checked before it is listed
        raise InvalidOption(f"{shown}=range(...) has {len(given):,} values, more than {MAX_RANGE_POINTS:,}; "
                            "use a larger step")
    values = list(given) if isinstance(given, (list, tuple, range)) and not keeps_lists else [given]
    if len(values) > 1 and not param.sweepable:
        raise InvalidOption(f"{shown} cannot be swept: give one value")
    try:
        return [check_params({param.name: v})[param.name] for v in values]
    except InvalidOption:
        if isinstance(given, str) and "," in given and param.kind in ("json", "format", "tools", "tool_choice"):
            raise InvalidOption(f"{shown} cannot be swept: give one value (run one cell per value "
                                f"to compare several)") from None
        raise


def python_values(name: str, value: Any) -> list[Any]:
    """The checked values of a parameter given from Python by its wire name (a list is an axis)."""
    if name == "structured_outputs":  # a capability flag in the catalogue, not a body field
        from .schema import STRUCTURED_OUTPUTS_HINT

        raise InvalidOption(STRUCTURED_OUTPUTS_HINT.replace("--structured-outputs", "structured_outputs=")
                            .replace("--schema SPEC", "schema=SPEC").replace("--schema '", "schema='"))
    if name not in PARAMS:
        raise InvalidOption(f"unknown parameter {name!r}: use one of {', '.join(PARAMS)}, "
                            "or extra={...} for other body fields")
    return param_values(PARAMS[name], value, shown=name)


def axis_values(param: Param, text: str) -> list[Any]:
    """A sweepable option's text as checked values: one value, a comma list, and/or ranges."""
    items = [item.strip() for item in str(text).split(",")]
    if any(item == "" for item in items):
        raise param.invalid(text, "has an empty item; write values like 0,0.5,1 or a range like 1:10")
    values: list[Any] = []
    for item in items:
        values += _range(param, item) if ":" in item else [param.check(item)]
    return values


def _range(param: Param, item: str) -> list[Any]:
    parts = [p.strip() for p in item.split(":")]
    if len(parts) not in (2, 3) or "" in parts:
        raise param.invalid(item, "a range is START:END or START:END:STEP, e.g. 1:10 or 0:1:0.25")
    if param.kind == "float" and len(parts) == 2:
        raise param.invalid(item, f"a float range needs a step, e.g. {parts[0]}:{parts[1]}:0.25")
    start, end = param.check(parts[0]), param.check(parts[1])
    step = _step(param, item, parts[2]) if len(parts) == 3 else 1
    if end < start:
        raise param.invalid(item, "the range's end is below its start; write START:END with START ≤ END")
    ratio = (end - start) / step
    if not math.isfinite(ratio) or ratio + 1 > MAX_RANGE_POINTS:
        raise param.invalid(item, f"the range has more than {MAX_RANGE_POINTS:,} values; use a larger step")
    count = math.floor(ratio + 1e-9) + 1
    if param.kind == "int":
        return [param.check(start + i * step) for i in range(count)]
    return [param.check(round(start + i * step, RANGE_DECIMALS)) for i in range(count)]


def _step(param: Param, item: str, text: str) -> float:
    try:
        step = int(text) if param.kind == "int" else float(text)
    except ValueError:
        kind = "an integer" if param.kind == "int" else "a number"
        raise param.invalid(item, f"the step {text!r} must be {kind} > 0") from None
    if not (step > 0 and math.isfinite(step)):
        raise param.invalid(item, f"the step {text!r} must be > 0 and finite")
    return step


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    """`--vars NAME=SOURCE` pairs as {template name: source path}; checked for shape only."""
    sources: dict[str, str] = {}
    for pair in pairs:
        name, sep, source = (part.strip() for part in pair.partition("="))
        if not sep or not name.isidentifier() or not source:
            raise InvalidOption(f"--vars {pair!r}: must be NAME=VARIABLE, e.g. --vars topic=topics")
        if name in sources:
            raise InvalidOption(f"--vars {name}: given twice; give each template variable once")
        sources[name] = source
    return sources


def resolve_vars(sources: Mapping[str, Any], namespace: Mapping[str, Any], prompt: str) -> dict[str, list[Any]]:
    """Each template axis's items: a source path is looked up in `namespace`, a sequence used as is."""
    used = set(template_fields(prompt))
    by_row = row_fields(prompt)
    axes: dict[str, list[Any]] = {}
    for name, source in sources.items():
        if name not in used and name not in by_row:
            raise InvalidOption(f"--vars {name}: the prompt has no {{{name}}} field; add it or drop the option")
        if name in by_row:
            value = _lookup(name, source, namespace, whole=True) if isinstance(source, str) else source
            axes[name] = _rows(name, source, value, by_row[name])
            continue
        value = _lookup(name, source, namespace) if isinstance(source, str) else source
        axes[name] = _items(name, source, value)
    return axes


def _rows(name: str, source: Any, value: Any, columns: Sequence[str]) -> list[Row]:
    """A DataFrame's (or a list of dicts') rows for ``{name.col}`` fields; every column read must exist."""
    shown = source if isinstance(source, str) else type(value).__name__
    if _is_frame(value):
        rows = [Row(label, dict(zip(map(str, value.columns), values)))
                for label, values in zip(value.index, value.itertuples(index=False, name=None))]
    elif isinstance(value, Sequence) and not isinstance(value, str) and all(isinstance(v, Mapping) for v in value):
        rows = [Row(i, {str(k): v for k, v in item.items()}) for i, item in enumerate(value)]
    else:
        raise InvalidOption(f"--vars {name}={shown}: the prompt reads {{{name}.{columns[0]}}}, so give a "
                            "DataFrame (or a list of dicts)")
    if not rows:
        raise InvalidOption(f"--vars {name}={shown}: has no rows; give at least one")
    known = rows[0].values
    for column in columns:
        if column not in known:
            raise InvalidOption(f"--vars {name}={shown}: {{{name}.{column}}} names no column; the columns are "
                                f"{', '.join(known)}")
    for row in rows:  # numpy scalars → Python, so str() and the tables show plain values
        row.values = {k: v.item() if hasattr(v, "item") else v for k, v in row.values.items()}
    return rows


def _lookup(name: str, path: str, namespace: Mapping[str, Any], whole: bool = False) -> Any:
    head, *attrs = path.split(".")
    if head not in namespace:
        raise InvalidOption(f"--vars {name}={path}: {head!r} is not defined in the notebook; define a list first")
    value = namespace[head]
    for attr in attrs:
        try:
            value = value[attr] if _is_frame(value) else getattr(value, attr)
        except (AttributeError, KeyError):
            raise InvalidOption(f"--vars {name}={path}: {attr!r} not found") from None
    if _is_frame(value) and not whole:
        if name not in value.columns:
            raise InvalidOption(f"--vars {name}={path}: the DataFrame has no column {name!r}; name one, e.g. "
                                f"--vars {name}={path}.<column>, or read whole rows with {{{name}.<column>}} fields")
        value = value[name]
    return value


def _items(name: str, source: Any, value: Any) -> list[Any]:
    shown = source if isinstance(source, str) else type(value).__name__
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise InvalidOption(f"--vars {name}={shown}: is a {type(value).__name__}, not a list of values; "
                            "give a list, Series or DataFrame column")
    items = [item.item() if hasattr(item, "item") else item for item in value]  # numpy scalars → Python
    if not items:
        raise InvalidOption(f"--vars {name}={shown}: is empty; give at least one value")
    return items


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def grid_size(models: int, params: Mapping[str, Sequence[Any]], samples: int,
              var_items: Mapping[str, Sequence[Any]]) -> int:
    sizes = [models, samples] + [len(v) for v in params.values()] + [len(v) for v in var_items.values()]
    return math.prod(sizes)


# Above this no sweep runs, --yes or not: every run is planned (and kept, with its answer) in
# memory, so a typo such as --seed 1:2000000000 would take the kernel down before sending.
MAX_GRID = 1_000_000


def check_grid_size(size: int, cap: int, confirmed: bool) -> None:
    """Refuse a grid above the cap unless the user said --yes, and any grid above MAX_GRID."""
    if size > MAX_GRID:
        raise InvalidOption(f"the sweep has {size:,} runs, more than or_magic ever runs at once ({MAX_GRID:,}); "
                            "shrink the grid, or split it over several cells")
    if size > cap and not confirmed:
        raise InvalidOption(f"the sweep has {size:,} runs, more than max_runs = {cap:,}; add --yes to run it "
                            "anyway, shrink the grid, or raise %config OpenRouterMagics.max_runs")


def plan_over_vars(template: str, namespace: Mapping[str, Any], var_items: Mapping[str, Sequence[Any]],
                   plan_for: Callable[[str], Plan]) -> tuple[Plan, list[str]]:
    """One sub-plan per combination of template-variable items, joined into one (lazy) plan:
    run i is run i % n of combination i // n's sub-plan (n runs each).

    Returns the plan (var names are its last axes) and the template fields left unfilled.
    """

    names = list(var_items)
    combos = [dict(zip(names, combo)) for combo in itertools.product(*var_items.values())]
    texts, missing = [], []
    for combo in combos:
        text, missing = fill_template(template, ChainMap(combo, namespace))  # type: ignore[arg-type]
        if not text.strip():
            raise InvalidOption("the prompt is empty: write it in the cell below the %%openrouter line")
        texts.append(text)
    if not texts:  # an axis with no items (refused earlier by resolve_vars): no runs
        return Plan(), missing
    first = plan_for(texts[0])
    if not names:  # no template axes: the one sub-plan is the plan
        first.prompts = texts
        return first, missing
    per_combo = len(first.runs)
    subs = {0: first}  # the sub-plan of the combination last read (runs are read in order)

    def build(index: int) -> Run:
        which, position = divmod(index, per_combo)
        sub = subs.get(which)
        if sub is None:
            subs.clear()
            sub = subs[which] = plan_for(texts[which])
        run = sub.runs.build(position) if isinstance(sub.runs, LazyRuns) else sub.runs[position]
        combo = combos[which]
        run.spec = replace(run.spec, variables=combo)
        # a DataFrame row's key is its index label: hashable, and it joins back onto the frame
        run.axes.update({n: v.label if isinstance(v, Row) else v for n, v in combo.items()})
        run.index = index
        return run

    plan = Plan(runs=LazyRuns(per_combo * len(combos), build), prompts=texts,
                axes=first.axes + [n for n in names if n not in first.axes])
    return plan, missing
