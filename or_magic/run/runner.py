"""From a call's options to a list of runs (the grid), and running them.

Every call is a grid, usually of one cell: models × the value lists of the sampling options ×
samples.  Axes with more than one value become key columns of every table.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..core.errors import ORMagicError, TransportError
from ..wire.response import Completion
from ..wire.stream import StreamCancelled, TextHook
from .rate import queued_time
from .request import LazyRuns, Plan, Run, RunSpec, choose_endpoint

RunHook = Callable[[Run], None]


def plan_runs(prompt: str, models: Sequence[str], params: dict[str, list[Any]], *,
              system: str | None = None, endpoint: str | None = None, stream: bool = False,
              samples: int = 1, extra: dict[str, Any] | None = None,
              completions_models: Sequence[str] = (), context: Sequence[dict[str, str]] = (),
              provider_extras: Mapping[str, dict[str, Any]] | None = None) -> Plan:
    """Expand models × providers × parameter values × samples into one `Run` per request.

    `provider_extras` (--sweep-providers) makes provider an axis: name → that run's body fields
    (`provider` pinned to it), used instead of `extra`.  `context` is a conversation's earlier
    turns, sent by every run."""
    axes = (["model"] if len(models) > 1 else []) + (["provider"] if provider_extras else []) \
        + [n for n, v in params.items() if len(v) > 1]
    if samples > 1:
        axes.append("sample")
    names = list(params)
    # One extra dict per provider, shared by its runs (a spec is read-only): not one per run.
    providers = [(name, dict(fields)) for name, fields in (provider_extras or {None: extra or {}}).items()]
    endpoints = [choose_endpoint(model, endpoint, completions_models) for model in models]  # errors now
    # Grid position → run, in the order of nested loops model, provider, parameter values, sample.
    sizes = [len(models), len(providers), *(len(v) for v in params.values()), samples]
    value_lists = list(params.values())
    context = tuple(context)

    def build(index: int) -> Run:
        digits, rest = [], index
        for size in reversed(sizes):
            rest, digit = divmod(rest, size)
            digits.append(digit)
        m, p, *picks, sample = reversed(digits)
        provider, fields = providers[p]
        values = {name: value_lists[k][pick] for k, (name, pick) in enumerate(zip(names, picks))}
        spec = RunSpec(model=models[m], prompt=prompt, endpoint=endpoints[m], system=system, params=values,
                       extra=fields, stream=stream, sample=sample, context=context)
        point = {**values, "sample": sample, "provider": provider}
        return Run(spec=spec, index=index, axes={a: point[a] for a in axes if a != "model"})

    plan = Plan(runs=LazyRuns(math.prod(sizes), build), axes=axes, prompts=[prompt])
    return plan


@contextlib.contextmanager
def filling(run: Run) -> Iterator[None]:
    """Time one request and keep what it gave: the sync and async paths share this, so a run is
    filled, timed and failure-kept the same way everywhere.

    An ORMagicError becomes the run's error, keeping whatever of the answer arrived (and was paid
    for).  An interrupted stream keeps its partial completion (finish_reason "cancelled") and the
    StreamCancelled goes on, so a sweep stops too.
    """
    run.started_at = time.time()  # when the request began, not when it was planned: the wall time
    started = time.perf_counter()
    try:
        yield
    except ORMagicError as exc:
        keep_failure(run, exc)
    except StreamCancelled as stop:
        fill(run, stop.body)
        raise
    finally:
        run.latency = time.perf_counter() - started


def answered(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw`, if it holds an answer: a body with no choices generated nothing, so it is an error
    (kept with its usage), neither cached nor counted as a success."""
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices or not any(isinstance(c, dict) for c in choices):
        error = TransportError("the server answered with no choices: nothing was generated")
        error.body = raw
        raise error
    return raw


def fill(run: Run, raw: dict[str, Any]) -> None:
    """Keep an answer body and what it says."""
    run.raw = raw
    run.completion = Completion.from_response(raw)


def keep_failure(run: Run, exc: ORMagicError) -> None:
    """Record a failed run, keeping whatever of the answer arrived (and was paid for): the partial
    text, usage, cost and logprobs of an error inside an HTTP 200 or a broken stream."""
    run.error = exc
    if isinstance(exc.body, dict):
        fill(run, exc.body)


def execute(client: Any, run: Run, on_done: RunHook | None = None, on_text: TextHook | None = None) -> Run:
    """Make one request and fill `run` with its completion or its error; never raises ORMagicError.

    A streamed run (`run.spec.stream`) calls `on_text` with each new piece of text.  If the user
    interrupts it, `on_done` still sees the run (with its partial completion) before the
    StreamCancelled is re-raised.
    """
    cancelled: StreamCancelled | None = None
    try:
        with filling(run):
            fill(run, answered(_request(client, run, on_text)))
    except StreamCancelled as stop:
        cancelled = stop
    if on_done is not None:
        on_done(run)
    if cancelled is not None:
        raise cancelled
    return run


async def execute_async(client: Any, run: Run) -> Run:
    """`execute` for a sweep's AsyncClient (never streamed; the caller records the run).  Time spent
    waiting for a --rate slot is queueing: the run's start and latency leave it out."""
    with queued_time() as queued:
        with filling(run):
            fill(run, answered(await client.complete(run.spec.endpoint, run.spec.body())))
    if queued[0] and run.latency is not None:
        run.started_at += queued[0]
        run.latency = max(0.0, run.latency - queued[0])
    return run


def _request(client: Any, run: Run, on_text: TextHook | None) -> dict[str, Any]:
    if run.spec.stream:
        return client.stream(run.spec.endpoint, run.spec.body(), on_text)
    return client.complete(run.spec.endpoint, run.spec.body())


def run_sequentially(client: Any, plan: Plan, on_done: RunHook | None = None,
                     on_text: TextHook | None = None) -> list[Run]:
    """Run every planned request in order; a failed run keeps its error and the rest go on."""
    return [execute(client, run, on_done, on_text) for run in plan.runs]
