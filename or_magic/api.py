"""The Python API: `complete`, `models`, `key_info`.  The magic is a thin layer over these.

Clients are pooled per settings, so a loop of `complete()` calls reuses one connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .analysis.choices import choice_params, parse_labels
from .analysis.result import Result
from .core.errors import APIError, InvalidOption, ORMagicError
from .core.secrets import ensure_key
from .core.settings import Settings
from .run.budget import check_budget
from .run.call import CallOptions, routing_options
from .run.grid import (
    check_grid_size,
    grid_size,
    plan_over_vars,
    python_values,
    resolve_vars,
)
from .run.preflight import enforce, preflight_notes
from .run.request import Plan, Run
from .run.runner import RunHook, plan_runs, run_sequentially
from .run.schema import SchemaSpec, resolve_schema
from .wire.stream import StreamCancelled, TextHook

if TYPE_CHECKING:
    import pandas as pd

    from .analysis.generation import GenerationLookup
    from .run.fork import Executor
    from .wire.client import Client

_clients: dict[tuple[Any, ...], "Client"] = {}


def client_for(settings: Settings) -> "Client":
    """A pooled client for these settings (and the key currently in the environment)."""
    from .wire.client import Client

    ensure_key(settings.api_key_env, needed=settings.needs_key())
    # The key is part of the identity (a changed key needs a new client) but is hashed so the
    # pool's keys never hold it in clear.
    identity = (settings, hash(settings.api_key()))
    client = _clients.get(identity)
    if client is None:
        client = _clients[identity] = Client(settings)
    return client


def complete(prompt: str, model: str | Sequence[str] | None = None, *, system: str | None = None,
             endpoint: str | None = None, stream: bool | None = None, samples: int = 1,
             extra: Mapping[str, Any] | None = None, variables: Mapping[str, Any] | None = None,
             settings: Settings | None = None, on_done: RunHook | None = None,
             on_text: TextHook | None = None, cache: bool | None = None,
             choices: str | Sequence[str] | None = None, sweep_vars: Mapping[str, Any] | None = None,
             concurrency: int | None = None, max_cost: float | None = None, yes: bool = False,
             progress: bool = True, schema: Any = None, schema_multi: Any = None, **params: Any) -> Result:
    """Send `prompt` to `model` with sampling `params` (wire names: temperature, top_p, seed, ...).

    A list (or range) for a parameter or for `model` makes a sweep, as does `samples` > 1 or
    `sweep_vars={"topic": ["a", "b"]}` (a template variable as an axis).  Sweeps run
    `concurrency` requests at once; `max_cost` (USD) caps them.  `{name}` fields in the prompt
    are filled from `variables`.  A single failed run raises; in a sweep, failed runs are rows.
    A single streamed run (`stream=True`, the default) calls `on_text(piece)` as text arrives.
    `cache=True` answers a repeated request that has a seed or temperature 0 from the history.
    `choices=["yes", "no"]` classifies by the first token's logprobs (see `Result.choices`).
    `schema=` (a concise field list, JSON schema text or dict, @file.json, or a pydantic model class)
    asks for JSON that fits it and parses the answer (`Result.data`, typed `.df` columns);
    `schema_multi=` the same for a list of such objects (`Result.items`).
    Routing (README "OpenRouter routing"): `provider="a,b"`, `fallbacks`, `provider_sort`, `ignore_providers`,
    `quantizations`, `max_price=(prompt, completion)` per million, `data_collection`, `require_parameters`,
    `fallback_models`, `sweep_providers`; `reasoning_effort`, `reasoning_max_tokens`, `reasoning_exclude`;
    `strict=True` makes a capability note an error.
    """
    if schema is not None and schema_multi is not None:
        raise InvalidOption("schema= and schema_multi= together: give one (schema_multi asks for a list of objects)")
    routing, reasoning, strict = routing_options(params)
    options = CallOptions(routing=routing, reasoning=reasoning, strict=strict,
        models=[model] if isinstance(model, str) else list(model or []),
        params={name: python_values(name, value) for name, value in params.items() if value is not None},
        system=system, endpoint=endpoint, stream=stream, samples=samples, extra=dict(extra or {}),
        cache=cache, choices=parse_labels(choices) if choices is not None else [],
        vars=dict(sweep_vars or {}), concurrency=concurrency, max_cost=max_cost, yes=yes,
        schema=schema if schema_multi is None else schema_multi, schema_multi=schema_multi is not None)
    if samples < 1:
        raise InvalidOption(f"samples={samples}: must be an integer ≥ 1")
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


def prepare(prompt: str, options: CallOptions, settings: Settings,
            variables: Mapping[str, Any]) -> tuple[Plan, list[str]]:
    """Check everything and plan the runs, sending nothing.  Returns the plan and notes."""
    models = options.models or ([settings.model] if settings.model else [])
    if not models:
        raise InvalidOption("no model: name one (e.g. %%openrouter openai/gpt-4o-mini) "
                            "or set %config OpenRouterMagics.model = '...'")
    var_items = resolve_vars(options.vars, variables, prompt)
    routing = options.routing
    providers = len(routing.providers) if routing.sweep_providers else 1
    size = grid_size(len(models) * providers, options.params, options.samples, var_items)
    check_grid_size(size, settings.max_runs, options.yes)
    # `stream` is about watching one answer arrive; a sweep shows a progress bar and a table, and
    # its runs go concurrently as whole JSON answers (which can also be retried whole).
    stream = size == 1 and (settings.stream if options.stream is None else options.stream)
    params = choice_params(options.params) if options.choices else options.params
    schema = _schema(options, params, variables)
    extra = {**options.extra, "response_format": schema.response_format()} if schema else options.extra
    extra = {**extra, **routed_fields(options)}
    provider_extras = {name: {**extra, **routing.body_fields(pinned=name)} for name in routing.providers} \
        if routing.sweep_providers else None

    def plan_for(text: str) -> Plan:
        return plan_runs(text, models, params, system=options.system, endpoint=options.endpoint,
                         stream=stream, samples=options.samples, extra=extra,
                         completions_models=settings.completions_models, provider_extras=provider_extras)

    plan, missing = plan_over_vars(prompt, variables, var_items, plan_for)
    plan.schema = schema
    notes = [f"{{{name}}} is not defined, so it was sent as written (use {{{{{name}}}}} to keep it on purpose)"
             for name in missing]
    return plan, notes


def routed_fields(options: CallOptions) -> dict[str, Any]:
    """The body fields of the routing and reasoning options; refuses the same field given twice."""
    fields = dict(options.routing.body_fields())
    if options.reasoning:
        fields["reasoning"] = options.reasoning
    for name in fields:
        if name in options.extra:
            raise InvalidOption(f"--param {name}=... and a routing or reasoning option together both set "
                                f"`{name}`: give one")
    return fields


def _schema(options: CallOptions, params: Mapping[str, Any], variables: Mapping[str, Any]) -> SchemaSpec | None:
    """The resolved --schema, after refusing what cannot go with it."""
    if options.schema is None:
        return None
    flag = "--schema-multi" if options.schema_multi else "--schema"
    if options.choices:
        raise InvalidOption(f"--choices and {flag} together: --choices reads one token's probabilities, "
                            f"{flag} asks for a JSON answer; give one")
    if "response_format" in params or "response_format" in options.extra:
        raise InvalidOption(f"--response-format and {flag} together: {flag} sets response_format; give one")
    return resolve_schema(options.schema, variables, multi=options.schema_multi)


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
    executor = executor_for(settings, options.concurrency, progress, options.cache)  # for r.fork(), r.branches()
    from .store.cache import serve_from_cache
    from .store.runlog import recording

    hook = recording(settings, on_done)
    to_send = plan.runs
    if settings.cache if options.cache is None else options.cache:
        to_send = serve_from_cache(plan.runs, settings, hook)
    if options.max_cost is not None and to_send:
        notes += check_budget(to_send, options.max_cost, client_for(settings))
    if to_send:
        _announce(enforce(check_capabilities(to_send, client_for(settings)), options.strict))
    if len(plan.runs) > 1:
        from .run.parallel import run_concurrently

        if to_send:  # every run answered from the cache needs neither a key nor a connection
            ensure_key(settings.api_key_env, needed=settings.needs_key())
            notes += run_concurrently(settings, to_send, concurrency=options.concurrency,
                                      max_cost=options.max_cost, on_done=hook, progress=progress)
        return Result(plan.runs, plan.axes, notes, choices=options.choices, schema=plan.schema,
                      executor=executor, generations=generations_for(settings))
    try:
        if to_send:
            run_sequentially(client_for(settings), plan, hook, on_text)
    except StreamCancelled:
        notes.append(f"interrupted: kept the {len(plan.runs[0].text)} characters received (finish_reason 'cancelled')")
    runs = plan.runs
    result = Result(runs, plan.axes, notes, choices=options.choices, schema=plan.schema, executor=executor,
                    generations=generations_for(settings))
    if len(runs) == 1 and runs[0].error is not None:
        runs[0].error.result = result  # what came (partial text) stays reachable
        raise runs[0].error
    return result


def check_capabilities(runs: Sequence["Run"], client: "Client") -> list[str]:
    """The preflight's notes for these runs (run/preflight.py), from the catalogue kept per server."""
    from .wire.catalogue import provider_parameters, supported_parameters

    return preflight_notes(runs, supported_parameters(client), lambda model: provider_parameters(client, model))


def _announce(notes: list[str]) -> None:
    """Print preflight notes at once, before the request goes out (so a failure cannot hide them)."""
    import sys

    for note in notes:
        print(f"or_magic: note: {note}", file=sys.stderr, flush=True)


def generations_for(settings: Settings) -> "GenerationLookup":  # r.stats()'s GET /generation?id=
    return lambda gen_id: client_for(settings).get("/generation", params={"id": gen_id}).get("data") or {}


def executor_for(settings: Settings, concurrency: int | None = None, progress: bool = True,
                 cache: bool | None = None) -> "Executor":
    """What a Result uses to send the requests it plans itself (r.fork, r.branches): the runs are
    recorded in the history like any other, answered from the cache when the call used it, and
    sent one at a time or concurrently with a progress bar."""

    def execute_plan(plan: Plan) -> list[str]:
        from .store.cache import serve_from_cache
        from .store.runlog import recording

        hook = recording(settings, None)
        to_send = serve_from_cache(plan.runs, settings, hook) if (settings.cache if cache is None else cache) \
            else plan.runs
        if len(to_send) == 1:
            run_sequentially(client_for(settings), Plan(runs=to_send), hook)
            return []
        from .run.parallel import run_concurrently

        if not to_send:
            return []
        ensure_key(settings.api_key_env, needed=settings.needs_key())
        return run_concurrently(settings, to_send, concurrency=concurrency, on_done=hook, progress=progress)

    return execute_plan


def models(search: str | None = None, settings: Settings | None = None) -> "pd.DataFrame":
    """The server's models as a DataFrame (prices in USD per million tokens), filtered by `search`."""
    import pandas as pd

    data = client_for(settings or Settings()).get("/models").get("data") or []
    from .wire.catalogue import MODEL_COLUMNS, model_rows

    return pd.DataFrame(model_rows(data, search), columns=MODEL_COLUMNS)


def endpoints(model: str, settings: Settings | None = None) -> "pd.DataFrame":
    """`model`'s providers on OpenRouter: quantization, prices per million, status, supported parameters."""
    import pandas as pd

    from .wire.catalogue import ENDPOINT_COLUMNS, endpoint_list, endpoint_rows, endpoints_path

    if "/" not in model:
        raise InvalidOption(f"endpoints {model!r}: give a model id as author/slug, e.g. openai/gpt-4o-mini")
    answer = client_for(settings or Settings()).get(endpoints_path(model))
    return pd.DataFrame(endpoint_rows(endpoint_list(answer)), columns=ENDPOINT_COLUMNS)


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
