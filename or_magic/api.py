"""The Python API: `complete`, `models`, `key_info`.  The magic is a thin layer over these.

Clients are pooled per settings (a few at most, see wire/pool.py), so a loop of `complete()`
calls reuses one connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .analysis.choices import choice_params, parse_labels
from .analysis.result import Result
from .core.coerce import to_float, unsendable
from .core.errors import APIError, ConfigError, InvalidOption, ORMagicError
from .core.params import PARAMS
from .core.secrets import ensure_key
from .core.settings import Settings
from .run.budget import check_budget
from .run.call import CallOptions
from .run.grid import (
    check_grid_size,
    grid_size,
    param_values,
    plan_over_vars,
    resolve_vars,
)
from .run.request import Plan, Run
from .run.runner import RunHook, plan_runs, run_sequentially
from .wire.pool import ClientPool
from .wire.stream import StreamCancelled, TextHook

if TYPE_CHECKING:
    import pandas as pd

    from .wire.client import Client

client_pool = ClientPool()  # bounded: evicted clients are closed


def client_for(settings: Settings) -> "Client":
    """A pooled client for these settings (and the key currently in the environment)."""
    ensure_key(settings.api_key_env, needed=settings.needs_key())
    return client_pool.get(settings)


def complete(prompt: str, model: str | Sequence[str] | None = None, *, system: str | None = None,
             endpoint: str | None = None, stream: bool | None = None, samples: int = 1,
             extra: Mapping[str, Any] | None = None, variables: Mapping[str, Any] | None = None,
             settings: Settings | None = None, on_done: RunHook | None = None,
             on_text: TextHook | None = None, cache: bool | None = None,
             choices: str | Sequence[str] | None = None, sweep_vars: Mapping[str, Any] | None = None,
             concurrency: int | None = None, max_cost: float | None = None, yes: bool = False,
             progress: bool = True, **params: Any) -> Result:
    """Send `prompt` to `model` with sampling `params` (wire names: temperature, top_p, seed, ...).

    A list (or range) for a parameter or for `model` makes a sweep, as does `samples` > 1 or
    `sweep_vars={"topic": ["a", "b"]}` (a template variable as an axis).  Sweeps run
    `concurrency` requests at once; `max_cost` (USD) caps them.  `{name}` fields in the prompt
    are filled from `variables`.  A single failed run raises; in a sweep, failed runs are rows.
    A single streamed run (`stream=True`, the default) calls `on_text(piece)` as text arrives.
    `cache=True` answers a repeated request that has a seed or temperature 0 from the history.
    `choices=["yes", "no"]` classifies by the first token's logprobs (see `Result.choices`).
    """
    options = CallOptions(
        models=[model] if isinstance(model, str) else list(model or []),
        params={name: _checked_list(name, value) for name, value in params.items() if value is not None},
        system=system, endpoint=endpoint, stream=stream, samples=samples, extra=dict(extra or {}),
        cache=cache, choices=parse_labels(choices) if choices is not None else [],
        vars=dict(sweep_vars or {}), concurrency=concurrency, max_cost=max_cost, yes=yes).check()
    return run_call(prompt, options, settings or Settings(), variables or {}, on_done=on_done, on_text=on_text,
                    progress=progress)


def sweep(prompt: str, model: str | Sequence[str] | None = None, **options: Any) -> Result:
    """`complete()` for grids: give lists (`temperature=[0, 0.7]`, `seed=range(1, 6)`, several
    models) and get one row per run.  Unlike `complete()` it never raises for a failed run, even
    a grid of one: the failure is that run's row.  Bad input still raises before anything is sent."""
    try:
        return complete(prompt, model, **options)
    except ORMagicError as exc:
        result = exc.result
        if result is None:
            raise
        return result


def _checked_list(name: str, value: Any) -> list[Any]:
    if name not in PARAMS:
        raise InvalidOption(f"unknown parameter {name!r}: use one of {', '.join(PARAMS)}, "
                            "or extra={...} for other body fields")
    return param_values(PARAMS[name], value, shown=name)  # the Python API names options by wire name


def prepare(prompt: str, options: CallOptions, settings: Settings,
            variables: Mapping[str, Any]) -> tuple[Plan, list[str]]:
    """Check everything and plan the runs, sending nothing.  Returns the plan and notes."""
    problem = settings.base_url_problem()
    if problem:
        raise ConfigError(problem)
    settings.api_key()  # a key that cannot be sent is a ConfigError now, not a failed run
    models = options.models or ([settings.model] if settings.model else [])
    if not models:
        raise InvalidOption("no model: name one (e.g. %%openrouter openai/gpt-4o-mini) "
                            "or set %config OpenRouterMagics.model = '...'")
    var_items = resolve_vars(options.vars, variables, prompt)
    size = grid_size(len(models), options.params, options.samples, var_items)
    check_grid_size(size, settings.max_runs, options.yes)
    # `stream` is about watching one answer arrive; a sweep shows a progress bar and a table, and
    # its runs go concurrently as whole JSON answers (which can also be retried whole).
    stream = size == 1 and (settings.stream if options.stream is None else options.stream)
    params = choice_params(options.params) if options.choices else options.params

    def plan_for(text: str) -> Plan:
        return plan_runs(text, models, params, system=options.system, endpoint=options.endpoint,
                         stream=stream, samples=options.samples, extra=options.extra,
                         completions_models=settings.completions_models)

    check_extra(options.extra)
    check_sendable(prompt, options, var_items)
    plan, missing = plan_over_vars(prompt, variables, var_items, plan_for)
    check_sendable(None, options, {"the prompt": sorted({run.spec.prompt for run in plan.runs})})
    notes = [f"{{{name}}} is not defined, so it was sent as written (use {{{{{name}}}}} to keep it on purpose)"
             for name in missing]
    return plan, notes


# Body fields or_magic fills itself: a --param for one would send what .df and the history do not
# show (or break the run), so it is refused with the option that sets it.
CONTROLLED = {"model": "name the model on the line (%%openrouter MODEL) or with model=",
              "messages": "write the prompt in the cell, and use --system for a system message",
              "prompt": "write the prompt in the cell, and use --system for a system message",
              "stream": "use --stream / --no-stream (stream=True/False)"}


def check_extra(extra: Mapping[str, Any]) -> None:
    """Refuse `--param` keys that or_magic controls or that have an option of their own."""
    for name in extra:
        if name in CONTROLLED:
            raise InvalidOption(f"--param {name}: or_magic sets this field itself; {CONTROLLED[name]}")
        if name in PARAMS:
            raise InvalidOption(f"--param {name}: use {PARAMS[name].flag} (the Python API: {name}=) so the "
                                "result and the history show the value sent")


def check_sendable(prompt: str | None, options: CallOptions, var_items: Mapping[str, Any]) -> None:
    """Refuse, before sending, input that no JSON body can carry (a lone surrogate, NaN)."""
    inputs: list[tuple[str, Any]] = [("the cell text", prompt), ("--system", options.system),
                                     *((f"--{n.replace('_', '-')}", v) for n, v in options.params.items()),
                                     *((f"--param {n}", v) for n, v in options.extra.items()),
                                     *((f"{{{n}}}" if n != "the prompt" else n, v) for n, v in var_items.items())]
    for where, value in inputs:
        why = unsendable(value)
        if why:
            raise InvalidOption(f"{where} {why}")


def run_call(prompt: str, options: CallOptions, settings: Settings, variables: Mapping[str, Any],
             on_done: RunHook | None = None, on_text: TextHook | None = None, progress: bool = True) -> Result:
    """Plan, run, and collect a call; raises the error of a call that was a single failed run.

    Every run, failed or not, is recorded in the history (unless `settings.history` is off)
    before `on_done` sees it and before anything is displayed.  A single streamed run calls
    `on_text` with each new piece of text; if it is interrupted, the partial result
    (finish_reason "cancelled") is returned.  Several runs go concurrently (parallel.py), never
    call `on_text`, and never raise for a failed or skipped run.
    """
    plan, notes = prepare(prompt, options, settings, variables)
    from .store.cache import serve_from_cache
    from .store.runlog import recorder, recording

    record = recorder(settings)
    hook = recording(settings, on_done, record)
    to_send = plan.runs
    if settings.cache if options.cache is None else options.cache:
        to_send, cache_notes = serve_from_cache(plan.runs, settings, hook)
        notes += cache_notes
    if options.max_cost is not None and to_send:
        notes += check_budget(to_send, options.max_cost, client_for(settings), options.yes)
    if len(plan.runs) > 1:
        from .run.parallel import run_concurrently

        if to_send:  # every run answered from the cache needs neither a key nor a connection
            ensure_key(settings.api_key_env, needed=settings.needs_key())
            notes += run_concurrently(settings, to_send, concurrency=options.concurrency,
                                      max_cost=options.max_cost, on_done=on_done, progress=progress,
                                      record=record)
        return Result(plan.runs, plan.axes, notes + cut_notes(plan.runs), choices=options.choices)
    try:
        if to_send:
            run_sequentially(client_for(settings), plan, hook, on_text)
    except StreamCancelled:
        notes.append(f"interrupted: kept the {len(plan.runs[0].text)} characters received (finish_reason 'cancelled')")
    runs = plan.runs
    notes += cut_notes(runs)
    result = Result(runs, plan.axes, notes, choices=options.choices)
    if len(runs) == 1 and runs[0].error is not None:
        runs[0].error.result = result  # what came (partial text) stays reachable
        raise runs[0].error
    return result


def cut_notes(runs: Sequence[Run]) -> list[str]:
    """A note when answers stopped at a token limit the user did not set (finish_reason "length"
    with no max_tokens sent): the model's or provider's own limit cut them.  A cut at the user's
    own --max-tokens is what was asked for, and the finish_reason column shows it."""
    cut = sum(1 for r in runs if r.completion is not None and r.completion.finish_reason == "length"
              and not any(name in r.spec.body() for name in ("max_tokens", "max_completion_tokens")))
    if not cut:
        return []
    which = "the answer was" if len(runs) == 1 else f"{cut} of {len(runs)} answers were"
    return [f"{which} cut at the model's token limit (finish_reason 'length'); set --max-tokens higher "
            "for the whole answer"]


def models(search: str | None = None, settings: Settings | None = None) -> "pd.DataFrame":
    """The server's models as a DataFrame (prices in USD per million tokens), filtered by `search`."""
    import pandas as pd

    data = client_for(settings or Settings()).get("/models").get("data") or []
    rows = [_model_row(m) for m in data if isinstance(m, dict) and _matches(m, search)]
    columns = ["id", "name", "context_length", "prompt_per_m", "completion_per_m", "supported_parameters"]
    return pd.DataFrame(rows, columns=columns)


def _matches(model: dict[str, Any], search: str | None) -> bool:
    if not search:
        return True
    haystack = f"{model.get('id', '')} {model.get('name', '')}".lower()
    return all(word in haystack for word in search.lower().split())


def _model_row(model: dict[str, Any]) -> dict[str, Any]:
    pricing = model.get("pricing") if isinstance(model.get("pricing"), dict) else {}
    return {
        "id": model.get("id"),
        "name": model.get("name"),
        "context_length": model.get("context_length"),
        "prompt_per_m": _per_million(pricing.get("prompt")),
        "completion_per_m": _per_million(pricing.get("completion")),
        "supported_parameters": list(model.get("supported_parameters") or []),
    }


def _per_million(price: Any) -> float | None:
    per_token = to_float(price)
    return None if per_token is None else round(per_token * 1_000_000, 6)


KEY_FIELDS: tuple[str, ...] = ("label", "limit", "usage", "limit_remaining", "limit_reset", "usage_daily",
                               "usage_weekly", "usage_monthly", "is_free_tier", "expires_at")


def key_info(settings: Settings | None = None) -> "pd.Series":
    """The key's limit, usage and remaining credit (USD); never the key itself."""
    import pandas as pd

    settings = settings or Settings()
    try:
        data = client_for(settings).get("/key").get("data") or {}
    except APIError as exc:
        if exc.status != 404:
            raise
        raise APIError(404, f"{settings.resolved_base_url()} has no /key endpoint: key limits and usage "
                            "exist only on OpenRouter", hint="") from None
    return pd.Series({name: data.get(name) for name in _present(KEY_FIELDS, data)}, name="key", dtype=object)


def _present(names: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    return [n for n in names if n in data]
