"""Where the token sequences of two or more runs first diverge, and how likely each branch was.

One row per run: the divergence `position` (the length of the common token prefix), the run's
`token` there (None if the run ended), its `prob` and `rank`, the shared `prefix` text, the run's
top `alternatives` there ("' cat' 60.0%, ' dog' 30.0%"), and one column `p(<token>)` per distinct
token the runs chose there: the probability this run gave that token (its own token's logprob,
else its alternatives; NaN if it was not among them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from .metrics import safe_prob

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run


def first_divergence(sequences: Sequence[Sequence[str]]) -> int | None:
    """Index of the first position where the sequences differ (or one ends); None if identical."""
    shortest = min((len(s) for s in sequences), default=0)
    for i in range(shortest):
        first = sequences[0][i]
        if any(s[i] != first for s in sequences[1:]):
            return i
    return None if all(len(s) == shortest for s in sequences) else shortest


def divergence_frame(runs: Sequence["Run"], labels: Sequence[str]) -> "pd.DataFrame":
    """The comparison table (see the module docstring); `attrs["notes"]` says what was skipped."""
    import pandas as pd

    from .metrics import token_stats

    usable = [(run, label) for run, label in zip(runs, labels) if run.logprobs is not None and len(run.logprobs)]
    notes = [f"{label}: no logprobs, left out" for run, label in zip(runs, labels)
             if run.logprobs is None or not len(run.logprobs)]
    at = first_divergence([run.logprobs.token for run, _ in usable]) if len(usable) > 1 else None
    if len(usable) < 2:
        notes.append("need two or more runs with logprobs to compare")
    elif at is None:
        notes.append("the runs chose identical token sequences")
    branch = [] if at is None else list(dict.fromkeys(
        run.logprobs.token[at] for run, _ in usable if at < len(run.logprobs)))
    rows = []
    for run, label in usable:
        lp, stats = run.logprobs, token_stats(run.logprobs)
        here = at is not None and at < len(lp)
        row: dict[str, Any] = {
            "run": label, "position": at, "token": lp.token[at] if here else None,
            "prob": safe_prob(lp.logprob[at]) if here else math.nan,
            "rank": float(stats.rank[at]) if here else math.nan,
            "prefix": "".join(stats.text[:at]) if at is not None else "".join(stats.text),
            "alternatives": _top_at(lp, at) if here else ""}
        row.update({f"p({token!r})": _prob_of(lp, at, token) for token in branch})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["run", "position", "token", "prob", "rank", "prefix", "alternatives",
                                        *[f"p({t!r})" for t in branch]])
    frame.attrs["notes"] = notes
    return frame


def _prob_of(lp: Any, position: int | None, token: str) -> float:
    """This run's probability of `token` at `position`: its own choice, else its alternatives."""
    if position is None or position >= len(lp):
        return math.nan
    if lp.token[position] == token:
        return safe_prob(lp.logprob[position])
    return next((safe_prob(logprob) for _, alt, logprob in lp.alternatives_at(position) if alt == token), math.nan)


def _top_at(lp: Any, position: int, k: int = 5) -> str:
    """The run's best `k` alternatives at `position`, as text."""
    best = lp.alternatives_at(position)[:k]
    return ", ".join(f"{token!r} {100 * safe_prob(logprob):.1f}%" for _, token, logprob in best)
