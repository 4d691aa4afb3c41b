"""The requests of a fork: the original run's request, continued from a prefix.

A fork regenerates a run's continuation as if the token at some position had been another one.
The prefix (the decoded text before that position plus the new token) is computed from the
logprob tables in `analysis/forking.py`; this module turns it into runs to send:

- completions endpoint: the prompt is the original prompt + the prefix;
- chat endpoint: the original messages + a final assistant message holding the prefix (assistant
  prefill; OPENROUTER.md §9), which the model continues.

Everything else (model, system text, sampling parameters, --param fields) is the original's,
with the caller's overrides; `samples` and list-valued overrides make a sweep of the fork.

Sending is not done here: the Result that forks was built by the api layer, which injects an
`Executor` (below).  analysis may not import api (the layers go core ← wire ← run ← analysis ←
api), so the api hands the Result a callable that runs a plan the way `complete()` does
(history, concurrency, progress, the client pool), and the analysis layer only builds plans and
reads the filled runs.  Injecting a callable keeps `r.fork()` a one-liner for the user, where
returning a plan for `api` to execute would need a second call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from ..core.errors import InvalidOption
from .grid import python_values
from .request import Plan, Run
from .runner import plan_runs

# Runs a plan in place (history recorded, sweeps concurrent) and returns the notes it made.
Executor = Callable[[Plan], list[str]]
LENGTH_PARAMS = ("max_tokens", "max_completion_tokens")


def fork_plan(run: Run, prefix: str, *, samples: int = 1, max_tokens: int | None = None,
              overrides: Mapping[str, Any] | None = None, taken: int = 0) -> Plan:
    """The runs that continue `run`'s request from `prefix` (one per sample × override values).

    `taken` is how many tokens of the original the prefix keeps: without an explicit
    `max_tokens`, the fork's budget is the original's length limit minus them, so a branch is as
    long as the original could have been.
    """
    if samples < 1:
        raise InvalidOption(f"n={samples}: must be an integer ≥ 1")
    spec = run.spec
    params: dict[str, list[Any]] = {name: [value] for name, value in spec.params.items()}
    for name, value in (overrides or {}).items():
        params[name] = python_values(name, value)
    if max_tokens is not None:
        for name in LENGTH_PARAMS:
            params.pop(name, None)
        params["max_tokens"] = python_values("max_tokens", max_tokens)
    elif not (overrides or {}).keys() & set(LENGTH_PARAMS):
        for name in LENGTH_PARAMS:
            if name in params:
                params[name] = [max(1, int(v) - taken) for v in params[name]]
    plan = plan_runs(spec.prompt, [spec.model], params, system=spec.system, endpoint=spec.endpoint,
                     stream=False, samples=samples, extra=spec.extra)
    for member in plan.runs:
        member.spec = replace(member.spec, prefill=prefix, variables=dict(spec.variables))
    return plan


def merge_plans(plans: list[Plan], axes: Mapping[int, Mapping[str, Any]], first_axes: list[str]) -> Plan:
    """One plan of several plans' runs, renumbered; `axes[i]` are extra key values of plan i's runs
    (the fork position and token), listed first among the key columns."""
    merged = Plan(axes=list(first_axes) + [a for a in (plans[0].axes if plans else []) if a not in first_axes])
    for i, plan in enumerate(plans):
        for member in plan.runs:
            member.index = len(merged.runs)
            member.axes = {**axes.get(i, {}), **member.axes}
            merged.runs.append(member)
    return merged
