"""The DataFrames of a result: runs, per-token logprobs, and alternatives in long form.

pandas is imported here and only here, lazily, so `%load_ext or_magic` stays fast.  Tables are
built column-wise from the normalised lists (no per-row dicts), which keeps an 80,000-row
alternatives table cheap.  Every table has its columns even when it has no rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import pandas as pd

    from .result import Run

RUN_COLUMNS = ["model", "text", "finish_reason", "prompt_tokens", "completion_tokens", "cost",
               "latency", "generation_id", "provider", "error"]
LOGPROB_COLUMNS = ["position", "token", "logprob", "prob", "offset", "bytes"]
TOP_COLUMNS = ["position", "rank", "token", "logprob", "prob", "chosen"]


def runs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per run: its key columns (swept parameters), then what came back."""
    import pandas as pd

    param_names = _param_columns(runs, key_columns)
    columns: dict[str, list[Any]] = {"run": [r.index for r in runs]}
    for name in key_columns:
        columns[name] = [r.key().get(name) for r in runs]
    for name in param_names:
        columns[name] = [r.spec.params.get(name) for r in runs]
    for name in RUN_COLUMNS:
        if name not in columns:
            columns[name] = [r.field(name) for r in runs]
    return pd.DataFrame(columns)


def _param_columns(runs: Sequence["Run"], key_columns: Sequence[str]) -> list[str]:
    """Sampling parameters any run set, in table order, besides the key columns."""
    from .params import PARAMS

    used = {name for r in runs for name in r.spec.params}
    return [name for name in PARAMS if name in used and name not in key_columns]


def logprobs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per generated token of every run, with the run's key columns first."""
    import numpy as np
    import pandas as pd

    keys = _key_lists(key_columns)
    position: list[int] = []
    token: list[str] = []
    logprob: list[float] = []
    offset: list[Any] = []
    raw_bytes: list[Any] = []
    for run in runs:
        lp = run.logprobs
        if lp is None or not len(lp):
            continue
        _repeat_keys(keys, run, len(lp))
        position += range(len(lp))
        token += lp.token
        logprob += lp.logprob
        offset += lp.offset
        raw_bytes += lp.bytes
    values = np.asarray(logprob, dtype=float)
    columns = {**keys, "position": position, "token": token, "logprob": values,
               "prob": np.exp(values), "offset": pd.array(offset, dtype="Int64"), "bytes": raw_bytes}
    return pd.DataFrame(columns)


def top_logprobs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per (token position, alternative), best first; `chosen` marks the sampled one."""
    import numpy as np
    import pandas as pd

    keys = _key_lists(key_columns)
    position: list[int] = []
    rank: list[int] = []
    token: list[str] = []
    logprob: list[float] = []
    chosen: list[bool] = []
    for run in runs:
        lp = run.logprobs
        if lp is None or not lp.alt_token:
            continue
        _repeat_keys(keys, run, len(lp.alt_token))
        position += lp.alt_position
        rank += lp.alt_rank
        token += lp.alt_token
        logprob += lp.alt_logprob
        picked = lp.token
        chosen += [picked[p] == t if p < len(picked) else False for p, t in zip(lp.alt_position, lp.alt_token)]
    values = np.asarray(logprob, dtype=float)
    columns = {**keys, "position": position, "rank": rank, "token": token, "logprob": values,
               "prob": np.exp(values), "chosen": np.asarray(chosen, dtype=bool)}
    return pd.DataFrame(columns)


def _key_lists(key_columns: Sequence[str]) -> dict[str, list[Any]]:
    return {"run": [], **{name: [] for name in key_columns}}


def _repeat_keys(keys: dict[str, list[Any]], run: "Run", count: int) -> None:
    values = {"run": run.index, **run.key()}
    for name, column in keys.items():
        column += [values.get(name)] * count


def format_cost(cost: float | None) -> str:
    if cost is None or (isinstance(cost, float) and math.isnan(cost)):
        return "cost n/a"
    return "$0" if cost == 0 else f"${cost:.6f}".rstrip("0")
