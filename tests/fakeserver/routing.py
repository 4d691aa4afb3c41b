"""Provider routing and model fallbacks of the fake server, as OpenRouter does them (OPENROUTER.md §9).

A request's ``provider`` object filters and orders the model's endpoints (catalog.endpoints):
``ignore``, ``data_collection``, ``quantizations``, ``max_price``, ``require_parameters`` (only endpoints listing every
parameter the body uses), then ``order`` first (only those when ``allow_fallbacks`` is false), else
``sort``.  Nothing left fails with OpenRouter's 404.  A ``models`` list falls back past a model that
fails (``test/error-*``) to the next one; the answer then names the model that served it.
"""
from __future__ import annotations

from tests.fakeserver import catalog as catalog
from tests.fakeserver.faults import error_body, fault_for_model

# Body fields that are not parameters a provider supports or not.
_NOT_PARAMETERS = {"model", "models", "messages", "prompt", "stream", "stream_options", "provider",
                   "usage", "transforms", "route", "user", "fake_usage_style"}
NO_ENDPOINTS = "No endpoints found that can handle the requested parameters."
NOT_ALLOWED = "No allowed providers are available for the selected model."


class RoutingError(Exception):
    """No endpoint fits: carries OpenRouter's status and body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.body = status, error_body(status, message)


def used_parameters(body: dict) -> set[str]:
    """The supported_parameters names this body uses (a json_schema asks for structured_outputs)."""
    used = {k for k, v in body.items() if k not in _NOT_PARAMETERS and v is not None}
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        used.add("structured_outputs")
    return used


def serving_model(body: dict) -> str | None:
    """The model that answers: ``model``, or the first of ``models`` that does not fail."""
    model = body.get("model")
    fallbacks = body.get("models")
    if not isinstance(fallbacks, list) or not fallbacks:
        return model if isinstance(model, str) else None
    for candidate in dict.fromkeys(([model] if isinstance(model, str) else []) + fallbacks):
        if isinstance(candidate, str) and catalog.lookup(candidate) and fault_for_model(candidate) is None:
            return candidate
    return None


def choose_endpoint(model: str, entry: dict, body: dict) -> dict:
    """The endpoint (provider) that serves this body, or RoutingError."""
    prefs = body.get("provider") if isinstance(body.get("provider"), dict) else {}
    found = list(catalog.endpoints(model, entry))
    ignore = {str(n).lower() for n in prefs.get("ignore") or ()}
    found = [e for e in found if e["provider_name"].lower() not in ignore]
    if prefs.get("data_collection") == "deny":
        found = [e for e in found if not e.get("collects_data")]
    if prefs.get("quantizations"):
        found = [e for e in found if e["quantization"] in prefs["quantizations"]]
    price = prefs.get("max_price") if isinstance(prefs.get("max_price"), dict) else {}
    for i, side in enumerate(("prompt", "completion")):
        if price.get(side) is not None:  # USD per million tokens
            found = [e for e in found if float(e["price"][i]) * 1e6 <= float(price[side])]
    if prefs.get("require_parameters") is True:
        need = used_parameters(body)
        found = [e for e in found if need <= set(e["supported_parameters"])]
    order = [str(n).lower() for n in prefs.get("order") or ()]
    if order:
        pinned = sorted((e for e in found if e["provider_name"].lower() in order),
                        key=lambda e: order.index(e["provider_name"].lower()))
        rest = [] if prefs.get("allow_fallbacks") is False else [e for e in found if e not in pinned]
        found = pinned + rest
    elif prefs.get("sort") in ("price", "throughput", "latency"):
        key = {"price": lambda e: float(e["price"][0]) + float(e["price"][1]),
               "throughput": lambda e: -e["throughput"], "latency": lambda e: e["latency"]}[prefs["sort"]]
        found.sort(key=key)
    if not found:
        if prefs.get("require_parameters") is True:
            raise RoutingError(404, NO_ENDPOINTS)
        raise RoutingError(404, NOT_ALLOWED)
    return found[0]
