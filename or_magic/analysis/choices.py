"""`--choices yes,no,maybe`: the probability of each label from the first token's alternatives.

Matching a returned alternative token to a label: both are stripped of surrounding whitespace
and case-folded; a token matches a label it equals, else the one label it is a prefix of
("May" → "maybe", since a label may span several tokens).  A token that is a prefix of several
labels ("m" for "maybe" and "mango") counts for none, with a note.  A label's `raw_mass` is the
summed probability of its matching tokens (" Yes" and "yes" both count); `prob` is raw_mass
normalised over the labels, and `coverage` (the same on each of a run's rows) the labels' share
of the first token's whole mass: a `prob` of 1.0 means little when the coverage is 1 %, so a
coverage under 50 % is warned about, as is a sampled token that matches no label.  Labels no
alternative matched get 0 and a note; when no label matched at all, `prob` is NaN.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import InvalidOption
from ..core.params import PARAMS
from .metrics import group_notes, safe_prob

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run

DEFAULT_TOP_LOGPROBS = int(PARAMS["top_logprobs"].high or 20)  # the most alternatives one may ask for
CHOICE_COLUMNS = ["label", "prob", "raw_mass", "coverage", "tokens", "chosen"]
LOW_COVERAGE = 0.5  # labels holding less of the first token's mass than this get a warning


def parse_labels(text: str | Sequence[str]) -> list[str]:
    """`"yes,no,maybe"` (or a list) as labels; one-line error for empty or duplicate ones."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text)]
    if len(items) < 2 or any(not s for s in items):
        raise InvalidOption(f"--choices {text!r}: give two or more non-empty labels, e.g. --choices \"yes,no\"")
    folded = [s.casefold() for s in items]
    if len(set(folded)) < len(folded):
        raise InvalidOption(f"--choices {text!r}: labels must differ (ignoring case)")
    return items


def choice_params(params: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The request parameters a choices call needs: one token, with top_logprobs (20 unless given)."""
    out = dict(params)
    if "max_completion_tokens" not in out:
        out.setdefault("max_tokens", [1])
    out.setdefault("top_logprobs", [DEFAULT_TOP_LOGPROBS])
    return out


def match_label(token: str, folded_labels: Sequence[str]) -> tuple[int | None, bool]:
    """(index of the label `token` counts for, or None; whether the token was ambiguous)."""
    folded = str(token).strip().casefold()
    if not folded:
        return None, False
    if folded in folded_labels:
        return folded_labels.index(folded), False
    hits = [i for i, label in enumerate(folded_labels) if label.startswith(folded)]
    return (hits[0], False) if len(hits) == 1 else (None, len(hits) > 1)


def choices_frame(runs: Sequence["Run"], labels: Sequence[str],
                  key_columns: Sequence[str]) -> tuple["pd.DataFrame", list[str]]:
    """One row per run per label (run keys first), and notes on what could not be matched."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    per_run: list[tuple[int, list[str]]] = []
    for run in runs:
        keys = {"run": run.index, **{k: run.key().get(k) for k in key_columns}}
        label_rows, run_notes = _run_rows(run, labels)
        rows += [{**keys, **row} for row in label_rows]
        per_run.append((run.index, run_notes))
    columns = ["run", *key_columns, *CHOICE_COLUMNS]
    return pd.DataFrame(rows, columns=columns), group_notes(per_run, several=len(runs) > 1)


def _first_token_alternatives(run: "Run") -> tuple[list[tuple[str, float]], str | None]:
    lp = run.logprobs
    if lp is None or not len(lp):
        return [], None
    alternatives = [(token, logprob) for _, token, logprob in lp.alternatives_at(0)]
    return alternatives, lp.token[0]


def _run_rows(run: "Run", labels: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    folded = [label.casefold() for label in labels]
    alternatives, sampled = _first_token_alternatives(run)
    if sampled is None:
        why = f"failed ({run.error})" if run.error is not None else "returned no logprobs"
        return [_row(label, math.nan, math.nan, math.nan, [], False) for label in labels], \
            [f"no label probabilities: the run {why}"]
    notes = []
    if not alternatives:  # only the sampled token is known
        alternatives = [(sampled, run.logprobs.logprob[0])]
        notes.append("the first token came without alternatives: only the sampled token counts "
                     "(ask for --top-logprobs)")
    mass = [0.0] * len(labels)
    matched: list[list[str]] = [[] for _ in labels]
    ambiguous = []
    for token, logprob in alternatives:
        index, unclear = match_label(token, folded)
        if index is not None and not math.isnan(logprob):
            mass[index] += safe_prob(logprob)
            matched[index].append(token)
        elif unclear:
            ambiguous.append(token)
    chosen, _ = match_label(sampled, folded)
    total = sum(mass)
    rows = [_row(label, m / total if total > 0 else math.nan, m, total, matched[i], chosen == i)
            for i, (label, m) in enumerate(zip(labels, mass))]
    warnings = []
    if 0 < total < LOW_COVERAGE:
        warnings.append(f"warning: the labels hold only {total:.1%} of the first token's probability, so "
                        "prob (renormalised over the labels) says little; see the coverage column")
    if chosen is None:
        warnings.append(f"warning: the sampled first token {sampled!r} matches no label")
    return rows, notes + warnings + _notes(labels, matched, ambiguous, len(alternatives))


def _row(label: str, prob: float, raw_mass: float, coverage: float, tokens: list[str],
         chosen: bool) -> dict[str, Any]:
    return {"label": label, "prob": prob, "raw_mass": raw_mass, "coverage": coverage, "tokens": tokens,
            "chosen": chosen}


def _notes(labels: Sequence[str], matched: list[list[str]], ambiguous: list[str], seen: int) -> list[str]:
    notes = []
    missing = [label for label, tokens in zip(labels, matched) if not tokens]
    if len(missing) == len(labels):
        notes.append(f"none of the labels is among the first token's {seen} alternatives: prob is NaN")
    elif missing:
        notes.append(f"not among the first token's {seen} alternatives (probability 0): {', '.join(missing)}")
    if ambiguous:
        notes.append(f"tokens that begin several labels were not counted: {', '.join(map(repr, ambiguous))}")
    return notes
