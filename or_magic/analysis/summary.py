"""One-call summaries of a sweep: `result.summary(by=...)` and `result.plot(metric, x=...)`.

Per-run logprob metrics (mean logprob, perplexity = exp(−mean logprob)) come from the runs
table (metrics.py computes them).  By default the summary groups runs by the swept parameters
other than `seed` and `sample`: those are the repeats of a point (a sweep over seeds asks how
much one setting varies), so grouping by them would give one row per run.  `by=` names the
groups explicitly (`by="seed"` to compare seeds).  It reports, per group: runs, failed,
distinct outputs, mean logprob, perplexity, and mean tokens, cost and
latency.  Plotting uses matplotlib if it is installed; it is not a dependency of or_magic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import ConfigError, InvalidOption

if TYPE_CHECKING:
    import pandas as pd

PER_RUN = ["mean_logprob", "perplexity"]
REPEATS = ("seed", "sample")  # swept, but repetitions of one setting: not default groups
METRICS = ["runs", "failed", "distinct_outputs", "mean_logprob", "perplexity", "completion_tokens",
           "cost", "latency"]
PLOT_HINT = "plotting needs matplotlib: pip install matplotlib (or pip install 'or_magic[plot]')"


def _with_run_metrics(runs: "pd.DataFrame") -> "pd.DataFrame":
    """The runs table with `mean_logprob` and `perplexity` per run (NaN without logprobs).

    The runs table has them whenever any run has logprobs (frames.py, from metrics.py); a sweep
    without logprobs gets NaN columns so the summary keeps its shape."""
    import numpy as np

    df = runs.copy()
    for name in PER_RUN:
        if name not in df.columns:
            df[name] = np.nan
    return df


def _group_columns(runs: "pd.DataFrame", key_columns: Sequence[str], by: str | Sequence[str] | None) -> list[str]:
    columns = [by] if isinstance(by, str) else list(by) if by is not None else [
        a for a in key_columns if a not in REPEATS]
    known = ["model", *key_columns, *runs.columns]
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise InvalidOption(f"summary by {unknown[0]!r}: not a column; use one of {', '.join(dict.fromkeys(known))}")
    return columns


def summarize(runs: "pd.DataFrame", key_columns: Sequence[str],
              by: str | Sequence[str] | None = None) -> "pd.DataFrame":
    """One row per group of the runs table `runs` (default: per combination of the swept
    parameters among `key_columns` other than seed and sample; one row if there are none)."""
    import pandas as pd

    df = _with_run_metrics(runs)
    ok = df["error"].isna()
    df = df.assign(failed=~ok, ok_text=df["text"].where(ok))
    columns = _group_columns(runs, key_columns, by)
    grouped = df.groupby(columns, sort=True, dropna=False) if columns else df.groupby(lambda _: "all")
    table = pd.DataFrame({
        "runs": grouped.size(),
        "failed": grouped["failed"].sum(),
        "distinct_outputs": grouped["ok_text"].nunique(),
        "mean_logprob": grouped["mean_logprob"].mean(),
        "perplexity": grouped["perplexity"].mean(),
        "completion_tokens": grouped["completion_tokens"].mean(),
        "cost": grouped["cost"].mean(),
        "latency": grouped["latency"].mean(),
    })
    return table.reset_index() if columns else table.reset_index(drop=True)


def plot(runs: "pd.DataFrame", key_columns: Sequence[str], metric: str = "perplexity", x: str | None = None,
         by: str | None = None) -> Any:
    """Plot a summary metric against the swept parameter `x`, one line per value of `by`."""
    if metric not in METRICS:
        raise InvalidOption(f"plot metric {metric!r}: use one of {', '.join(METRICS)}")
    axes = [a for a in key_columns if a != "sample"]
    x = x or next(iter(axes), None)
    if x is None:
        raise InvalidOption("plot: this result has no swept parameter; name one with x=...")
    if by is None and len(axes) == 2:
        by = next(a for a in axes if a != x)  # two axes: the other one gives the lines
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(PLOT_HINT) from None
    table = summarize(runs, key_columns, [x] + ([by] if by else []))
    _, ax = plt.subplots()
    groups = table.groupby(by) if by else [(None, table)]
    for label, part in groups:
        ax.plot(part[x], part[metric], marker="o", label=None if by is None else f"{by}={label}")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    if by:
        ax.legend()
    return ax
