"""The response cache: answer a repeated deterministic request from the run history.

Only requests that are deterministic by intent are answered from the cache: a `seed` is set,
or `temperature` is 0.  Anything else asks for a fresh sample each time, and a cache would
silently defeat that.  A cached run costs nothing (its cost is 0), takes no time, and is
marked `cached` in the result and in the history.
"""

from __future__ import annotations

import json
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


def usable_answer(text: Any) -> dict[str, Any] | None:
    """A stored answer that can be replayed: a JSON object with at least one choice, else None."""
    try:
        raw = json.loads(text) if isinstance(text, (str, bytes)) else None
    except ValueError:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("choices"), list) or not raw["choices"]:
        return None
    return raw if isinstance(raw["choices"][0], dict) else None


def answer_from_cache(runs: Sequence["Run"], history: History, base_url: str) -> tuple[list["Run"], int]:
    """Fill every run that has a usable cached answer; return the runs that still need a request
    and how many stored answers were skipped as unreadable (each row is judged on its own)."""
    to_send: list["Run"] = []
    skipped = 0
    for run in runs:
        body = run.spec.body()
        raw = None
        if deterministic(body):
            for text in history.cached_responses(request_hash(base_url, run.spec.endpoint, body)):
                raw = usable_answer(text)
                if raw is not None:
                    break
                skipped += 1
        if raw is None:
            to_send.append(run)
            continue
        run.raw = raw
        run.completion = replace(Completion.from_response(raw), cost=0.0)
        run.latency = 0.0
        run.cached = True
    return to_send, skipped


def serve_from_cache(runs: Sequence["Run"], settings: "Settings",
                     on_done: Callable[["Run"], None] | None) -> tuple[list["Run"], list[str]]:
    """Answer what the history can (passing each cached run to `on_done`); return the rest and notes."""
    try:
        history = open_history(resolve_path(settings))
    except Exception:  # noqa: BLE001 - no usable history: ask the server (recording says why)
        return list(runs), []
    try:
        to_send, skipped = answer_from_cache(runs, history, settings.resolved_base_url())
    except sqlite3.Error as exc:  # the lookup failed part-way: what it filled stays filled
        to_send, skipped = [r for r in runs if not r.cached], 0
        notes = [f"cache: the history could not be read ({exc}); the other runs are sent"]
    else:
        notes = [f"cache: skipped {skipped} unreadable stored answer{'s' if skipped != 1 else ''}"] if skipped else []
    for run in runs:
        if run.cached and on_done is not None:
            on_done(run)
    return to_send, notes
