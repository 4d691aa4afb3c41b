"""Running a sweep's runs concurrently, at most `concurrency` in flight, on httpx's AsyncClient.

The event loop runs in a worker thread: a Jupyter kernel already runs an asyncio loop in the
main thread (so `asyncio.run` would fail there), and a thread works the same in a kernel, a
terminal IPython and plain Python.  It is one loop for every sweep of the process, and a sweep's
client stays open on it for the next sweep (sweeploop.py).  The calling thread waits on a queue of finished
runs and does everything user-facing itself: progress updates, `on_done` hooks, and catching
KeyboardInterrupt (the kernel's interrupt), which cancels the runs in flight and keeps the
finished ones.

Rate limits slow the sweep down instead of failing rows: a 429 is retried up to
`RATE_LIMIT_RETRIES` times honouring Retry-After, and after one, requests go one at a time
until one gets through (`Throttle`).  `--rate` (rate.py) spaces every request's start.
With `--max-cost`, no new run starts once the summed `usage.cost` of finished runs reaches it;
the runs not launched become rows whose error says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Sequence

from ..core.errors import RunSkipped
from ..core.settings import Settings
from . import sweeploop
from .budget import Budget
from .progress import Progress, make_progress
from .rate import paced
from .request import Run
from .runner import RunHook, execute_async

RATE_LIMIT_RETRIES = 12  # per request, for 429s in a sweep (other failures: settings.max_retries)
PROBE_GAP = 0.05  # seconds; the least wait between requests while a sweep is rate limited (Throttle)
WAIT_SLICE = 0.2  # seconds; the waiting thread wakes this often (interrupts, progress)
# Finished runs are recorded (one transaction) and handed to the waiting thread in batches: at
# most FLUSH_ROWS runs, or what finished in FLUSH_SECONDS, whichever comes first (README, History).
FLUSH_ROWS = 256
FLUSH_SECONDS = 0.25
_DONE = object()


class Throttle:
    """Slows a sweep down on rate limits instead of failing it.

    After a 429, requests go one at a time, each after the wait the server asked for, until one
    gets through; then the full concurrency resumes.  So a storm of 429s is absorbed by waiting,
    spread fairly over the runs (the probe lock is first come, first served).
    """

    def __init__(self) -> None:
        self.limited = False
        self.until = 0.0
        self._probe: asyncio.Lock | None = None

    @contextlib.asynccontextmanager
    async def attempt(self) -> AsyncIterator[Any]:
        seen = _Seen()
        if not self.limited:
            yield seen
            self._learn(seen)
            return
        self._probe = self._probe or asyncio.Lock()
        async with self._probe:
            while (left := self.until - time.monotonic()) > 0:
                await asyncio.sleep(left)
            yield seen
            self._learn(seen)

    def _learn(self, seen: "_Seen") -> None:
        if seen.status == 429:
            self.limited = True
            # At least PROBE_GAP between probes, even when the server says "retry after 0": the
            # requests that were already in flight come back meanwhile and queue for the probe,
            # so the storm is shared by every waiting run instead of eating one run's retries.
            self.until = max(self.until, time.monotonic() + max(seen.delay or 0.0, PROBE_GAP))
        elif seen.status is not None and seen.status < 400:
            self.limited = False


@dataclass
class _Seen:
    status: int | None = None
    delay: float | None = None


class _Control:
    """How the waiting thread reaches the loop: to cancel the sweep's task."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False
        self.lock = threading.Lock()

    def attach(self) -> None:
        with self.lock:
            self.loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
            if self.cancelled:
                self.task.cancel()  # type: ignore[union-attr]

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            if self.loop is not None and self.task is not None:
                try:
                    self.loop.call_soon_threadsafe(self.task.cancel)
                except RuntimeError:  # the loop has already finished: nothing left to cancel
                    pass


async def _sweep(settings: Settings, runs: Sequence[Run], concurrency: int, budget: Budget,
                 finished: "queue.SimpleQueue[Any]", control: _Control, record: RunHook | None,
                 rate: float | None = None) -> None:
    control.attach()
    async with sweeploop.sweep_loop.client(settings, concurrency) as pooled:
        # The throttle is this sweep's own; --rate spaces every attempt (run/rate.py).
        client = pooled.for_sweep(paced(Throttle(), rate), RATE_LIMIT_RETRIES)
        await _send_all(client, runs, concurrency, budget, _Batch(finished, record))


async def _send_all(client: Any, runs: Sequence[Run], concurrency: int, budget: Budget, batch: "_Batch") -> None:
    pending = iter(runs)  # shared by the workers; safe, they all run on this one loop

    async def worker() -> None:
        for run in pending:
            if budget.reached:
                run.error = RunSkipped(budget.why_skipped(), reason="budget")
            else:
                await execute_async(client, run)
                budget.add(run)
            batch.add(run)  # here, not on the waiting thread: an interrupt there cannot lose it

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(runs)))))
    finally:  # also when cancelled (an interrupt): every finished run is recorded and handed on
        batch.hand_over()


class _Batch:
    """Finished runs on their way from the loop to the waiting thread, recorded first.

    `record` sees each run as it finishes; a batched history (store/recording.py, with `flush`)
    commits them together when the batch is handed over: at FLUSH_ROWS runs, FLUSH_SECONDS
    after the first run of the batch finished, and at the sweep's end.  One commit and one
    wake-up of the waiting thread per batch instead of per run."""

    def __init__(self, finished: "queue.SimpleQueue[Any]", record: RunHook | None) -> None:
        self.finished, self.record = finished, record
        self.flush = getattr(record, "flush", None)
        self.runs: list[Run] = []
        self.timer: asyncio.TimerHandle | None = None

    def add(self, run: Run) -> None:
        if self.record is not None:
            self.record(run)
        # Bounded memory: a finished run keeps its answer as JSON text and drops its request body
        # (both are rebuilt if read), so 100,000 runs hold a few KB each (bench/bench_sweep.py).
        run.compact()
        run.spec.sent()
        self.runs.append(run)
        if len(self.runs) >= FLUSH_ROWS:
            self.hand_over()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.hand_over)

    def hand_over(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.flush is not None:
            self.flush()  # recorded before displayed: the waiting thread sees them after this
        if self.runs:
            self.finished.put(self.runs)
            self.runs = []


async def _sweep_task(settings: Settings, runs: Sequence[Run], concurrency: int, budget: Budget,
                      finished: "queue.SimpleQueue[Any]", control: _Control, record: RunHook | None,
                      rate: float | None = None) -> None:
    """The sweep on the shared loop; whatever happens, the waiting thread is told it ended."""
    try:
        await _sweep(settings, runs, concurrency, budget, finished, control, record, rate)
    except asyncio.CancelledError:
        pass
    except BaseException as exc:  # a bug, not a failed run: hand it to the waiting thread
        finished.put(exc)
    finally:
        finished.put(_DONE)


def run_concurrently(settings: Settings, runs: Sequence[Run], *, concurrency: int | None = None,
                     max_cost: float | None = None, on_done: RunHook | None = None,
                     progress: bool | Progress = True, record: RunHook | None = None,
                     rate: float | None = None) -> list[str]:
    """Run every run, `concurrency` at a time, filling each in place; returns the notes (interrupt,
    budget).  Never raises for a failed run or an interrupt.

    `rate` (requests per second, run/rate.py) spaces the starts of all requests, retries included.
    `record` (the history; must not raise) sees every run that finished or was skipped, on the
    sweep's own thread as it finishes, so an interrupt of the waiting thread (which calls
    `on_done`) cannot drop a finished run from the history.  A batched `record` (one with
    `flush()`) is flushed every FLUSH_ROWS runs or FLUSH_SECONDS and at the end (interrupted or
    not), and `on_done` and the progress see a run only after its flush.

    The runs must be planned unstreamed (api.prepare decides streaming, for single runs only)."""
    bound = max(1, concurrency or settings.concurrency)
    budget = Budget(max_cost)
    display = make_progress(len(runs), progress) if isinstance(progress, bool) else progress
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    control = _Control()
    sweeploop.sweep_loop.submit(_sweep_task(settings, runs, bound, budget, finished, control, record, rate))
    tally = _Tally(display, budget, on_done)
    interrupted = False
    try:
        tally.drain(finished)
    except BaseException as exc:  # an interrupt, or an on_done hook that raised: stop the sweep too
        control.cancel()
        tally.drain(finished, hooks=False)  # until the sweep's task has ended
        if not isinstance(exc, KeyboardInterrupt):
            raise
        interrupted = True
    finally:
        display.close("interrupted" if interrupted else "")
    skipped = _mark_unfinished(runs)
    notes = [f"interrupted: {skipped} of {len(runs)} runs cancelled; the finished rows are kept"
             ] if interrupted else []
    notes += _budget_notes(runs, budget)
    return notes


class _Tally:
    """Counts finished runs on the waiting thread, updating progress and calling hooks."""

    def __init__(self, display: Progress, budget: Budget, on_done: RunHook | None) -> None:
        self.display, self.budget, self.on_done = display, budget, on_done
        self.done = self.failed = 0
        self.cost: float | None = None  # as Usage.of: None while no run reported a cost

    def drain(self, finished: "queue.SimpleQueue[Any]", hooks: bool = True) -> None:
        while True:
            try:
                item = finished.get(timeout=WAIT_SLICE)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            for run in item:  # a batch of finished runs, already recorded
                self.done += 1
                self.failed += run.error is not None
                # The footer's sum (Usage.of), kept as it grows, so the bar and the footer never
                # disagree ("$0" beside "cost n/a").
                cost = run.completion.cost if run.completion is not None else None
                if cost is not None:
                    self.cost = (self.cost or 0.0) + cost
                if hooks and self.on_done is not None:
                    self.on_done(run)
            self.display.update(self.done, self.failed, self.cost)


def _mark_unfinished(runs: Sequence[Run]) -> int:
    unfinished = [r for r in runs if r.completion is None and r.error is None]
    for run in unfinished:
        run.error = RunSkipped("cancelled: the sweep was interrupted before this run finished",
                               reason="cancelled")
    return len(unfinished)


def _budget_notes(runs: Sequence[Run], budget: Budget) -> list[str]:
    skipped = sum(isinstance(r.error, RunSkipped) and r.error.reason == "budget" for r in runs)
    if not skipped:
        return []
    return [f"--max-cost ${budget.max_cost:g} reached after ${budget.spent:.6f}: {skipped} runs not launched"]
