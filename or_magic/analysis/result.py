"""Result: what a call returns, renders, and converts to DataFrames.

A Result holds one `Run` per request.  A single run renders as its text with a one-line footer
(model, tokens, cost, seconds); several runs render as a compact table.  The DataFrames are
built on first access and cached.
"""

from __future__ import annotations

import html
import statistics
from functools import cached_property
from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import InvalidOption
from ..core.money import format_cost
from ..run.conversation import Slot, Turn
from ..run.request import Run, Usage, asked_for_logprobs
from .frames import logprobs_frame, runs_frame, top_logprobs_frame
from .inspection import LogprobViews, logprob_quality_notes
from .openrouter_views import OpenRouterViews
from .reasoning_view import reasoning_html
from .research import ResearchViews

if TYPE_CHECKING:
    import pandas as pd

    from ..run.fork import Executor
    from ..run.schema import SchemaSpec
    from .generation import GenerationLookup


class Result(LogprobViews, ResearchViews, OpenRouterViews):
    """The value of a `%%openrouter` cell or a `complete()` call."""

    sweep_id: str | None = None  # a sweep's id in the history (set by the api): what --resume finds

    def __init__(self, runs: Sequence[Run], axes: Sequence[str] = (), notes: Sequence[str] = (),
                 choices: Sequence[str] = (), schema: "SchemaSpec | None" = None,
                 executor: "Executor | None" = None, slot: Slot | None = None,
                 generations: "GenerationLookup | None" = None) -> None:
        self.runs = list(runs)
        self.executor = executor  # sends the requests of r.fork()/r.branches() (injected by the api)
        self.slot = slot  # the conversation turn it was made for (--chat), else None
        self.generations = generations  # GET /generation for r.stats() (injected by the api)
        self.axes = list(axes)  # swept parameter names: key columns of every table
        self.choice_labels = list(choices)  # --choices labels (see choices.py)
        self.schema = schema  # --schema / --schema-multi (run/schema.py); answers parsed by structured.py
        self.notes = list(notes) + self._logprob_notes() + self._choice_notes() + self._schema_notes()

    def keep(self, i: int = 0) -> Turn:
        """Append run `i` (a row of `df`) to the conversation it was made in, as the turn this
        call was for: how one of a sweep's candidates becomes the next turn."""
        if self.slot is None:
            raise InvalidOption("keep(): this result was not made in a conversation (use --chat NAME)")
        if not 0 <= i < len(self.runs):
            raise InvalidOption(f"keep({i}): the result has runs 0..{len(self.runs) - 1}")
        return self.slot.keep(self.runs[i])

    # --- values -----------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The completion text (the first run's, for a sweep)."""
        return self.runs[0].text if self.runs else ""

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.runs]

    @property
    def raw(self) -> Any:
        """The raw response body (a list of them for several runs)."""
        raws = [r.raw for r in self.runs]
        return raws[0] if len(raws) == 1 else raws

    @property
    def errors(self) -> list[BaseException]:
        return [r.error for r in self.runs if r.error is not None]

    @cached_property
    def df(self) -> "pd.DataFrame":
        """One row per run: key columns (and --vars row inputs), parameters, text, finish_reason, tokens, cost,
        latency, ids, error; with --schema one typed column per field and schema_error (see structured.py)."""
        from .structured import extend_runs_frame

        return extend_runs_frame(runs_frame(self.runs, self.key_columns()), self.runs, self.key_columns(),
                                 self.schema)

    @cached_property
    def _parsed(self) -> list[tuple[Any, str | None]]:
        from .structured import parsed

        return parsed(self.runs, self.schema) if self.schema is not None else [(None, None)] * len(self.runs)

    @property
    def data(self) -> Any:
        """The parsed --schema answer (a list of objects for --schema-multi); a list of them for a sweep.
        None where the answer did not fit the schema (see schema_error)."""
        if self.schema is None:
            raise AttributeError("data: the call had no --schema; give --schema SPEC to get parsed answers")
        values = [data for data, _ in self._parsed]
        return values[0] if len(values) == 1 else values

    @cached_property
    def items(self) -> "pd.DataFrame":
        """--schema-multi's long table: run, run keys, item (index in the answer), the fields."""
        from .structured import items_frame

        if self.schema is None or not self.schema.multi:
            raise AttributeError("items: only --schema-multi answers have items; use .df for --schema")
        return items_frame(self.runs, self.key_columns(), self.schema)

    @cached_property
    def tool_calls(self) -> "pd.DataFrame":
        """One row per tool call: run, run keys, call, id, function, arguments (parsed), arguments_error."""
        from .structured import tool_calls_frame

        return tool_calls_frame(self.runs, self.key_columns())

    @cached_property
    def logprobs(self) -> "pd.DataFrame":
        """One row per generated token: run keys, position, token, logprob, prob, offset, bytes, and the
        derived text, rank, margin, entropy, tail_mass, cumulative_logprob (see or_magic.metrics)."""
        return logprobs_frame(self.runs, self.key_columns())

    @cached_property
    def top_logprobs(self) -> "pd.DataFrame":
        """Alternatives in long form: run keys, position, rank, token, logprob, prob, chosen."""
        return top_logprobs_frame(self.runs, self.key_columns())

    def summary(self, by: str | Sequence[str] | None = None) -> "pd.DataFrame":
        """Per swept-parameter group: runs, failed, distinct outputs, mean logprob, perplexity, cost, latency.

        By default the groups are the swept parameters other than `seed` and `sample` (the repeats
        of a setting, pooled in each row); `by="seed"` or `by=["temperature", "seed"]` overrides."""
        from .summary import summarize

        return summarize(self.df, self.key_columns(), by)

    def plot(self, metric: str = "perplexity", x: str | None = None, by: str | None = None) -> Any:
        """Plot a summary metric against a swept parameter (needs matplotlib); returns the Axes."""
        from .summary import plot

        return plot(self.df, self.key_columns(), metric, x, by)

    def key_columns(self) -> list[str]:
        """The columns that tell runs apart in every table: `model` when several models ran, then the
        swept parameters."""
        multi_model = len({r.spec.model for r in self.runs}) > 1
        return (["model"] if multi_model else []) + [a for a in self.axes if a != "model"]

    def _logprob_notes(self) -> list[str]:
        asked = [r for r in self.runs if r.ok and asked_for_logprobs(r.spec.params)]
        missing = [r for r in asked if not r.logprobs]
        notes = logprob_quality_notes(self.runs)
        if not missing:
            return notes
        who = "the provider" if len(self.runs) == 1 else f"{len(missing)} of {len(asked)} runs"
        return [f"no logprobs returned by {who} (the model or provider does not support them); "
                "the logprob tables are empty"] + notes

    def _schema_notes(self) -> list[str]:
        failed = [(run, problem) for run, (_, problem) in zip(self.runs, self._parsed) if problem]
        if len(self.runs) == 1 and failed:
            return [f"the answer does not fit the schema: {failed[0][1]}"]
        return [f"{len(failed)} of {len(self.runs)} answers do not fit the schema (see the schema_error column)"] \
            if failed else []

    def _body_text(self) -> str:
        """A single run's text, or its tool calls when it answered only with calls (never a blank)."""
        from .structured import tool_call_lines

        run = self.runs[0]
        return run.text if run.text or not run.completion else "\n".join(tool_call_lines(run))

    # --- display ----------------------------------------------------------------------
    def footer(self) -> str:
        """One line: model, tokens, cost, seconds; for a sweep the wall time it took and the median
        latency of a run (the sum of latencies of concurrent runs is no time anyone waited)."""
        done = [r for r in self.runs if r.completion]
        models = sorted({r.completion.model or r.spec.model for r in done}) or sorted({r.spec.model for r in self.runs})
        usage = Usage.of(self.runs)
        parts = [", ".join(models), usage.tokens_text(), format_cost(usage.cost), self._seconds()]
        if len(self.runs) > 1:
            parts.insert(0, f"{len(self.runs)} runs ({len(self.errors)} failed)")
        if any(r.cached for r in self.runs):
            parts.append("cached")
        return " · ".join(parts)

    def _seconds(self) -> str:
        timed = [r for r in self.runs if r.latency is not None]
        if len(self.runs) == 1 or not timed:
            return f"{sum(r.latency or 0 for r in self.runs):.2f} s"
        wall = max(r.started_at + r.latency for r in timed) - min(r.started_at for r in timed)
        return f"{wall:.2f} s wall · median {statistics.median(r.latency for r in timed):.2f} s/run"

    def __repr__(self) -> str:
        return f"<or_magic.Result {len(self.runs)} run(s): {self.footer()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self._plain())

    def _plain(self) -> str:
        body = self._body_text() if len(self.runs) == 1 else self._table().to_string(max_colwidth=40, max_rows=50)
        if self.choice_labels:
            body = self._choices_view().to_string(max_colwidth=40)
        lines = [body, "", f"— {self.footer()}"] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if len(self.runs) == 1:
            done = self.runs[0].completion
            thought = reasoning_html(done.reasoning, tokens=done.reasoning_tokens) if done is not None else ""
            body = thought + text_html(self._body_text())
        else:
            body = self._table().to_html(max_rows=50, notebook=True)
        if self.choice_labels:
            body = self._choices_view().to_html(max_rows=50, notebook=True)
        notes = "".join(f"<br>note: {html.escape(n)}" for n in self.notes)
        return f'{body}<div style="color: #888; font-size: 85%">{html.escape(self.footer())}{notes}</div>'

    def _table(self) -> "pd.DataFrame":
        """The compact per-run table shown for sweeps: keys, a text preview, tokens, cost, error.

        The run number is the index (not also a `run` column), whitespace in the text is marked and
        what is missing is an empty cell, not `None`/`NaN` noise."""
        from .whitespace import visible_columns

        df = self.df.set_index("run") if "run" in self.df.columns else self.df
        outputs = {"tool_calls", "items", "schema_error", *(self.schema.fields if self.schema else ())}
        fields = [c for c in df.columns if c in outputs or (self.schema and str(c).startswith("field_"))]
        shown = [*self.key_columns(), "text", *fields, "finish_reason", "completion_tokens", "cost", "error"]
        table = df[[c for c in dict.fromkeys(shown) if c in df.columns]].copy()
        table["text"] = table["text"].str.slice(0, 60)
        table = visible_columns(table, ["text", "finish_reason", "error", "schema_error"])
        if "completion_tokens" in table.columns:
            table["completion_tokens"] = table["completion_tokens"].map(
                lambda n: "" if n is None or n != n else int(n))
        if "cost" in table.columns:
            table["cost"] = table["cost"].astype(object).where(table["cost"].notna(), "")
        table.index.name = None  # the index is the run number; a named index adds a header row
        return table

    def _choices_view(self) -> "pd.DataFrame":
        from .whitespace import visible_columns

        return visible_columns(self.choices, ["tokens"])


def text_html(text: str) -> str:
    """A completion's text as HTML: the final rendering and the live stream share it (one font)."""
    return f'<div style="white-space: pre-wrap">{html.escape(text)}</div>'


def compare(*items: "Result | Run") -> "pd.DataFrame":
    """`or_magic.compare(r1, r2, ...)`: the divergence table over the runs of results (or single runs)."""
    from .divergence import divergence_frame

    runs, labels = [], []
    for n, item in enumerate(items):
        members = item.runs if isinstance(item, Result) else [item]
        for run in members:
            runs.append(run)
            labels.append(f"#{n}" + (f" run {run.index}" if len(members) > 1 else ""))
    return divergence_frame(runs, labels)
