"""The server's catalogue and the key: `models()` and `key_info()`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..core.errors import APIError, InvalidOption
from ..core.settings import Settings
from .calls import client_for

if TYPE_CHECKING:
    import pandas as pd


def models(search: str | None = None, settings: Settings | None = None) -> "pd.DataFrame":
    """The server's models as a DataFrame (prices in USD per million tokens), filtered by `search`."""
    import pandas as pd

    from ..wire.catalogue import MODEL_COLUMNS, model_rows

    data = client_for(settings or Settings()).get("/models").get("data") or []
    return pd.DataFrame(model_rows(data, search), columns=MODEL_COLUMNS)


def endpoints(model: str, settings: Settings | None = None) -> "pd.DataFrame":
    """`model`'s providers on OpenRouter: quantization, prices per million, status, supported parameters."""
    import pandas as pd

    from ..wire.catalogue import (
        ENDPOINT_COLUMNS,
        endpoint_list,
        endpoint_rows,
        endpoints_path,
    )

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
