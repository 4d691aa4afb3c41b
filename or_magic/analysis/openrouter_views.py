"""What a Result tells about OpenRouter's side of its runs: reasoning, generation stats, determinism.

`OpenRouterViews` is mixed into `Result`; it relies on `runs`, `generations` (the GET /generation
lookup the api injects) and `key_columns()` from there, and keeps the logic in generation.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run
    from .generation import GenerationLookup


class OpenRouterViews:
    """Methods of Result about who served each run and how."""

    runs: list["Run"]
    generations: "GenerationLookup | None"

    def key_columns(self) -> list[str]:  # provided by Result
        raise NotImplementedError

    @property
    def reasoning(self) -> list[str | None]:
        """Each run's reasoning text (None where the model sent none, or --reasoning-exclude hid it)."""
        return [r.completion.reasoning if r.completion is not None else None for r in self.runs]

    def stats(self, wait: float = 10.0) -> "pd.DataFrame":
        """OpenRouter's stats of each run (GET /generation): provider, native prompt/completion/reasoning
        tokens, latency and generation time (ms), cache discount, cost, and `status`.

        The stats appear a few seconds after an answer: this retries with backoff for at most `wait`
        seconds in all; rows still missing then say "not ready" (call again).  Nothing is fetched until
        you call it, so a cell is never held up."""
        from .generation import stats_frame

        if self.generations is None:
            raise AttributeError("stats: this result has no server to ask (it was not made by complete() "
                                 "or the magic)")
        return stats_frame(self.runs, self.generations, wait)

    def determinism(self) -> "pd.DataFrame":
        """Per group of runs sharing every parameter but sample and provider, and per provider: runs,
        exact_match_rate, distinct_outputs, first_divergence (token index; characters when a run has no
        tokens), and whether a seed was set.  Try `--seed 1 -n 5 --provider a,b --sweep-providers`."""
        from .generation import determinism_frame

        return determinism_frame(self.runs, self.key_columns())
