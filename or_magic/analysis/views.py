"""The wide view of alternatives (one row per position) and its heatmap Styler.

`wide`: run keys, position, token, prob, then alt_1, alt_1_prob, ..., alt_k, alt_k_prob (the
returned alternatives by rank; missing ones are None/NaN).  `heatmap`: the same frame as a
pandas Styler whose probability cells are shaded with the token view's colours (no matplotlib).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


def wide_frame(tokens: "pd.DataFrame", alternatives: "pd.DataFrame", key_columns: Sequence[str],
               k: int | None = None) -> "pd.DataFrame":
    """Pivot the long alternatives table onto the per-token table, column-wise."""
    import numpy as np
    import pandas as pd

    keys = ["run", *key_columns]
    base = tokens[[*keys, "position", "token", "prob"]].reset_index(drop=True)
    ranks = alternatives["rank"].to_numpy()
    k = int(ranks.max()) if k is None and len(ranks) else (k or 0)
    row_of = _row_index(base, alternatives)
    keep = (ranks >= 1) & (ranks <= k) & (row_of >= 0)
    columns: dict[str, Any] = {}
    for rank in range(1, k + 1):
        pick = keep & (ranks == rank)
        token = np.full(len(base), None, dtype=object)
        prob = np.full(len(base), np.nan)
        token[row_of[pick]] = alternatives["token"].to_numpy(dtype=object)[pick]
        prob[row_of[pick]] = alternatives["prob"].to_numpy(dtype=float)[pick]
        # object dtype like the other token columns (None where a position has fewer alternatives)
        columns[f"alt_{rank}"], columns[f"alt_{rank}_prob"] = pd.Series(token, dtype=object), prob
    return pd.concat([base, pd.DataFrame(columns, index=base.index)], axis=1)


def _row_index(base: "pd.DataFrame", alternatives: "pd.DataFrame") -> Any:
    """For each alternative row, the row of its (run, position) in `base` (runs are contiguous
    blocks with positions 0..n-1 there); -1 if there is none."""
    import numpy as np

    runs = base["run"].to_numpy(dtype=np.int64)
    ids, first, counts = np.unique(runs, return_index=True, return_counts=True)
    alt_run = alternatives["run"].to_numpy(dtype=np.int64)
    position = alternatives["position"].to_numpy(dtype=np.int64)
    if not len(ids):
        return np.full(len(alt_run), -1, dtype=np.intp)
    block = np.clip(np.searchsorted(ids, alt_run), 0, len(ids) - 1)
    ok = (ids[block] == alt_run) & (position < counts[block])
    return np.where(ok, first[block] + position, -1)


def heatmap(wide: "pd.DataFrame") -> "Styler":
    """Shade every probability column of a wide frame by its value."""
    from .tokenview import prob_color

    prob_columns = [c for c in wide.columns if c == "prob" or str(c).endswith("_prob")]
    style = wide.style
    shade = getattr(style, "map", None) or style.applymap  # Styler.map is pandas ≥ 2.1
    styler = shade(lambda v: prob_color(float(v)) if v is not None else "", subset=prob_columns)
    return styler.format({c: "{:.1%}" for c in prob_columns}, na_rep="")
