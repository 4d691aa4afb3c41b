"""Are the reported probabilities calibrated?  `r.calibration()` and `r.plot_calibration()`.

For N repeated samples of the same request (`-n N`, or a seed sweep, optionally several prompts
through `--vars`), a calibrated model samples each label about as often as the probability it
reports for it.  Per prompt (the key columns besides `sample` and `seed`, which only repeat) and
per label, the table compares

- `reported_prob`: the mean probability reported for the label over the N runs (a label missing
  from a run's alternatives counts as 0 there: it was below the returned top-k), with
- `sampled_freq`: the share of the N runs that sampled it (`count` of them),

and `gap` = sampled_freq − reported_prob.  `stderr` is the binomial standard error of a frequency
over N runs if the reported probability were true, sqrt(p (1 − p) / N): a gap within about 2 ×
stderr is noise.  Labels are the first token (`by="first_token"`, the token strings as sent) or
the `--choices` labels (`by="choices"`, probabilities normalised over the labels).

The frame's attributes: `brier` (mean over runs of Σ_labels (p − sampled)², 0 is perfect, 2 the
worst), `ece` (expected calibration error: every (run, label) pair is put in one of `bins`
equal-width bins of reported probability, and ECE = Σ_bins share × |sampled share − mean reported
probability|), `reliability` (the bins: the reliability diagram's points) and `notes`.

Reported logprobs are those of the model's distribution at temperature 1 (OpenAI and llama.cpp
report them before temperature and truncation are applied); sampling at another temperature or
with top_p / top_k is *expected* to differ from them, and a note says so.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import ConfigError, InvalidOption
from .metrics import safe_prob
from .summary import PLOT_HINT

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run

CALIBRATION_COLUMNS = ["label", "reported_prob", "sampled_freq", "count", "runs", "gap", "stderr"]
REPEAT_AXES = ("sample", "seed")  # axes that only repeat a request
BY = ("first_token", "choices")


def calibration_frame(runs: Sequence["Run"], key_columns: Sequence[str], by: str = "first_token",
                      bins: int = 10, labels: Sequence[str] = (),
                      choices: "pd.DataFrame | None" = None) -> "pd.DataFrame":
    """The calibration table (module docstring), with brier, ece, reliability and notes attributes."""
    import pandas as pd

    if by not in BY:
        raise InvalidOption(f"by={by!r}: use one of {', '.join(BY)}")
    if by == "choices" and not labels:
        raise InvalidOption('by="choices" needs a --choices call (e.g. --choices "yes,no" -n 50)')
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise InvalidOption(f"bins={bins!r}: must be an integer ≥ 1")
    groups = [k for k in key_columns if k not in REPEAT_AXES]
    observed = _observations(runs, groups, by, choices)
    rows, pairs = [], []
    for group, per_run in observed.items():
        names = list(dict.fromkeys(name for dist, _ in per_run for name in dist)) if by == "first_token" else list(labels)
        n = len(per_run)
        for name in names:
            reported = [dist.get(name, 0.0) for dist, _ in per_run]
            hits = sum(1 for _, sampled in per_run if sampled == name)
            p = sum(reported) / n
            rows.append({**dict(zip(groups, group)), "label": name, "reported_prob": p, "sampled_freq": hits / n,
                         "count": hits, "runs": n, "gap": hits / n - p, "stderr": math.sqrt(max(p * (1 - p), 0) / n)})
            pairs += [(q, sampled == name, i) for i, (q, (_, sampled)) in enumerate(zip(reported, per_run))]
    frame = pd.DataFrame(rows, columns=[*groups, *CALIBRATION_COLUMNS])
    reliability = reliability_table(pairs, bins)
    frame.attrs.update(brier=_brier(observed, by, labels), ece=_ece(reliability, len(pairs)),
                       reliability=reliability, notes=_notes(runs, frame, observed))
    return frame


def _observations(runs: Sequence["Run"], groups: Sequence[str], by: str,
                  choices: "pd.DataFrame | None") -> dict[tuple[Any, ...], list[tuple[dict[str, float], Any]]]:
    """Per prompt group: one (reported distribution over labels, sampled label) per usable run."""
    observed: dict[tuple[Any, ...], list[tuple[dict[str, float], Any]]] = {}
    for run in runs:
        if by == "first_token":
            found = _first_token(run)
        else:
            found = _choice_of(run, choices)
        if found is not None:
            observed.setdefault(tuple(run.key().get(g) for g in groups), []).append(found)
    return observed


def _first_token(run: "Run") -> tuple[dict[str, float], str] | None:
    lp = run.logprobs
    if not run.ok or lp is None or not len(lp):
        return None
    dist = {token: safe_prob(logprob) for _, token, logprob in lp.alternatives_at(0)}
    dist.setdefault(lp.token[0], safe_prob(lp.logprob[0]))
    return {k: v for k, v in dist.items() if not math.isnan(v)}, lp.token[0]


def _choice_of(run: "Run", choices: "pd.DataFrame | None") -> tuple[dict[str, float], Any] | None:
    if choices is None or not run.ok:
        return None
    rows = choices[choices["run"] == run.index]
    if rows.empty or rows["prob"].isna().all():
        return None
    chosen = rows.loc[rows["chosen"], "label"]
    return dict(zip(rows["label"], rows["prob"].astype(float))), (chosen.iloc[0] if len(chosen) else None)


def reliability_table(pairs: Sequence[tuple[float, bool, int]], bins: int) -> "pd.DataFrame":
    """The reliability diagram's bins: range, mean reported probability, sampled share, pairs, stderr."""
    import pandas as pd

    sums: dict[int, list[float]] = {}
    for p, hit, _ in pairs:
        b = min(int(p * bins), bins - 1)
        acc = sums.setdefault(b, [0.0, 0.0, 0])
        acc[0] += p
        acc[1] += hit
        acc[2] += 1
    rows = []
    for b in sorted(sums):
        total_p, hits, count = sums[b]
        freq = hits / count
        rows.append({"bin": f"[{b / bins:.2f}, {(b + 1) / bins:.2f}{']' if b == bins - 1 else ')'}",
                     "mean_prob": total_p / count, "sampled_freq": freq, "pairs": int(count),
                     "stderr": math.sqrt(freq * (1 - freq) / count)})
    return pd.DataFrame(rows, columns=["bin", "mean_prob", "sampled_freq", "pairs", "stderr"])


def _ece(reliability: "pd.DataFrame", total: int) -> float:
    if not total:
        return math.nan
    return float(sum(row.pairs / total * abs(row.sampled_freq - row.mean_prob) for row in reliability.itertuples()))


def _brier(observed: dict[tuple[Any, ...], list[tuple[dict[str, float], Any]]], by: str,
           labels: Sequence[str]) -> float:
    scores = []
    for per_run in observed.values():
        names = set(labels) if by == "choices" else {name for dist, _ in per_run for name in dist}
        for dist, sampled in per_run:
            scores.append(sum((dist.get(name, 0.0) - (name == sampled)) ** 2 for name in names))
    return sum(scores) / len(scores) if scores else math.nan


def _notes(runs: Sequence["Run"], frame: "pd.DataFrame", observed: dict[Any, list[Any]]) -> list[str]:
    used = sum(len(v) for v in observed.values())
    if not used:
        return ["no run has first-token logprobs: ask for them (--top-logprobs 20) and repeat (-n 50)"]
    notes = ["reported_prob is the mean probability the model reported for a label, sampled_freq how often "
             "it was actually sampled; a calibrated model has gap ≈ 0 within ±2 stderr "
             "(stderr = √(p(1−p)/N), the binomial standard error)"]
    if used < len(runs):
        notes.append(f"{len(runs) - used} of {len(runs)} runs had no usable logprobs (failed or none returned) "
                     "and are left out")
    smallest = min(len(v) for v in observed.values())
    if smallest < 2:
        notes.append("only one run per prompt: a frequency needs repeats (-n 50 at fixed parameters)")
    elif len(frame):
        width = 2 * float(frame["stderr"].max())
        if width > 0.05:
            notes.append(f"with N = {smallest} runs per prompt a frequency is only known to about ±{width:.0%} "
                         f"(2 stderr); smaller gaps say nothing — use -n {_n_for(0.05)} for ±5%")
    shaped = sorted({f"{k}={v}" for r in runs for k, v in r.spec.params.items()
                     if (k == "temperature" and v != 1) or (k == "top_p" and v < 1) or (k == "top_k" and v)
                     or k == "min_p"})
    if shaped:
        notes.append(f"sampled with {', '.join(shaped)}: reported probabilities are the temperature-1 "
                     "distribution, so sampled frequencies are expected to differ (calibrate at temperature 1)")
    return notes


def _n_for(half_width: float) -> int:
    """Runs needed for a 2-stderr half-width of `half_width` at p = 0.5."""
    return math.ceil((2 * 0.5 / half_width) ** 2)


def plot_reliability(frame: "pd.DataFrame", title: str | None = None) -> Any:
    """The reliability diagram of a calibration frame (needs matplotlib); returns the Axes."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(PLOT_HINT) from None
    bins = frame.attrs.get("reliability")
    _, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", label="calibrated")
    if bins is not None and len(bins):
        ax.errorbar(bins["mean_prob"], bins["sampled_freq"], yerr=2 * bins["stderr"], marker="o", capsize=3,
                    label="sampled (±2 stderr)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("reported probability")
    ax.set_ylabel("sampled frequency")
    ece, brier = frame.attrs.get("ece", math.nan), frame.attrs.get("brier", math.nan)
    ax.set_title(title or f"reliability: ECE {ece:.3f}, Brier {brier:.3f}")
    ax.legend()
    return ax
