"""What a server says its models support: GET /models (each model's `supported_parameters`, the union
over its providers) and GET /models/{author}/{slug}/endpoints (each provider's own list).

Both are kept per base URL for CATALOGUE_SECONDS, so a loop of calls (or a notebook re-run) asks
once; the preflight (run/preflight.py) compares a call with them and the budget (run/budget.py)
reads prices from the same listing.  For the preflight a server without these endpoints (llama.cpp,
vLLM) or any failure gives "nothing known" ({} / None): a preflight must never cost the user the answer.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from ..core.coerce import to_float

CATALOGUE_SECONDS = 600.0  # OpenRouter's /models is large; a labelling loop should not fetch it every call
_catalogues: dict[Any, tuple[float, dict[str, Any]]] = {}
_endpoints: dict[tuple[Any, str], tuple[float, dict[str, list[str]] | None]] = {}
_supported: dict[Any, tuple[dict[str, Any], dict[str, Any]]] = {}  # per server: (listing, its supported_parameters)


def _where(client: Any) -> Any:
    return getattr(client, "base_url", id(client))


def _fresh(kept: tuple[float, Any] | None) -> bool:
    return kept is not None and time.monotonic() - kept[0] < CATALOGUE_SECONDS


def listing(client: Any) -> dict[str, dict[str, Any]]:
    """Model id → its /models object (prices, limits, supported_parameters); raises what the request
    raised.  The budget (run/budget.py) and the preflight share it: one request per server."""
    kept = _catalogues.get(_where(client))
    if kept is not None and _fresh(kept):
        return kept[1]
    data = client.get("/models").get("data") or []
    listed = {m["id"]: m for m in data if isinstance(m, dict) and "id" in m}
    _catalogues[_where(client)] = (time.monotonic(), listed)
    return listed


def supported_parameters(client: Any) -> dict[str, Any]:
    """Model id → its `supported_parameters` (a list, or None when the entry has none); {} when the
    server has no catalogue."""
    try:
        listed = listing(client)
    except Exception:  # a preflight must never cost the user the answer
        # Kept as empty: a server without /models is not asked again on every cell.
        _catalogues[_where(client)] = (time.monotonic(), {})
        return {}
    kept = _supported.get(_where(client))
    if kept is not None and kept[0] is listed:  # asked before every call: made once per listing
        return kept[1]
    found = {model_id: m.get("supported_parameters") for model_id, m in listed.items()}
    _supported[_where(client)] = (listed, found)
    return found


def endpoints_path(model: str) -> str:
    """GET path of a model's per-provider list: /models/{author}/{slug}/endpoints."""
    author, _, slug = model.partition("/")
    return f"/models/{quote(author)}/{quote(slug, safe=':')}/endpoints"


def endpoint_list(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The provider entries of a GET .../endpoints answer."""
    data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
    return [e for e in data.get("endpoints") or () if isinstance(e, dict)]


def provider_parameters(client: Any, model: str) -> dict[str, list[str]] | None:
    """Provider name → the parameters that provider lists for `model`, or None when unknown."""
    key = (_where(client), model)
    kept = _endpoints.get(key)
    if kept is not None and _fresh(kept):
        return kept[1]
    found: dict[str, list[str]] | None = None
    if "/" in model:
        try:
            found = {str(e.get("provider_name")): list(e.get("supported_parameters") or [])
                     for e in endpoint_list(client.get(endpoints_path(model)))} or None
        except Exception:  # as for /models: nothing known, no note
            found = None
    _endpoints[key] = (time.monotonic(), found)
    return found


ENDPOINT_COLUMNS = ["provider", "quantization", "context_length", "prompt_per_m", "completion_per_m",
                    "max_completion_tokens", "status", "uptime_last_30m", "supported_parameters"]


def endpoint_rows(endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`%openrouter endpoints MODEL` rows: one per provider, prices in USD per million tokens."""
    rows = []
    for e in endpoints:
        pricing = e.get("pricing") if isinstance(e.get("pricing"), dict) else {}
        rows.append({"provider": e.get("provider_name"), "quantization": e.get("quantization"),
                     "context_length": e.get("context_length"), "prompt_per_m": _per_million(pricing.get("prompt")),
                     "completion_per_m": _per_million(pricing.get("completion")),
                     "max_completion_tokens": e.get("max_completion_tokens"), "status": e.get("status"),
                     "uptime_last_30m": e.get("uptime_last_30m"),
                     "supported_parameters": list(e.get("supported_parameters") or [])})
    return rows


def forget() -> None:
    """Drop what is kept (a test, or a user who changed the server's models)."""
    _catalogues.clear()
    _endpoints.clear()


MODEL_COLUMNS = ["id", "name", "context_length", "prompt_per_m", "completion_per_m", "supported_parameters"]


def model_rows(data: list[Any], search: str | None) -> list[dict[str, Any]]:
    """`%openrouter models` rows (prices in USD per million tokens) of the entries matching `search`."""
    return [_model_row(m) for m in data if isinstance(m, dict) and _matches(m, search)]


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
