"""`--rate`: a cap on how fast a sweep's requests leave, shared by all its concurrent workers.

The rate is written `N/min` or `N/s` (README "Sweeps"); `parse_rate` is the one place that reads
it, for the magic line, `CallOptions.check()` and `complete(rate=...)`, and it returns requests
per second.  `Pacer` spaces request starts at least 1/rate apart on the sweep's event loop:
smooth spacing (20/min is one request every 3 s, not 20 at once and a minute's wait), the first
at once.  `paced` puts it in front of every attempt the sweep's AsyncClient makes, retries
included, so what reaches the server never exceeds the rate.  The time a run waits for its slot
is queueing, not the request's: `queued_time` measures it, so a run's latency leaves it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import re
from typing import Any, AsyncIterator, Iterator

from ..core.errors import InvalidOption

UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0}  # name → seconds
FORMS = "e.g. --rate 20/min or --rate 5/s"
_RATE = re.compile(r"\s*([^/\s]+)\s*/\s*([A-Za-z]+)\s*")
# Seconds the current task has waited for rate slots inside `queued_time()` (a one-item list).
_QUEUED: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("or_magic_queued", default=None)


@contextlib.contextmanager
def queued_time() -> Iterator[list[float]]:
    """Collect, in `box[0]`, the seconds this task spends waiting for its rate slots in the block."""
    box = [0.0]
    token = _QUEUED.set(box)
    try:
        yield box
    finally:
        _QUEUED.reset(token)


def parse_rate(value: Any) -> float:
    """Requests per second from `N/min` or `N/s` text (also `/sec`, `/second`, `/minute`), or from
    a Python number, which is requests per second.  Text without a unit is refused: `--rate 20`
    could mean 20 a minute (OpenRouter's free models) or 20 a second."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidOption(f"--rate {value!r}: give requests per minute or per second as text, {FORMS}")
    if isinstance(value, str):
        match = _RATE.fullmatch(value)
        if match is None:
            hint = "give the unit" if _number(value.strip()) is not None else "not a rate"
            raise InvalidOption(f"--rate {value}: {hint}, {FORMS}")
        count, unit = match.groups()
        seconds = UNITS.get(unit.lower())
        number = _number(count)
        if seconds is None or number is None:
            raise InvalidOption(f"--rate {value}: not a rate ({'/'.join(UNITS)} are the units), {FORMS}")
        per_second = number / seconds
    else:
        value, per_second = f"{value!r} (per second)", float(value)
    if math.isnan(per_second) or math.isinf(per_second):
        raise InvalidOption(f"--rate {value}: must be a finite number of requests, {FORMS}")
    if not per_second > 0:
        raise InvalidOption(f"--rate {value}: must be more than 0 requests, {FORMS}")
    return per_second


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class Pacer:
    """Request starts at least `1 / rate` seconds apart, for every coroutine of one event loop.

    Each `wait()` books the next free start time and sleeps until it: the bookings are first come,
    first served (asyncio runs one coroutine at a time, so no lock is needed), and a cancelled
    waiter only leaves a gap, never lets two requests through together."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next: float | None = None  # the earliest start time not yet booked

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        start = now if self._next is None else max(now, self._next)
        self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)
            box = _QUEUED.get()
            if box is not None:
                box[0] += start - now


class Paced:
    """A sweep's throttle (parallel.Throttle) with a `Pacer` in front of each attempt.

    AsyncClient enters `throttle.attempt()` around every attempt it sends, retries of a 429 or a
    5xx included, so pacing there counts every request that leaves, not only each run's first;
    and it waits inside the throttle, after any Retry-After wait a 429 imposed, so the booked
    start is when the request really goes (a 429 still slows the sweep down as before)."""

    def __init__(self, throttle: Any, rate: float) -> None:
        self.throttle, self.pacer = throttle, Pacer(rate)

    @contextlib.asynccontextmanager
    async def attempt(self) -> AsyncIterator[Any]:
        async with self.throttle.attempt() as seen:
            await self.pacer.wait()
            yield seen


def paced(throttle: Any, rate: float | None) -> Any:
    """`throttle` itself without a rate (no cost on the usual path), else paced at `rate` per second."""
    return throttle if rate is None else Paced(throttle, rate)
