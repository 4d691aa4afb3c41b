"""When to retry a failed request, and how long to wait first.  Pure functions, no I/O.

Follows OpenRouter's documentation and the openai SDK: retry 408, 429 and the 5xx family
(plus availability errors that say they are retryable); never 400/401/402/403/404/413/422;
never a free-tier daily cap (waiting minutes would not help: it resets at 00:00 UTC).
The server's own hint wins: `retry-after-ms`, `Retry-After` (seconds or an HTTP date), then
`X-RateLimit-Reset` (epoch milliseconds); otherwise exponential backoff with jitter.
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import Any, Mapping

from ..core.coerce import to_float

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 524, 529})
FREE_TIER_DAILY = "openrouter_free_tier_daily"
BACKOFF_BASE = 0.5  # seconds before the first retry
BACKOFF_MAX = 8.0
MAX_SERVER_WAIT = 60.0  # a server asking for longer than this is not waited for


def is_daily_cap(error: Mapping[str, Any]) -> bool:
    meta = error.get("metadata") or {}
    return isinstance(meta, Mapping) and meta.get("limit_source") == FREE_TIER_DAILY


def daily_cap_hint(error: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> str | None:
    """For a free-tier daily cap: when it resets (from X-RateLimit-Reset, epoch ms) and what helps."""
    if not is_daily_cap(error):
        return None
    meta = error.get("metadata") or {}
    sources = [headers or {}, meta.get("headers") if isinstance(meta.get("headers"), Mapping) else {}]
    reset_ms = next((to_float(v) for src in sources for k, v in src.items()
                     if k.lower() == "x-ratelimit-reset" and to_float(v)), None)
    when = "at 00:00 UTC"
    if reset_ms:
        try:
            when = time.strftime("at %Y-%m-%d %H:%M UTC", time.gmtime(reset_ms / 1000))
        except (OverflowError, OSError, ValueError):
            pass
    return (f"the free-model daily cap resets {when}; not retried — use a paid model, or add "
            "10 credits to raise the cap to 1000 requests a day")


def should_retry(status: int | None, error: Mapping[str, Any] | None = None) -> bool:
    """Whether a failure with this status and error body is worth another attempt."""
    error = error or {}
    if is_daily_cap(error):
        return False
    availability = error.get("availability")
    if isinstance(availability, Mapping) and availability.get("retryable") is not None:
        return bool(availability["retryable"])
    return status in RETRY_STATUSES


def server_delay(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the server asked for, in seconds, or None when it gave no usable hint."""
    now = time.time() if now is None else now
    lower = {k.lower(): v for k, v in headers.items()}
    candidates = []
    if "retry-after-ms" in lower:
        candidates.append(_scaled(lower["retry-after-ms"], 0.001))
    if "retry-after" in lower:
        value = lower["retry-after"]
        seconds = to_float(value)
        if seconds is None:
            seconds = _http_date(value, now)
        candidates.append(seconds)
    if "x-ratelimit-reset" in lower:
        reset_ms = to_float(lower["x-ratelimit-reset"])
        candidates.append(reset_ms / 1000 - now if reset_ms else None)
    for seconds in candidates:
        if seconds is not None:
            return max(0.0, seconds)
    return None


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter for retry number `attempt` (0-based)."""
    rng = rng or random
    return min(BACKOFF_BASE * 2**attempt, BACKOFF_MAX) * (1 - 0.25 * rng.random())


def retry_delay(attempt: int, headers: Mapping[str, str], error: Mapping[str, Any] | None = None) -> float | None:
    """Seconds to wait before retry `attempt`, or None when the wait asked for is too long."""
    asked = server_delay(headers)
    availability = (error or {}).get("availability")
    if asked is None and isinstance(availability, Mapping):
        asked = to_float(availability.get("retry_after"))
    if asked is None:
        return backoff_delay(attempt)
    return asked if asked <= MAX_SERVER_WAIT else None


def _scaled(value: Any, scale: float) -> float | None:
    number = to_float(value)
    return None if number is None else number * scale


def _http_date(value: str, now: float) -> float | None:
    """Seconds until an HTTP date such as `Wed, 21 Oct 2026 07:28:00 GMT`; None for anything else."""
    if not any(ch.isalpha() for ch in value):
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, OverflowError, IndexError):  # a broken proxy's header
        return None
