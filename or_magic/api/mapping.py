"""`map_rows`: one prompt over the rows of a pandas DataFrame (partition), the answers as columns.

A plain module-level function, so it pickles by reference and `dask.dataframe.map_partitions`
(or any process pool) can run it on other machines:

    ddf.map_partitions(or_magic.map_rows, "Label: {review}", meta=or_magic.map_rows_meta(ddf, ...), ...)

It builds on `sweep()` (concurrency, retries, max_cost, cache, history: nothing is sent twice here)
over the frame's rows (`sweep_vars={ROW: df}`), with the frame's columns written as plain
``{column}`` fields.  What it adds is what a worker process needs:
- the output has the input's index, columns and row order, plus a fixed set of result columns
  (`result_columns`: the same for every partition, so Dask's `meta` is known before anything runs);
- each partition records to its own SQLite file under `history_dir`, named after what the
  partition sends (`partition_identity`), so two processes never write one file and a partition
  run again finds its own history (today: `cache=True` answers its seeded / temperature-0 rows);
- progress is off, `stream` off and `max_runs` lifted by default: nobody watches a worker, and the
  rows are the plan, not a grid that could be a typo (`max_cost=` is the guard for money).
The key is read from the worker's own environment ($OPENROUTER_API_KEY) when a request is made; it
is never an argument, so it is never pickled into a task graph.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidOption
from ..core.params import PARAMS
from ..core.settings import Settings
from ..run.call import RESUME_AUTO
from ..run.grid import python_values
from ..run.prompt import qualify_fields, template_fields
from ..run.request import asked_for_logprobs
from .calls import sweep

if TYPE_CHECKING:
    import pandas as pd

# The sweep variable the rows are bound to; `{column}` in the prompt is sent as `{ROW.column}`.
ROW = "_or_magic_row"

# The result columns every partition gets, with fixed dtypes so partitions concatenate cleanly:
# the runs table's names (analysis/frames.py RUN_COLUMNS), one per row.
RESULT_DTYPES: dict[str, str] = {
    "model": "object", "text": "object", "finish_reason": "object", "prompt_tokens": "Int64",
    "completion_tokens": "Int64", "cost": "float64", "latency": "float64", "generation_id": "object",
    "provider": "object", "error": "object",
}
# With logprobs asked for: the per-run metrics (analysis/metrics.py METRIC_COLUMNS).
METRIC_DTYPES: dict[str, str] = {
    "mean_logprob": "float64", "perplexity": "float64", "joint_prob": "float64", "min_logprob_token": "object",
    "min_logprob_position": "Int64", "not_top_share": "float64",
}
# With schema= / schema_multi=: the parsed answer (an object, or a list of them) and why it did not fit.
SCHEMA_DTYPES: dict[str, str] = {"data": "object", "schema_error": "object"}

# complete() keywords that make no sense once per row on a worker (a conversation is one thread of
# turns; a grid axis would give several rows per input row; callbacks would run on the worker).
REFUSED = {"sweep_vars": "the rows are the sweep", "samples": "one answer per row",
           "chat": "a conversation is one thread, not a frame", "continue_from": "a conversation is one thread",
           "max_history": "a conversation is one thread", "cell": "there is no cell on a worker",
           "on_text": "nothing streams on a worker", "sweep_providers": "one answer per row"}
# Options that change how a partition is sent but not what: left out of its identity.
NOT_IDENTITY = ("concurrency", "progress", "yes", "max_cost", "cache", "on_done", "resume")


def map_rows(df: "pd.DataFrame", prompt: str, *, history_dir: str | None = None, prefix: str = "",
             **options: Any) -> "pd.DataFrame":
    """Run `prompt` once per row of `df`; return `df` (same index, columns, order) plus result columns.

    ``{column}`` in the prompt is that row's value of `column` (``{{column}}`` keeps the braces;
    other fields must be in `variables=`).  `options` are `complete()`'s keywords (model=,
    temperature=, max_tokens=, concurrency=, settings=, schema=, ...).  A failed row has `error` set,
    never an exception; bad input (a field naming no column, a bad option) raises before anything is
    sent.  Result columns: `result_columns(...)`, each named `prefix` + name.  Each call records to
    ``<history_dir>/map-<identity>.db`` (default folder: $OR_MAGIC_HOME, else the history's folder).
    """
    import pandas as pd

    template = _template(df, prompt, options)
    _check_options(options)
    dtypes = result_columns(prompt, prefix=prefix, **options)
    clash = [name for name in dtypes if name in df.columns]
    if clash:
        raise InvalidOption(f"map_rows: the frame already has a column {clash[0]!r}; pass prefix='llm_' (or another) "
                            "to name the result columns apart")
    out = df.copy()
    if len(df) == 0:  # an empty partition: the columns, nothing sent
        for name, dtype in dtypes.items():
            out[name] = pd.Series([], dtype=dtype, index=df.index)
        return out
    result = send_partition(template, df, options, history_file(history_dir, partition_identity(df, prompt, options)))
    columns = _result_values(result, len(df), metrics=prefix + "mean_logprob" in dtypes)
    for name, dtype in dtypes.items():
        out[name] = pd.Series(columns[name[len(prefix):]], dtype=dtype, index=df.index)
    return out


def map_rows_meta(frame: Any, prompt: str, *, prefix: str = "", history_dir: str | None = None,
                  **options: Any) -> "pd.DataFrame":
    """The empty frame `map_rows` returns for partitions of `frame` (a pandas or Dask DataFrame):
    Dask's `meta=`.  Checks the prompt and options on the spot, so bad input fails before any task runs."""
    empty = getattr(frame, "_meta", frame).iloc[:0]  # a Dask DataFrame's _meta is its empty pandas frame
    return map_rows(empty, prompt, history_dir=history_dir, prefix=prefix, **options)


def result_columns(prompt: str, *, prefix: str = "", **options: Any) -> dict[str, str]:
    """The result columns `map_rows` adds for these options, name → dtype, in order: the same for
    every partition (they depend on the options, never on the answers)."""
    dtypes = dict(RESULT_DTYPES)
    params = {name: value for name, value in options.items() if name in PARAMS}
    if asked_for_logprobs(params) or options.get("choices") is not None:
        dtypes.update(METRIC_DTYPES)
    if options.get("schema") is not None or options.get("schema_multi") is not None:
        dtypes.update(SCHEMA_DTYPES)
    return {prefix + name: dtype for name, dtype in dtypes.items()}


def partition_identity(df: "pd.DataFrame", prompt: str, options: dict[str, Any]) -> str:
    """A short hash of what this partition sends: the prompt, the options that shape the requests,
    the server and default model, and the index labels and values of the columns the prompt reads.
    The same partition run again (after a crash, on another worker) gets the same identity, so the
    same history file; a different partition, prompt or option gets another."""
    import pandas as pd

    settings = options.get("settings") or Settings()
    shaping = {name: value for name, value in options.items() if name not in NOT_IDENTITY and name != "settings"}
    fields = set(template_fields(prompt))
    read = [c for c in df.columns if str(c) in fields] or list(df.columns)
    digest = hashlib.sha256()
    digest.update(json.dumps({"prompt": prompt, "options": shaping, "base_url": settings.resolved_base_url(),
                              "model": settings.model, "columns": [str(c) for c in read]},
                             sort_keys=True, default=repr).encode())
    try:
        digest.update(pd.util.hash_pandas_object(df[read], index=True).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): their text instead
        digest.update(df[read].to_json(orient="split", default_handler=repr).encode())
    return digest.hexdigest()[:16]


def history_file(folder: str | None, identity: str) -> Path:
    """Where a partition's runs are recorded: `folder` (default: the history database's folder,
    $OR_MAGIC_HOME when set) / map-<identity>.db."""
    from ..store.runlog import default_path

    base = Path(folder).expanduser() if folder else default_path().parent
    return base / f"map-{identity}.db"


def _template(df: "pd.DataFrame", prompt: str, options: dict[str, Any]) -> str:
    """The prompt with its column fields read from the row; an unknown field is an error."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidOption("map_rows: the prompt is empty; give a text with {column} fields")
    columns = [str(c) for c in df.columns]
    shown = ", ".join(columns) or "(none)"
    template, unknown = qualify_fields(prompt, ROW, columns)
    unknown = [name for name in unknown if name not in _vars(options)]
    if unknown:
        raise InvalidOption(f"map_rows: {{{unknown[0]}}} names no column; the columns are {shown} "
                            f"(write {{{{{unknown[0]}}}}} for a literal brace, or give variables={{...}})")
    if template == prompt:
        raise InvalidOption(f"map_rows: the prompt reads no column; write {{column}} fields (the columns are {shown})")
    return template


def _vars(options: dict[str, Any]) -> dict[str, Any]:
    return dict(options.get("variables") or {})


def _check_options(options: dict[str, Any]) -> None:
    """One answer per row: refuse grid axes and conversation options before anything is sent."""
    for name, why in REFUSED.items():
        if name in options and not (name == "samples" and options[name] == 1) and options[name] is not None:
            raise InvalidOption(f"map_rows: {name}= is not supported ({why}); map the frame once per setting instead")
    model = options.get("model")
    if model is not None and not isinstance(model, str) and len(list(model)) != 1:
        raise InvalidOption("map_rows: model= names several models; map the frame once per model "
                            "(or give fallback_models=)")
    for name, value in options.items():
        if name in PARAMS and value is not None and len(python_values(name, value)) > 1:
            raise InvalidOption(f"map_rows: {name}={value!r} is a sweep axis; give one value (one answer per row)")
    settings = options.get("settings")
    if settings is not None and not isinstance(settings, Settings):
        raise InvalidOption(f"map_rows: settings= must be an or_magic.Settings, not {type(settings).__name__}")
    if settings is not None and settings.history_path:
        raise InvalidOption("map_rows: settings.history_path is set; each partition records to its own file, "
                            "so give history_dir= (a folder) instead")


def send_partition(template: str, df: "pd.DataFrame", options: dict[str, Any], history: Path) -> Any:
    """The partition's one sweep, recorded to `history` (its own file; none with settings.history off).

    A partition run again resumes (`resume="auto"`): the partition's identity is in the file name, so
    it opens the file its finished rows are in, the runs are planned in row order each time (run i =
    row i), and only the rows without a successful answer are sent; a first run starts the sweep."""
    settings = options.get("settings") or Settings()
    if settings.history:
        settings = settings.with_overrides(history_path=str(history))
    call = {"stream": False, "yes": True, "progress": False, "resume": RESUME_AUTO, **options, "settings": settings}
    return sweep(template, sweep_vars={ROW: df}, **call)


def _result_values(result: Any, rows: int, metrics: bool) -> dict[str, list[Any]]:
    """Each result column's values in row order (the runs are planned one per row, in order)."""
    runs = sorted(result.runs, key=lambda run: run.index)
    if len(runs) != rows:  # _check_options makes this impossible; never hand back misaligned rows
        raise InvalidOption(f"map_rows: {len(runs)} runs for {rows} rows; give one value per option")
    values: dict[str, list[Any]] = {name: [run.field(name) for run in runs] for name in RESULT_DTYPES}
    if metrics:  # the runs table computes them (analysis/metrics.py); built only when asked for
        frame = result.df.sort_values("run")
        for name in METRIC_DTYPES:
            values[name] = [_plain(v) for v in frame[name]] if name in frame.columns else [None] * rows
    if result.schema is not None:
        from ..analysis.structured import parsed

        pairs = parsed(runs, result.schema)
        values["data"] = [data for data, _ in pairs]
        values["schema_error"] = [problem for _, problem in pairs]
    return values


def _plain(value: Any) -> Any:
    """NaN / pd.NA → None, so the fixed dtypes (Int64, object) take every value."""
    try:
        return None if value != value or value is None else value  # NaN != NaN
    except TypeError:  # pd.NA compares to NA, whose truth value raises
        return None
