"""One call from Python: check it, plan its runs, send them, record each, collect a Result.

Clients are pooled per settings (a few at most, see wire/pool.py), so a loop of `complete()`
calls reuses one connection.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..analysis.choices import choice_params, parse_labels
from ..analysis.result import Result
from ..core.errors import ConfigError, InvalidOption, ORMagicError
from ..core.params import CHAT
from ..core.secrets import ensure_key
from ..core.settings import Settings
from ..run.budget import check_budget
from ..run.call import CallOptions, routing_options
from ..run.conversation import Conversation, Slot
from ..run.grid import (
    check_grid_size,
    grid_size,
    plan_over_vars,
    python_values,
    resolve_vars,
)
from ..run.preflight import enforce, preflight_notes
from ..run.request import Plan, Run
from ..run.runner import RunHook, plan_runs, run_sequentially
from ..run.turns import close_slot, open_slot, shorten_after_refusal
from ..wire.catalogue import listing
from ..wire.pool import ClientPool
from ..wire.stream import StreamCancelled, TextHook
from .checks import check_extra, check_sendable, checked_schema, routed_fields

if TYPE_CHECKING:
    from ..analysis.generation import GenerationLookup
    from ..run.fork import Executor
    from ..wire.client import Client

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
             progress: bool = True, schema: Any = None, schema_multi: Any = None, chat: str | None = None,
             continue_from: int | None = None, max_history: int | None = None, cell: str | None = None,
             resume: bool | str = False, rate: str | float | None = None, **params: Any) -> Result:
    """Send `prompt` to `model` with sampling `params` (wire names: temperature, top_p, seed, ...).

    A list (or range) for a parameter or for `model` makes a sweep, as does `samples` > 1 or
    `sweep_vars={"topic": ["a", "b"]}` (a template variable as an axis).  Sweeps run
    `concurrency` requests at once; `max_cost` (USD) caps them; `rate="20/min"` (or `"5/s"`, or a
    number of requests per second) spaces their starts, retries included (a single run ignores it).  `{name}` fields in the prompt
    are filled from `variables`.  A single failed run raises; in a sweep, failed runs are rows.
    A single streamed run (`stream=True`, the default) calls `on_text(piece)` as text arrives.
    `cache=True` answers a repeated request that has a seed or temperature 0 from the history.
    `choices=["yes", "no"]` classifies by the first token's logprobs (see `Result.choices`).
    `schema=` (a concise field list, JSON schema text or dict, @file.json, or a pydantic model class)
    asks for JSON that fits it and parses the answer (`Result.data`, typed `.df` columns);
    `schema_multi=` the same for a list of such objects (`Result.items`).
    `chat="NAME"` makes it the next turn of that conversation (see `chat()`), `continue_from=RUN_ID`
    starts the conversation from a recorded answer, `max_history=N` sends at most N earlier turns.
    `resume=True` (or a sweep id) sends only the runs of the same recorded sweep that have no
    successful row and returns them all, old and new (api/resuming.py); `resume="auto"` does so
    when such a sweep exists and runs the sweep afresh otherwise.
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
        schema=schema if schema_multi is None else schema_multi, schema_multi=schema_multi is not None,
        chat=chat, continue_from=continue_from, max_history=max_history, cell=cell, resume=resume,
        rate=rate).check()
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


def prepare(prompt: str, options: CallOptions, settings: Settings, variables: Mapping[str, Any],
            slot: Slot | None = None) -> tuple[Plan, list[str]]:
    """Check everything and plan the runs, sending nothing.  Returns the plan and notes.
    In a conversation (`slot`), every run is sent the slot's system message and earlier turns."""
    problem = settings.base_url_problem()
    if problem:
        raise ConfigError(problem)
    settings.api_key()  # a key that cannot be sent is a ConfigError now, not a failed run
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
    schema = checked_schema(options, params, variables)
    extra = {**options.extra, "response_format": schema.response_format()} if schema else options.extra
    extra = {**extra, **routed_fields(options)}
    provider_extras = {name: {**extra, **routing.body_fields(pinned=name)} for name in routing.providers} \
        if routing.sweep_providers else None

    def plan_for(text: str) -> Plan:
        return plan_runs(text, models, params, system=slot.system if slot else options.system,
                         endpoint=options.endpoint, stream=stream, samples=options.samples, extra=extra,
                         completions_models=settings.completions_models, context=slot.messages() if slot else (),
                         provider_extras=provider_extras)

    check_extra(options.extra)
    check_sendable(prompt, options, var_items)
    plan, missing = plan_over_vars(prompt, variables, var_items, plan_for)
    filled = set(plan.prompts) - {prompt}  # the cell text itself was checked above
    if filled:
        check_sendable(None, options, {"the prompt": sorted(filled)})
    plan.schema, plan.var_items = schema, var_items
    if slot is not None:
        for run in plan.runs:
            if run.spec.endpoint != CHAT:
                raise InvalidOption(f"--chat: {run.spec.model} is sent to /completions, which has no turns; "
                                    "use a chat model or --endpoint chat")
            run.chat = slot.record_fields()
    notes = [f"{{{name}}} is not defined, so it was sent as written (use {{{{{name}}}}} to keep it on purpose)"
             for name in missing]
    return plan, notes


def run_call(prompt: str, options: CallOptions, settings: Settings, variables: Mapping[str, Any],
             on_done: RunHook | None = None, on_text: TextHook | None = None, progress: bool = True) -> Result:
    """Plan, run, and collect a call; raises the error of a call that was a single failed run.

    Every run, failed or not, is recorded in the history (unless `settings.history` is off)
    before `on_done` sees it and before anything is displayed.  A single streamed run calls
    `on_text` with each new piece of text; if it is interrupted, the partial result
    (finish_reason "cancelled") is returned.  Several runs go concurrently (parallel.py), never
    call `on_text`, and never raise for a failed or skipped run.
    """
    slot, notes = _slot(prompt, options, settings)
    plan, more = prepare(prompt, options, settings, variables, slot)
    notes += more
    executor = executor_for(settings, options.concurrency, progress, options.cache, options.rate)  # r.fork(), r.branches()
    from ..store.cache import serve_from_cache
    from ..store.recording import recorder, recording
    from .resuming import begin_sweep, resume_hint

    to_send, sweep_id, sweep_notes = begin_sweep(prompt, options, settings, variables, plan)  # before any request
    notes += sweep_notes
    record = recorder(settings)
    hook = recording(settings, on_done, record)
    if to_send and (settings.cache if options.cache is None else options.cache):
        to_send, cache_notes = serve_from_cache(to_send, settings, hook)
        notes += cache_notes
    client = client_for(settings) if to_send else None  # one pool lookup (and key check) per call
    if options.max_cost is not None and client is not None:
        notes += check_budget(to_send, options.max_cost, client, options.yes)
    if client is not None:
        _announce(enforce(check_capabilities(to_send, client), options.strict))
    if len(plan.runs) > 1:
        notes += resume_hint(send_concurrently(settings, to_send, recorder(settings, batched=True),
                                               concurrency=options.concurrency, max_cost=options.max_cost,
                                               on_done=on_done, progress=progress, rate=options.rate), sweep_id)
        close_slot(slot, plan.runs, notes)
        swept = Result(plan.runs, plan.axes, notes + cut_notes(plan.runs), choices=options.choices,
                       schema=plan.schema, executor=executor, slot=slot, generations=generations_for(settings))
        swept.sweep_id = sweep_id
        return swept
    try:
        if client is not None:
            run_sequentially(client, plan, hook, on_text)
            # a conversation the estimate let through but the server found too long: fewer turns
            while (retry := shorten_after_refusal(slot, plan.runs[0])) is not None:
                notes.append(retry)
                plan = prepare(prompt, options, settings, variables, slot)[0]
                run_sequentially(client_for(settings), plan, hook, on_text)
    except StreamCancelled:
        notes.append(f"interrupted: kept the {len(plan.runs[0].text)} characters received (finish_reason 'cancelled')")
    runs = plan.runs
    close_slot(slot, runs, notes)
    result = Result(runs, plan.axes, notes + cut_notes(runs), choices=options.choices, schema=plan.schema,
                    executor=executor, slot=slot, generations=generations_for(settings))
    if len(runs) == 1 and runs[0].error is not None:
        runs[0].error.result = result  # what came (partial text) stays reachable
        raise runs[0].error
    return result


def cut_notes(runs: Sequence[Run]) -> list[str]:
    """A note when answers stopped at a token limit the user did not set (finish_reason "length"
    with no max_tokens sent): the model's or provider's own limit cut them.  A cut at the user's
    own --max-tokens is what was asked for, and the finish_reason column shows it."""
    cut = sum(1 for r in runs if r.completion is not None and r.completion.finish_reason == "length"
              and not any(r.spec.sets(name) for name in ("max_tokens", "max_completion_tokens")))
    if not cut:
        return []
    which = "the answer was" if len(runs) == 1 else f"{cut} of {len(runs)} answers were"
    return [f"{which} cut at the model's token limit (finish_reason 'length'); set --max-tokens higher "
            "for the whole answer"]


def check_capabilities(runs: Sequence[Run], client: "Client") -> list[str]:
    """The preflight's notes for these runs (run/preflight.py), from the catalogue kept per server."""
    from ..wire.catalogue import provider_parameters, supported_parameters

    return preflight_notes(runs, supported_parameters(client), lambda model: provider_parameters(client, model))


def _announce(notes: list[str]) -> None:
    """Print preflight notes at once, before the request goes out (so a failure cannot hide them)."""
    for note in notes:
        print(f"or_magic: note: {note}", file=sys.stderr, flush=True)


def generations_for(settings: Settings) -> "GenerationLookup":  # r.stats()'s GET /generation?id=
    return lambda gen_id: client_for(settings).get("/generation", params={"id": gen_id}).get("data") or {}


def executor_for(settings: Settings, concurrency: int | None = None, progress: bool = True,
                 cache: bool | None = None, rate: float | None = None) -> "Executor":
    """What a Result uses to send the requests it plans itself (r.fork, r.branches): the runs are
    recorded in the history like any other, answered from the cache when the call used it, and
    sent one at a time or concurrently with a progress bar."""

    def execute_plan(plan: Plan) -> list[str]:
        from ..store.cache import serve_from_cache
        from ..store.recording import recorder

        record = recorder(settings)
        notes: list[str] = []
        to_send = plan.runs
        if settings.cache if cache is None else cache:
            to_send, notes = serve_from_cache(plan.runs, settings, record)
        if len(to_send) == 1:
            run_sequentially(client_for(settings), Plan(runs=to_send), record)
            return notes
        return notes + send_concurrently(settings, to_send, recorder(settings, batched=True), concurrency=concurrency,
                                         progress=progress, rate=rate)

    return execute_plan


def send_concurrently(settings: Settings, runs: Sequence[Run], record: RunHook | None, *,
                      concurrency: int | None = None, max_cost: float | None = None,
                      on_done: RunHook | None = None, progress: bool = True, rate: float | None = None) -> list[str]:
    """Send several runs at once (parallel.py), each recorded as it finishes, their starts at most
    `rate` a second (None: no cap); returns the notes.
    Runs all answered from the cache need neither a key nor a connection."""
    if not runs:
        return []
    from ..run.parallel import run_concurrently

    ensure_key(settings.api_key_env, needed=settings.needs_key())
    return run_concurrently(settings, runs, concurrency=concurrency, max_cost=max_cost, on_done=on_done,
                            progress=progress, record=record, rate=rate)


# --- conversations (run/conversation.py; the magic's --chat cells share them) ------------------
def load_conversation(run_id: int, name: str, settings: Settings) -> Conversation:
    """The conversation that led to recorded run `run_id`, read back from the history."""
    from ..store.chatlog import load_conversation as load

    return load(run_id, name, settings)


def _slot(prompt: str, options: CallOptions, settings: Settings) -> tuple[Slot | None, list[str]]:
    return open_slot(prompt, options, settings.model,
                     load=lambda run_id, name: load_conversation(run_id, name, settings),
                     catalogue=lambda: listing(client_for(settings)))
