"""Research tools on a Result: fork a generation at a token, the branch table, calibration.

`ResearchViews` is mixed into `Result`; it relies on `runs`, `executor`, `choice_labels`,
`choices` and `key_columns()` from there, and keeps the logic in forking.py and calibration.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..run.fork import Executor
    from ..run.request import Run


class ResearchViews:
    """Methods of Result that ask new questions of a run: what if, and can I trust it."""

    runs: list["Run"]
    executor: "Executor | None"
    choice_labels: list[str]

    def key_columns(self) -> list[str]:  # provided by Result
        raise NotImplementedError

    def fork(self, position: int, token: str | int | None = None, *, n: int = 1, max_tokens: int | None = None,
             run: int | None = None, **params: Any) -> "ResearchViews":
        """Regenerate the continuation as if the token at `position` had been `token`.

        `token`: an alternative's token string, its rank (1 = the most likely), or any text; by
        default the most likely alternative that was not chosen.  The prefix (the decoded text
        before `position` + the token) is sent as prompt + prefix on the completions endpoint and
        as an assistant prefill on chat.  `n` samples and list-valued `params` (wire names:
        temperature=[0, 1]) make a sweep of the fork; `max_tokens` defaults to the original's
        limit minus the tokens kept.  `run` picks the run of a sweep to fork (default the first).
        Returns a Result whose runs are the branches (columns `fork_position`, `fork_token`); its
        text and tables start with the original's tokens, so `or_magic.compare(r, f)` lines up.
        """
        from .forking import fork

        return fork(self, position, token, n=n, max_tokens=max_tokens, run=run, **params)  # type: ignore[arg-type]

    def branches(self, position: int, k: int = 5, *, run: int | None = None, max_tokens: int | None = None,
                 **params: Any) -> "pd.DataFrame":
        """Fork at `position` once per top-`k` alternative: one row per branch (rank, token, its reported
        prob, the continuation from the token on, the continuation's mean_logprob, tokens, finish_reason,
        error).  `.attrs["result"]` is the branches' Result (for .tokens(), .diverge(), compare)."""
        from .forking import branches

        return branches(self, position, k, run=run, max_tokens=max_tokens, **params)  # type: ignore[arg-type]

    def calibration(self, by: str = "first_token", bins: int = 10) -> "pd.DataFrame":
        """Reported probability vs sampled frequency per prompt and label over repeated runs (`-n N`).

        One row per prompt × label: label, reported_prob, sampled_freq, count, runs, gap, stderr;
        `.attrs` holds `brier`, `ece`, `reliability` (the bins) and `notes` (see calibration.py).
        `by="choices"` uses the --choices labels, `"first_token"` the first token."""
        from .calibration import calibration_frame

        choices = self.choices if by == "choices" and self.choice_labels else None  # type: ignore[attr-defined]
        return calibration_frame(self.runs, self.key_columns(), by, bins, self.choice_labels, choices)

    def plot_calibration(self, by: str = "first_token", bins: int = 10) -> Any:
        """The reliability diagram of `calibration(by, bins)` (needs matplotlib); returns the Axes."""
        from .calibration import plot_reliability

        return plot_reliability(self.calibration(by, bins))
