"""Recorded sweeps from Python: `resume(sweep_id)` finishes one from its recorded plan alone (a
fresh kernel needs no notebook variables), `sweeps()` lists them (what `%openrouter sweeps` shows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import ConfigError, InvalidOption
from ..core.settings import Settings
from ..run.sweepdef import options_from_definition
from ..store.runlog import open_history, resolve_path
from ..store.sweeps import SweepRecord, get_sweep, sweep_table
from .calls import run_call

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.result import Result


def resume(sweep_id: str, *, settings: Settings | None = None, concurrency: int | None = None,
           progress: bool = True) -> "Result":
    """Finish a recorded sweep from its plan alone (no notebook needed): the runs without a
    successful row are sent, and the whole result is returned, old rows and new, in grid order."""
    settings = settings or Settings()
    found = _recorded(sweep_id, settings)
    options, variables = options_from_definition(found.options)
    options.resume = found.id
    options.concurrency = concurrency or options.concurrency
    settings = settings.with_overrides(base_url=found.base_url or None,
                                       completions_models=found.options.get("completions_models"))
    return run_call(found.prompt, options, settings, variables, progress=progress)


def _recorded(sweep_id: str, settings: Settings) -> SweepRecord:
    path = resolve_path(settings)
    try:
        found = get_sweep(open_history(path), sweep_id)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"the run history at {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if found is None:
        raise InvalidOption(f"resume({sweep_id!r}): no such sweep in the history at {path}; "
                            "or_magic.sweeps(everything=True) lists them")
    return found


def sweeps(everything: bool = False, settings: Settings | None = None) -> "pd.DataFrame":
    """The recorded sweeps with unfinished runs (all with `everything=True`), newest first."""
    path = resolve_path(settings or Settings())
    try:
        return sweep_table(open_history(path), everything)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"the run history at {path} cannot be read ({type(exc).__name__}: {exc})") from None
