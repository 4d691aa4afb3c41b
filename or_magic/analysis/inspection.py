"""Logprob inspection on a Result: token view, wide view, heatmap, choices, run comparison.

`LogprobViews` is mixed into `Result`; it relies on `runs`, `logprobs`, `top_logprobs`,
`choice_labels` and `key_columns()` from there, and keeps the logic in the modules it calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

    from ..run.request import Run
    from .tokenview import TokenView


def logprob_quality_notes(runs: Sequence["Run"]) -> list[str]:
    """What was wrong with the logprobs that came back (missing values, bytes, alternatives, UTF-8)."""
    from .metrics import group_notes, token_stats

    per_run = [(r.index, token_stats(r.logprobs).notes) for r in runs if r.logprobs is not None and len(r.logprobs)]
    return group_notes(per_run, several=len(runs) > 1)


def run_label(run: "Run", key_columns: Sequence[str]) -> str:
    """`run 3 (temperature=0.7, seed=1)`: how a run is named in views."""
    keys = run.key()
    shown = ", ".join(f"{k}={keys.get(k)}" for k in key_columns)
    return f"run {run.index}" + (f" ({shown})" if shown else "")


class LogprobViews:
    """Methods of Result for looking at logprobs beyond the long tables."""

    runs: list["Run"]
    choice_labels: list[str]

    def key_columns(self) -> list[str]:  # provided by Result
        raise NotImplementedError

    def _pick(self, runs: Iterable[int] | None) -> list["Run"]:
        if runs is None:
            return list(self.runs)
        by_index = {r.index: r for r in self.runs}
        wanted = list(runs)
        unknown = [i for i in wanted if i not in by_index]
        if unknown:
            raise IndexError(f"no run {unknown[0]}: this result has runs {sorted(by_index)}")
        return [by_index[i] for i in wanted]

    def tokens(self, *runs: int, top: int = 5, positions: bool = False) -> "TokenView":
        """The completion(s) as HTML, each token shaded by probability; hover for the top alternatives
        (and, with `positions=True`, the position to fork at: `r.fork(position, token)`)."""
        from .tokenview import render

        picked = self._pick(runs or None)
        return render(picked, [run_label(r, self.key_columns()) for r in picked], top=top, positions=positions)

    def wide(self, k: int | None = None, visible: bool = True) -> "pd.DataFrame":
        """One row per token: run keys, position, token, prob, alt_1, alt_1_prob, ... alt_k, alt_k_prob.

        A view: whitespace in the tokens is marked (␣ leading/trailing space, ↵ newline, ⇥ tab) and a
        missing alternative is an empty cell; `visible=False` gives the exact tokens (None if missing)."""
        from .views import wide_frame
        from .whitespace import visible_columns

        frame = wide_frame(self.logprobs, self.top_logprobs, self.key_columns(), k)  # type: ignore[attr-defined]
        if not visible:
            return frame
        return visible_columns(frame, [c for c in frame.columns if c == "token" or _is_alt_token(c)])

    def heatmap(self, k: int | None = None) -> "Styler":
        """The wide view as a pandas Styler with probability cells shaded (red = unlikely)."""
        from .views import heatmap

        return heatmap(self.wide(k))

    @property
    def choices(self) -> "pd.DataFrame":
        """With --choices: one row per run per label (prob normalised over labels, raw_mass, tokens, chosen)."""
        if not self.choice_labels:
            raise AttributeError("no labels: call with --choices \"a,b,c\" (or complete(..., choices=[...]))")
        return self._choices_and_notes()[0]

    def _choice_notes(self) -> list[str]:
        return self._choices_and_notes()[1] if self.choice_labels else []

    def _choices_and_notes(self) -> "tuple[pd.DataFrame, list[str]]":
        """The choices table and its notes, computed once per result (the reprs and notes all read it)."""
        cached = self.__dict__.get("_choices")
        if cached is None:
            from .choices import choices_frame

            frame, notes = choices_frame(self.runs, self.choice_labels, self.key_columns())
            frame.attrs["notes"] = notes
            cached = self.__dict__["_choices"] = (frame, notes)
        return cached

    def diverge(self, *runs: int) -> "pd.DataFrame":
        """Where the runs' token sequences first differ (default: all runs) and each branch's probability."""
        from .divergence import divergence_frame

        picked = self._pick(runs or None)
        return divergence_frame(picked, [run_label(r, self.key_columns()) for r in picked])


def _is_alt_token(column: str) -> bool:
    return column.startswith("alt_") and not column.endswith("_prob")
