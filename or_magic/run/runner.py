"""From a call's options to a list of runs (the grid), and running them.

Every call is a grid, usually of one cell: models × the value lists of the sampling options ×
samples.  Axes with more than one value become key columns of every table.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..core.errors import ORMagicError
from .request import Plan, Run, RunSpec, choose_endpoint
from ..wire.response import Completion
from ..wire.stream import StreamCancelled

RunHook = Callable[[Run], None]
TextHook = Callable[[str], None]  # receives each new piece of a streamed run's text


def plan_runs(prompt: str, models: Sequence[str], params: dict[str, list[Any]], *,
              system: str | None = None, endpoint: str | None = None, stream: bool = False,
              samples: int = 1, extra: dict[str, Any] | None = None,
              completions_models: Sequence[str] = ()) -> Plan:
    """Expand models × parameter values × samples into one `Run` per request."""
    axes = (["model"] if len(models) > 1 else []) + [n for n, v in params.items() if len(v) > 1]
    if samples > 1:
        axes.append("sample")
    plan = Plan(axes=axes)
    names = list(params)
    for model in models:
        chosen_endpoint = choose_endpoint(model, endpoint, completions_models)
        for combo in itertools.product(*params.values()):
            values = dict(zip(names, combo))
            for sample in range(samples):
                spec = RunSpec(model=model, prompt=prompt, endpoint=chosen_endpoint, system=system,
                               params=values, extra=dict(extra or {}), stream=stream, sample=sample)
                point = {**values, "sample": sample}
                run_axes = {a: point[a] for a in axes if a != "model"}
                plan.runs.append(Run(spec=spec, index=len(plan.runs), axes=run_axes))
    return plan


def execute(client: Any, run: Run, on_done: RunHook | None = None, on_text: TextHook | None = None) -> Run:
    """Make one request and fill `run` with its completion or its error; never raises ORMagicError.

    A streamed run (`run.spec.stream`) calls `on_text` with each new piece of text.  If the user
    interrupts it, the run keeps the partial completion (finish_reason "cancelled") and the
    StreamCancelled is re-raised, so a sweep stops too.
    """
    started = time.perf_counter()
    cancelled: StreamCancelled | None = None
    try:
        raw = _request(client, run, on_text)
        run.raw = raw
        run.completion = Completion.from_response(raw)
    except ORMagicError as exc:
        keep_failure(run, exc)
    except StreamCancelled as stop:
        cancelled = stop
        run.raw = stop.body
        run.completion = Completion.from_response(stop.body)
    finally:
        run.latency = time.perf_counter() - started
    if on_done is not None:
        on_done(run)
    if cancelled is not None:
        raise cancelled
    return run


def keep_failure(run: Run, exc: ORMagicError) -> None:
    """Record a failed run, keeping whatever of the answer arrived (and was paid for): the partial
    text, usage, cost and logprobs of an error inside an HTTP 200 or a broken stream."""
    run.error = exc
    body = exc.body
    if isinstance(body, dict):
        run.raw = body
        run.completion = Completion.from_response(body)


def _request(client: Any, run: Run, on_text: TextHook | None) -> dict[str, Any]:
    if run.spec.stream:
        return client.stream(run.spec.endpoint, run.spec.body(), on_text)
    return client.complete(run.spec.endpoint, run.spec.body())


def run_sequentially(client: Any, plan: Plan, on_done: RunHook | None = None,
                     on_text: TextHook | None = None) -> list[Run]:
    """Run every planned request in order; a failed run keeps its error and the rest go on."""
    return [execute(client, run, on_done, on_text) for run in plan.runs]
