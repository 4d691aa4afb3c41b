"""Resumable sweeps: give a sweep its id and record its plan before sending; with `--resume`,
rebuild the runs that finished from the history and send only the rest.

A run is identified by its sweep's id and its grid position, so a resume needs no seed and works
at any temperature.  Only successful rows are kept: failed, cancelled and budget-skipped runs
are sent again.  The old rows keep their record ids (no duplicate rows); the new runs are
recorded under the same sweep id.  `--resume` that matches no recorded sweep is an error, not a
fresh start: a cell changed by accident would otherwise pay for the whole grid again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..core.errors import ConfigError, InvalidOption
from ..core.settings import Settings
from ..run.call import RESUME_AUTO
from ..run.request import Plan, Run
from ..run.runner import fill
from ..run.sweepdef import differences, grid_fingerprint, sweep_definition
from ..store.runlog import History, open_history, resolve_path, run_context
from ..store.sweeps import (
    FinishedRow,
    SweepRecord,
    finished_rows,
    get_sweep,
    new_sweep_id,
    newest_like,
    newest_with_fingerprint,
    record_sweep,
)

if TYPE_CHECKING:
    from ..run.call import CallOptions


def begin_sweep(prompt: str, options: "CallOptions", settings: Settings, variables: Mapping[str, Any],
                plan: Plan) -> tuple[Sequence[Run], str | None, list[str]]:
    """Before a call sends anything: (the runs to send, the sweep's id, notes).

    A sweep's plan is recorded (a new id), or with `options.resume` the recorded sweep is found
    and its finished runs are filled from the history.  A single run is no sweep."""
    runs = plan.runs  # used as a sequence (len, iteration): the plan may be built lazily
    asked = options.resume and options.resume != RESUME_AUTO  # "auto" resumes only what it can
    if len(runs) <= 1 or options.in_conversation:
        if asked:
            why = "a turn of a conversation" if options.in_conversation else "a single run"
            raise InvalidOption(f"--resume: this call is {why}, not a sweep; there is nothing to resume (drop --resume)")
        return runs, None, []
    if not settings.history:
        if asked:
            raise InvalidOption("--resume reads the run history, which is off: %config OpenRouterMagics.history = True")
        return runs, None, []
    base_url = settings.resolved_base_url()
    models = [run.spec.model for run in runs]
    definition = sweep_definition(prompt, options, list(dict.fromkeys(models)), plan.var_items,
                                  variables, plan.schema, settings.completions_models)
    fingerprint = grid_fingerprint(base_url, plan.axes, runs)
    try:
        history = open_history(resolve_path(settings))
    except Exception as exc:  # noqa: BLE001 - an unusable history costs resumability, never the sweep
        if options.resume:
            raise ConfigError(f"--resume: the run history at {resolve_path(settings)} cannot be opened ({exc})") from None
        return runs, None, [f"this sweep cannot be resumed: the history cannot be opened ({exc})"]
    found: SweepRecord | None = None
    if options.resume:
        try:
            found = _find(history, options.resume, fingerprint, definition, prompt, base_url, len(runs))
            done = finished_rows(history, found.id) if found is not None else {}
        except sqlite3.Error as exc:
            raise ConfigError(f"--resume: the run history at {history.path} cannot be read ({exc})") from None
    if found is not None:
        to_send = _restore_finished(runs, found.id, done)
        return to_send, found.id, [f"resumed sweep {found.id}: {len(runs) - len(to_send):,} of {len(runs):,} runs "
                                   f"from the history, {len(to_send):,} sent"]
    sweep = SweepRecord(id=new_sweep_id(), size=len(runs), fingerprint=fingerprint, prompt=prompt,
                        options=definition, axes=list(plan.axes), base_url=base_url, notebook=run_context()[0],
                        models=definition["models"])
    try:
        record_sweep(history, sweep, settings.api_key())
    except Exception as exc:  # noqa: BLE001 - a locked or read-only file: the sweep still runs
        return runs, None, [f"this sweep cannot be resumed: its plan could not be recorded "
                            f"({type(exc).__name__}: {exc})"]
    for run in runs:
        run.sweep_id = sweep.id
    return runs, sweep.id, []


def _find(history: History, resume: bool | str, fingerprint: str, definition: dict[str, Any], prompt: str,
          base_url: str, size: int) -> SweepRecord | None:
    """The sweep to resume, or a one-line error saying why none fits (None: `RESUME_AUTO` found none)."""
    if resume == RESUME_AUTO:
        return newest_with_fingerprint(history, fingerprint)
    if isinstance(resume, str):
        found = get_sweep(history, resume.strip())
        if found is None:
            raise InvalidOption(f"--resume {resume}: no such sweep in the history at {history.path}; "
                                "%openrouter sweeps --all lists them")
        if found.fingerprint != fingerprint:
            raise InvalidOption(f"--resume {resume}: this call plans other runs than that sweep "
                                f"({_what_differs(found, definition, prompt, base_url, size)}); undo the change, "
                                "or drop --resume to start a new sweep")
        return found
    found = newest_with_fingerprint(history, fingerprint)
    if found is not None:
        return found
    near = newest_like(history, prompt, run_context()[0])
    hint = f"; the newest like it, {near.id}, differs in {_what_differs(near, definition, prompt, base_url, size)}" \
        if near is not None else ""
    raise InvalidOption(f"--resume: no recorded sweep plans these runs{hint}; drop --resume to run it afresh, or "
                        "name one with --resume SWEEP_ID (%openrouter sweeps lists them)")


def _what_differs(found: SweepRecord, definition: dict[str, Any], prompt: str, base_url: str, size: int) -> str:
    found_now = differences({"prompt": found.prompt, "base_url": found.base_url, "size": found.size,
                             **found.options},
                            {"prompt": prompt, "base_url": base_url, "size": size, **definition})
    if found_now:
        return "; ".join(found_now[:3]) + (f"; and {len(found_now) - 3} more" if len(found_now) > 3 else "")
    return "the requests differ though the options match: a notebook value the prompt reads has changed"


def _restore_finished(runs: Sequence[Run], sweep_id: str, done: dict[int, FinishedRow]) -> list[Run]:
    """Fill each run that has a finished row from it; return the others (to send), in grid order."""
    to_send = []
    for run in runs:
        run.sweep_id = sweep_id
        row = done.get(run.index)
        if row is None or not _restore(run, row):
            to_send.append(run)
    return to_send


def _restore(run: Run, row: FinishedRow) -> bool:
    """The run as it finished: its answer, cost, latency, start time and history row."""
    try:
        raw = json.loads(row.response)
        fill(run, raw)
    except Exception:  # noqa: BLE001 - an unreadable stored answer: send that run again
        run.raw = run.completion = None
        return False
    assert run.completion is not None
    if run.completion.cost != row.cost:  # what was recorded: 0 for an answer served from the cache
        run.completion = replace(run.completion, cost=row.cost)
    run.latency, run.started_at, run.record_id, run.cached = row.latency, row.created_at, row.record_id, row.cached
    return True


def resume_hint(notes: list[str], sweep_id: str | None) -> list[str]:
    """The interrupt's note, saying how to send the rest."""
    if sweep_id is None:
        return notes
    return [f"{note}; --resume (or or_magic.resume({sweep_id!r})) sends the rest" if note.startswith("interrupted:")
            else note for note in notes]
