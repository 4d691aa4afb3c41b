"""The server's catalogue and the key: `models()` and `key_info()`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..core.coerce import to_float
from ..core.errors import APIError
from ..core.settings import Settings
from .calls import client_for

if TYPE_CHECKING:
    import pandas as pd


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
