"""The response cache: answer a repeated deterministic request from the run history.

Only requests that are deterministic by intent are answered from the cache: a `seed` is set,
or `temperature` is 0.  Anything else asks for a fresh sample each time, and a cache would
silently defeat that.  A cached run costs nothing (its cost is 0), takes no time, and is
marked `cached` in the result and in the history.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..wire.response import Completion
from .runlog import History, open_history, request_hash, resolve_path

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..run.request import Run


def deterministic(body: Mapping[str, Any]) -> bool:
    """Whether the request asks for a reproducible answer (a seed, or temperature 0)."""
    temperature = body.get("temperature")
    zero = isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature == 0
    return body.get("seed") is not None or zero


def answer_from_cache(runs: Sequence["Run"], history: History, base_url: str) -> list["Run"]:
    """Fill every run that has a cached answer; return the runs that still need a request."""
    to_send: list["Run"] = []
    for run in runs:
        body = run.spec.body()
        raw = history.cached_response(request_hash(base_url, run.spec.endpoint, body)) \
            if deterministic(body) else None
        if raw is None:
            to_send.append(run)
            continue
        run.raw = raw
        run.completion = replace(Completion.from_response(raw), cost=0.0)
        run.latency = 0.0
        run.cached = True
    return to_send


def serve_from_cache(runs: Sequence["Run"], settings: "Settings",
                     on_done: Callable[["Run"], None] | None) -> list["Run"]:
    """Answer what the history can (passing each cached run to `on_done`); return the rest."""
    try:
        to_send = answer_from_cache(runs, open_history(resolve_path(settings)), settings.resolved_base_url())
    except (sqlite3.Error, OSError, RuntimeError, ValueError):  # no usable history: ask the server
        return list(runs)
    for run in runs:
        if run.cached and on_done is not None:
            on_done(run)
    return to_send
