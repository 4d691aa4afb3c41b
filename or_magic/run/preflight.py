"""The capability preflight: which parameters a call uses that its models (or pinned providers) do not
list, said before anything is sent.

OpenRouter drops a parameter the serving provider does not support, silently (OPENROUTER.md §9):
logprobs come back null, a seed is ignored.  This compares each run's body with what the catalogue
says (wire/catalogue.py fetches and keeps it; this module is pure) and gives one note per model and
parameter.  Nothing known (a server without /models, an entry without supported_parameters) means no
note: a local llama.cpp is not second-guessed.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..core.errors import InvalidOption
from .request import Run

# Body fields that are not among the names of `supported_parameters`.
_NOT_PARAMETERS = frozenset({"model", "models", "messages", "prompt", "stream", "stream_options", "provider",
                             "usage", "transforms", "route", "user"})
SCHEMA_NOTE = ("{model} does not list structured_outputs in its supported_parameters: the schema may be ignored; "
               "the answer is still checked against it (see schema_error)")
MISSING_NOTE = "{model}: no provider lists {param}; add --require-parameters to route only to providers that do"
MISSING_REQUIRED_NOTE = ("{model}: no provider lists {param}, so --require-parameters leaves none to route to; "
                         "drop {param} or choose another model")
PARTIAL_NOTE = "{model}: {param} is not listed by {providers}; add --require-parameters to route only to providers that do"
PINNED_NOTE = "{model}: pinned provider {provider} does not list {param}: it will be ignored there"
PINNED_REQUIRED_NOTE = ("{model}: pinned provider {provider} does not list {param}, so --require-parameters "
                        "rules it out (the request fails when no pinned provider is left)")

ProviderLookup = Callable[[str], "Mapping[str, list[str]] | None"]


def used_parameters(body: Mapping[str, Any]) -> list[str]:
    """The `supported_parameters` names a request body uses, in body order.  A json_schema
    response_format asks for `structured_outputs` as well."""
    used = [k for k, v in body.items() if k not in _NOT_PARAMETERS and v is not None and v is not False]
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        used.append("structured_outputs")
    return used


def _pinned(body: Mapping[str, Any]) -> list[str]:
    """Providers a body pins (provider.order without fallbacks)."""
    prefs = body.get("provider") if isinstance(body.get("provider"), dict) else {}
    if prefs.get("allow_fallbacks") is not False:
        return []
    return [str(p) for p in prefs.get("order") or ()]


def _required(body: Mapping[str, Any]) -> bool:
    prefs = body.get("provider")
    return isinstance(prefs, dict) and prefs.get("require_parameters") is True


# Parameters whose silent loss makes a result misleading (no logprobs, a seed that did nothing): for
# these the per-provider lists are looked up even when routing is not pinned.
WATCHED = frozenset({"seed", "logprobs", "top_logprobs"})


def preflight_notes(runs: Iterable[Run], listed: Mapping[str, Any],
                    providers: ProviderLookup | None = None) -> list[str]:
    """One note per (model, parameter[, provider]) the catalogue says will not be served, in run order.

    `listed` is model id → supported_parameters (wire/catalogue.supported_parameters).  `providers`
    looks up one model's per-provider lists; it is asked only for runs that pin providers, or that use
    a WATCHED parameter without --require-parameters (the first time costs a request; then it is kept)."""
    notes: dict[tuple[str, ...], str] = {}
    for run in runs:
        body, model = run.spec.body(), run.spec.model
        supported = listed.get(model)
        if not isinstance(supported, list):
            continue  # nothing known: no note
        for param in used_parameters(body):
            if param not in supported:
                template = SCHEMA_NOTE if param == "structured_outputs" else (
                    MISSING_REQUIRED_NOTE if _required(body) else MISSING_NOTE)
                notes.setdefault((model, param), template.format(model=model, param=param))
            elif providers is not None and (_pinned(body) or (param in WATCHED and not _required(body))):
                notes.update(_provider_notes(model, param, _pinned(body), providers(model) or {},
                                             PINNED_REQUIRED_NOTE if _required(body) else PINNED_NOTE))
    return list(notes.values())


def _provider_notes(model: str, param: str, pinned: list[str], by_provider: Mapping[str, list[str]],
                    pinned_note: str) -> dict[tuple[str, ...], str]:
    lacking = [name for name, params in by_provider.items() if param not in params]
    if pinned:
        return {(model, param, name): pinned_note.format(model=model, provider=name, param=param)
                for name in pinned if name.lower() in {n.lower() for n in lacking}}
    if lacking and len(lacking) < len(by_provider):
        return {(model, param): PARTIAL_NOTE.format(model=model, param=param, providers=", ".join(lacking))}
    return {}


def enforce(notes: list[str], strict: bool) -> list[str]:
    """--strict: the notes become one error, before anything is sent."""
    if strict and notes:
        more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
        raise InvalidOption(f"--strict: {notes[0]}{more}")
    return notes
