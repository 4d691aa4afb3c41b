"""Derived logprob columns (per token) and metrics (per run), computed column-wise with numpy.

Per token (columns of `Result.logprobs`):
- `text`: the decoded text attributed to the token (see tokentext.py), `offset` its character
  offset (the server's `text_offset` in the legacy format, which OpenAI counts from the start of
  the prompt; otherwise computed from the decoded texts, counting from the completion start);
- `rank`: the chosen token's rank among the returned alternatives (1 = top), NaN if it is not
  among them or there are none;
- `margin`: prob of the chosen token minus the prob of the best *other* alternative (in -1..1;
  NaN when no other alternative was returned);
- `entropy`: -Σ p·ln p over the returned alternatives, in nats (a lower bound of the true
  entropy), and `tail_mass`: 1 - Σ p, the probability the returned alternatives leave out;
- `cumulative_logprob`: running sum of logprob (NaN from the first unknown logprob on).

Per run (columns of `Result.df`, see METRIC_COLUMNS): over the tokens whose logprob is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from ..wire.logprobs import object_array
from .tokentext import char_offsets, decode_tokens

if TYPE_CHECKING:
    import numpy as np

    from ..wire.logprobs import TokenLogprobs

METRIC_COLUMNS = ["mean_logprob", "perplexity", "joint_prob", "min_logprob_token", "min_logprob_position",
                  "not_top_share"]


def safe_prob(logprob: float) -> float:
    """exp(logprob) that never raises: NaN stays NaN, and an absurd positive logprob gives inf,
    as the prob columns of the tables do (frames._exp)."""
    if math.isnan(logprob):
        return math.nan
    try:
        return math.exp(logprob)
    except OverflowError:
        return math.inf


@dataclass
class TokenStats:
    """Derived per-token arrays of one run (length = tokens) and per-alternative `chosen`."""

    logprob: "np.ndarray"
    text: list[str]
    offset: "np.ndarray"  # float, NaN where unknown
    rank: "np.ndarray"
    margin: "np.ndarray"
    entropy: "np.ndarray"
    tail_mass: "np.ndarray"
    cumulative: "np.ndarray"
    # per alternative row, in wire order (as the top_logprobs table shows them):
    alt_position: "np.ndarray"
    alt_rank: "np.ndarray"
    alt_token: "np.ndarray"
    alt_logprob: "np.ndarray"
    chosen: "np.ndarray"  # is it the sampled token?
    has_alternatives: "np.ndarray"  # per token
    notes: list[str] = field(default_factory=list)


def token_stats(lp: "TokenLogprobs") -> TokenStats:
    """The derived arrays of `lp`, computed once and cached on it (recomputed if it grew)."""
    size = (len(lp.token), lp.alt_count())
    cached = lp.__dict__.get("_stats")
    if cached is not None and cached[0] == size:
        return cached[1]
    stats = _compute(lp)
    lp.__dict__["_stats"] = (size, stats)
    return stats


def _compute(lp: "TokenLogprobs") -> TokenStats:
    import numpy as np

    n = len(lp.token)
    logprob = np.asarray(lp.logprob, dtype=float)
    text, replaced = decode_tokens(lp.token, lp.bytes)
    wire = {name: lp.alt_array(name) for name in ("alt_position", "alt_rank", "alt_token", "alt_logprob")}
    pos = wire["alt_position"]
    chosen = _chosen(object_array(lp.token), logprob, pos, wire["alt_token"], wire["alt_logprob"])
    alt_lp, alt_rank, in_order = wire["alt_logprob"], wire["alt_rank"], chosen
    if len(pos) and np.any(pos[1:] < pos[:-1]):  # the reductions need each position's rows together
        order = np.argsort(pos, kind="stable")
        pos, alt_lp, alt_rank, in_order = pos[order], alt_lp[order], alt_rank[order], chosen[order]
    arrays = _alternative_arrays(n, logprob, pos, alt_lp, alt_rank, in_order)
    with np.errstate(invalid="ignore"):
        cumulative = np.cumsum(logprob)
    stats = TokenStats(logprob=logprob, text=text, offset=_offsets(lp.offset, text), cumulative=cumulative,
                       chosen=chosen, **wire, **arrays)
    stats.notes = _notes(lp, stats, replaced)
    return stats


def _chosen(tokens: "np.ndarray", logprob: "np.ndarray", pos: "np.ndarray", alt_token: "np.ndarray",
            alt_logprob: "np.ndarray") -> "np.ndarray":
    """Which alternative rows are the sampled token (in wire order).

    Comparing 80,000 strings is the slow part, so the rows whose logprob equals the token's are
    compared first; only positions where that finds nothing compare every alternative.
    """
    import numpy as np

    chosen = np.zeros(len(pos), dtype=bool)
    valid = np.flatnonzero(pos < len(tokens))
    likely = valid[alt_logprob[valid] == logprob[pos[valid]]]
    chosen[likely] = alt_token[likely] == tokens[pos[likely]]
    found = np.zeros(len(tokens), dtype=bool)
    found[pos[chosen]] = True
    rest = valid[~found[pos[valid]]]
    chosen[rest] = alt_token[rest] == tokens[pos[rest]]
    return chosen


def _offsets(server: Sequence[int | None], text: list[str]) -> "np.ndarray":
    import numpy as np

    if list(server).count(None) < len(server):  # any offset given (counted at C speed)
        return np.array([np.nan if v is None else v for v in server], dtype=float)
    return np.asarray(char_offsets(text), dtype=float)


def _alternative_arrays(n: int, logprob: "np.ndarray", pos: "np.ndarray", alt_lp: "np.ndarray",
                        alt_rank: "np.ndarray", chosen: "np.ndarray") -> dict[str, "np.ndarray"]:
    """rank, margin, entropy, tail_mass, has_alternatives: one reduction per contiguous position."""
    import numpy as np

    out = {name: np.full(n, np.nan) for name in ("rank", "margin", "entropy", "tail_mass")}
    keep = pos < n
    pos, alt_lp, alt_rank, chosen = pos[keep], alt_lp[keep], alt_rank[keep], chosen[keep]
    has = np.zeros(n, dtype=bool)
    if len(pos):
        starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        where = pos[starts]
        has[where] = True
        with np.errstate(invalid="ignore", over="ignore"):
            p = np.exp(alt_lp)
            term = -p * alt_lp
            term[p == 0] = 0.0  # 0·ln 0 = 0 (logprob -inf)
            out["entropy"][where] = np.add.reduceat(term, starts)
            out["tail_mass"][where] = np.clip(1.0 - np.add.reduceat(p, starts), 0.0, None)
            others = np.add.reduceat((~chosen).astype(np.intp), starts)
            best_other = np.fmax.reduceat(np.where(chosen, -np.inf, alt_lp), starts)
            margin = np.exp(logprob[where]) - np.exp(best_other)
            out["margin"][where] = np.where(others > 0, margin, np.nan)
        first_chosen, index = np.unique(pos[chosen], return_index=True)
        out["rank"][first_chosen] = alt_rank[chosen][index].astype(float)
    out["has_alternatives"] = has
    return out


def _notes(lp: "TokenLogprobs", stats: TokenStats, replaced: int) -> list[str]:
    import numpy as np

    n = len(lp.token)
    notes = []
    unknown = int(np.isnan(stats.logprob).sum())
    if unknown:
        notes.append(f"{unknown} of {n} token logprobs are missing or not numbers (NaN); "
                     "metrics use the known ones")
    if np.isneginf(stats.logprob).any():
        notes.append("some tokens have logprob -inf (probability 0): perplexity is inf, joint_prob 0")
    if lp.alt_count() and not stats.has_alternatives.all():
        notes.append(f"{int((~stats.has_alternatives).sum())} of {n} tokens came without alternatives "
                     "(empty top_logprobs): rank, margin, entropy and tail_mass are NaN there")
    missing_bytes = lp.bytes.count(None)
    if 0 < missing_bytes < n:
        notes.append(f"{missing_bytes} of {n} tokens came without bytes: their token string is their text")
    if replaced:
        notes.append(f"{replaced} byte sequence(s) are not valid UTF-8 and are shown as \ufffd")
    return notes


def group_notes(per_run: Sequence[tuple[int, Sequence[str]]], several: bool) -> list[str]:
    """Notes of several runs, each text once: "runs 0, 2: ..." (no prefix for a single run)."""
    runs_of: dict[str, list[int]] = {}
    for index, notes in per_run:
        for note in notes:
            runs_of.setdefault(note, []).append(index)
    if not several:
        return list(runs_of)
    return [f"run{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}: {note}" for note, ids in runs_of.items()]


def run_metrics(lp: "TokenLogprobs | None") -> dict[str, Any]:
    """mean_logprob, perplexity, joint_prob, the least likely token and its position, not_top_share."""
    import numpy as np

    empty: dict[str, Any] = {name: math.nan for name in METRIC_COLUMNS}
    empty.update(min_logprob_token=None, min_logprob_position=None)
    if lp is None or not len(lp):
        return empty
    stats = token_stats(lp)
    known = ~np.isnan(stats.logprob)
    if not known.any():
        return {**empty, "not_top_share": _not_top_share(stats)}
    values = stats.logprob[known]
    mean = float(values.mean())
    at = int(np.flatnonzero(known)[int(np.argmin(values))])
    with np.errstate(over="ignore"):  # a huge perplexity is inf, not an exception
        perplexity, joint = float(np.exp(-mean)), float(np.exp(values.sum()))
    return {"mean_logprob": mean, "perplexity": perplexity, "joint_prob": joint, "min_logprob_token": lp.token[at],
            "min_logprob_position": at, "not_top_share": _not_top_share(stats)}


def _not_top_share(stats: TokenStats) -> float:
    """Share of tokens (among those with alternatives) whose rank is not 1 (absent counts as not top)."""
    has = stats.has_alternatives
    if not has.any():
        return math.nan
    return float((stats.rank[has] != 1).mean())
