"""The DataFrames of a result: runs, per-token logprobs, and alternatives in long form.

pandas is imported here and only here, lazily, so `%load_ext or_magic` stays fast.  Tables are
built column-wise from the normalised lists (no per-row dicts), which keeps an 80,000-row
alternatives table cheap.  Every table has its columns even when it has no rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..run.request import asked_for_logprobs

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run
    from ..wire.logprobs import TokenLogprobs

RUN_COLUMNS = ["model", "text", "finish_reason", "prompt_tokens", "completion_tokens", "cost",
               "latency", "generation_id", "provider", "error"]
# Shown when any run has a value: what a provider sends besides the basics.
OPTIONAL_RUN_COLUMNS = ["native_finish_reason", "reasoning_tokens"]
LOGPROB_COLUMNS = ["position", "token", "logprob", "prob", "offset", "bytes", "text", "rank", "margin", "entropy",
                   "tail_mass", "cumulative_logprob"]


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
    for name in OPTIONAL_RUN_COLUMNS:
        values = [r.field(name) for r in runs]
        if any(v is not None for v in values):
            columns[name] = values
    columns.update(_metric_columns(runs))
    return pd.DataFrame(columns)


def _metric_columns(runs: Sequence["Run"]) -> dict[str, list[Any]]:
    """Per-run logprob metrics (metrics.METRIC_COLUMNS), when any run asked for or got logprobs."""
    from .metrics import METRIC_COLUMNS, run_metrics

    if not any(r.logprobs or asked_for_logprobs(r.spec.params) for r in runs):
        return {}
    rows = [run_metrics(r.logprobs) for r in runs]
    return {name: [row[name] for row in rows] for name in METRIC_COLUMNS}


def _param_columns(runs: Sequence["Run"], key_columns: Sequence[str]) -> list[str]:
    """Sampling parameters any run set, in table order, besides the key columns."""
    from ..core.params import PARAMS

    used = {name for r in runs for name in r.spec.params}
    return [name for name in PARAMS if name in used and name not in key_columns]


def logprobs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per generated token of every run, with the run's key columns first.

    The derived columns (text, rank, margin, entropy, tail_mass, cumulative_logprob) are
    described in metrics.py.
    """
    import numpy as np
    import pandas as pd

    from ..wire.logprobs import TokenLogprobs
    from .metrics import token_stats

    counted = [(run, len(run.logprobs)) for run in runs if run.logprobs is not None and len(run.logprobs)]
    per_run = [_token_columns(run.logprobs, token_stats(run.logprobs)) for run, _ in counted]
    empty = _token_columns(TokenLogprobs(), token_stats(TokenLogprobs()))
    joined = {name: np.concatenate([cols[name] for cols in per_run]) if per_run else empty[name] for name in empty}
    offset = joined["offset"]
    columns = {**_repeated_keys(counted, key_columns), "position": joined["position"], "token": joined["token"],
               "logprob": joined["logprob"], "prob": _exp(joined["logprob"]),
               "offset": pd.arrays.IntegerArray(np.where(np.isnan(offset), 0, offset).astype(np.int64),
                                                np.isnan(offset)),
               **{name: joined[name] for name in LOGPROB_COLUMNS[5:]}}
    for name in ("token", "text", "bytes"):
        columns[name] = _as_object(columns[name])
    return pd.DataFrame(columns, copy=False)


def _token_columns(lp: "TokenLogprobs", stats: Any) -> dict[str, Any]:
    """One run's per-token columns as arrays (concatenated over runs by logprobs_frame)."""
    import numpy as np

    from ..wire.logprobs import object_array

    return {"position": np.arange(len(lp), dtype=np.int64), "token": object_array(lp.token),
            "logprob": stats.logprob, "offset": stats.offset, "bytes": object_array(lp.bytes),
            "text": object_array(stats.text), "rank": stats.rank, "margin": stats.margin,
            "entropy": stats.entropy, "tail_mass": stats.tail_mass, "cumulative_logprob": stats.cumulative}


def top_logprobs_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """One row per (token position, alternative), best first; `chosen` marks the sampled one."""
    import numpy as np
    import pandas as pd

    from .metrics import token_stats

    counted = [(run, run.logprobs.alt_count()) for run in runs if run.logprobs is not None and run.logprobs.alt_count()]
    keys = _repeated_keys(counted, key_columns)
    position: list[Any] = []
    rank: list[Any] = []
    token: list[Any] = []
    logprob: list[Any] = []
    chosen: list[Any] = []
    for run, _ in counted:
        stats = token_stats(run.logprobs)
        position.append(stats.alt_position)
        rank.append(stats.alt_rank)
        token.append(stats.alt_token)
        logprob.append(stats.alt_logprob)
        chosen.append(stats.chosen)

    def joined(arrays: list[Any], dtype: Any) -> Any:
        if len(arrays) == 1:
            return arrays[0].copy()  # the cached arrays stay untouched by edits to the frame
        return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)

    values = joined(logprob, float)
    columns = {**keys, "position": joined(position, np.int64), "rank": joined(rank, np.int64),
               "token": _as_object(joined(token, object)), "logprob": values, "prob": _exp(values),
               "chosen": joined(chosen, bool)}
    return pd.DataFrame(columns, copy=False)


def _exp(logprob: Any) -> Any:
    """prob from logprob; a broken positive logprob gives inf, not a warning."""
    import numpy as np

    with np.errstate(over="ignore"):
        return np.exp(logprob)


def _as_object(values: Any) -> "pd.Series":
    """Token columns stay object dtype: pandas 3 would otherwise convert 80,000 strings one by one."""
    import pandas as pd

    return pd.Series(values, dtype=object, copy=False)


def _repeated_keys(counted: Sequence[tuple["Run", int]], key_columns: Sequence[str]) -> dict[str, Any]:
    """The run column and key columns, each run's values repeated over its rows (dtype inferred per run)."""
    import pandas as pd

    counts = [count for _, count in counted]
    columns: dict[str, Any] = {}
    for name in ["run", *key_columns]:
        per_run = [run.index if name == "run" else run.key().get(name) for run, _ in counted]
        columns[name] = pd.Series(per_run, dtype="int64" if name == "run" else None).repeat(counts).to_numpy()
    return columns
