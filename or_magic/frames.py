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
LOGPROB_COLUMNS = ["position", "token", "logprob", "prob", "offset", "bytes", "text", "rank", "margin", "entropy",
                   "tail_mass", "cumulative_logprob"]
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
    columns.update(_metric_columns(runs))
    return pd.DataFrame(columns)


def _metric_columns(runs: Sequence["Run"]) -> dict[str, list[Any]]:
    """Per-run logprob metrics (metrics.METRIC_COLUMNS), when any run asked for or got logprobs."""
    from .metrics import METRIC_COLUMNS, run_metrics

    if not any(r.logprobs or asked_for_logprobs(r.spec.params) for r in runs):
        return {}
    rows = [run_metrics(r.logprobs) for r in runs]
    return {name: [row[name] for row in rows] for name in METRIC_COLUMNS}


def asked_for_logprobs(params: dict[str, Any]) -> bool:
    return bool(params.get("logprobs")) or params.get("top_logprobs") is not None


def _param_columns(runs: Sequence["Run"], key_columns: Sequence[str]) -> list[str]:
    """Sampling parameters any run set, in table order, besides the key columns."""
    from .params import PARAMS

    used = {name for r in runs for name in r.spec.params}
    return [name for name in PARAMS if name in used and name not in key_columns]


def logprobs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per generated token of every run, with the run's key columns first.

    The derived columns (text, rank, margin, entropy, tail_mass, cumulative_logprob) are
    described in metrics.py.
    """
    import numpy as np
    import pandas as pd

    from .metrics import token_stats

    keys = _key_lists(key_columns)
    parts: list[tuple[Any, Any]] = []
    for run in runs:
        lp = run.logprobs
        if lp is None or not len(lp):
            continue
        _repeat_keys(keys, run, len(lp))
        parts.append((lp, token_stats(lp)))

    def joined(get: Any, dtype: Any = float) -> Any:
        return np.concatenate([np.asarray(get(lp, st), dtype=dtype) for lp, st in parts]) if parts \
            else np.empty(0, dtype=dtype)

    logprob = joined(lambda lp, st: st.logprob)
    offset = joined(lambda lp, st: st.offset)
    columns = {**keys, "position": joined(lambda lp, st: np.arange(len(lp)), np.int64),
               "token": joined(lambda lp, st: lp.token, object), "logprob": logprob, "prob": np.exp(logprob),
               "offset": pd.array(np.where(np.isnan(offset), 0, offset).astype(np.int64),
                                  dtype="Int64", copy=False),
               "bytes": joined(lambda lp, st: lp.bytes, object), "text": joined(lambda lp, st: st.text, object),
               "rank": joined(lambda lp, st: st.rank), "margin": joined(lambda lp, st: st.margin),
               "entropy": joined(lambda lp, st: st.entropy), "tail_mass": joined(lambda lp, st: st.tail_mass),
               "cumulative_logprob": joined(lambda lp, st: st.cumulative)}
    frame = pd.DataFrame(columns)
    frame.loc[np.isnan(offset), "offset"] = pd.NA
    return frame


def top_logprobs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per (token position, alternative), best first; `chosen` marks the sampled one."""
    import numpy as np
    import pandas as pd

    from .metrics import token_stats

    keys = _key_lists(key_columns)
    position: list[Any] = []
    rank: list[Any] = []
    token: list[Any] = []
    logprob: list[Any] = []
    chosen: list[Any] = []
    for run in runs:
        lp = run.logprobs
        if lp is None or not lp.alt_token:
            continue
        _repeat_keys(keys, run, len(lp.alt_token))
        position.append(np.asarray(lp.alt_position, dtype=np.int64))
        rank.append(np.asarray(lp.alt_rank, dtype=np.int64))
        token.append(np.asarray(lp.alt_token, dtype=object))
        logprob.append(np.asarray(lp.alt_logprob, dtype=float))
        chosen.append(token_stats(lp).chosen)

    def joined(arrays: list[Any], dtype: Any) -> Any:
        return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)

    values = joined(logprob, float)
    columns = {**keys, "position": joined(position, np.int64), "rank": joined(rank, np.int64),
               "token": joined(token, object), "logprob": values, "prob": np.exp(values),
               "chosen": joined(chosen, bool)}
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
