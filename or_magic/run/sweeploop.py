"""The event loop every sweep of this process runs on, and the sweeps' clients kept warm on it.

A sweep used to start a thread, an event loop and an AsyncClient of its own and open its
`concurrency` connections anew; back-to-back sweeps (a loop over prompts, a re-run cell) paid that
every time, and against a remote server a new connection costs a round trip and a TLS handshake
before its first request (bench/bench_sweep.py: the first wave of a 64-run sweep at 100 ms left
~15 ms late).  Now one daemon thread runs one loop for the life of the process, started on first
use, and a sweep's client goes back to a small pool when the sweep ends, with its connections
open: the next sweep with the same settings and concurrency takes it and sends at once.

A pooled client is closed `IDLE_SECONDS` after its sweep (its connections would not be reused
later anyway: httpx drops a connection idle that long), when more than `IDLE_CLIENTS` are idle,
and after a sweep that failed or was cancelled (a connection cut mid-request is not reused).
Two sweeps at once (two threads) each lease a client of their own, so neither shares the other's
concurrency.  A forked child starts a loop of its own: the parent's thread does not exist there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections import OrderedDict
from typing import Any, AsyncIterator, Coroutine

from ..core.settings import Settings
from ..wire.client import AsyncClient
from ..wire.transport import KEEPALIVE_EXPIRY

IDLE_CLIENTS = 4  # sweep clients kept open between sweeps, each with up to its concurrency in connections
IDLE_SECONDS = KEEPALIVE_EXPIRY  # an idle client outliving its connections' keep-alive would gain nothing


class SweepLoop:
    """One event loop in a daemon thread, and the sweep clients idle on it (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # (settings, key hash, connections) → idle clients with their close timers, oldest first.
        # Touched only on the loop's thread, so it needs no lock.
        self._idle: OrderedDict[tuple[Any, ...], list[tuple[AsyncClient, asyncio.TimerHandle]]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run `coro` on the loop (started if need be); its future, for any thread to wait on."""
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="or_magic-sweeps", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    @contextlib.asynccontextmanager
    async def client(self, settings: Settings, max_connections: int) -> AsyncIterator[AsyncClient]:
        """A client for one sweep, on this loop: a warm idle one if it fits, else a new one.  It goes
        back to the idle pool when the block ends normally, and is closed when it raised."""
        # The key is part of the identity (a changed key needs a new client), hashed so the pool
        # never holds it in clear (as wire/pool.py).
        identity = (settings, hash(settings.api_key()), max_connections)
        client = self._take(identity) or AsyncClient(settings, max_connections=max_connections)
        try:
            yield client
        except BaseException:
            await client.aclose()
            raise
        self._put(identity, client)

    def _take(self, identity: tuple[Any, ...]) -> AsyncClient | None:
        idle = self._idle.get(identity)
        if not idle:
            return None
        client, timer = idle.pop()  # the most recently used: its connections are the likeliest alive
        timer.cancel()
        if not idle:
            del self._idle[identity]
        return client

    def _put(self, identity: tuple[Any, ...], client: AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(IDLE_SECONDS, self._expire, identity, client)
        self._idle.setdefault(identity, []).append((client, timer))
        self._idle.move_to_end(identity)
        while sum(map(len, self._idle.values())) > IDLE_CLIENTS:
            oldest = next(iter(self._idle))
            self._expire(oldest, self._idle[oldest][0][0])

    def _expire(self, identity: tuple[Any, ...], client: AsyncClient) -> None:
        """Close an idle client (its timer ran out, or the pool is full), off the sweeps' path."""
        idle = self._idle.get(identity, [])
        for i, (held, timer) in enumerate(idle):
            if held is client:
                timer.cancel()
                del idle[i]
                break
        if identity in self._idle and not idle:
            del self._idle[identity]
        task = asyncio.get_running_loop().create_task(client.aclose())
        self._closing.add(task)  # a reference until done: the loop keeps only weak ones
        task.add_done_callback(self._closing.discard)

    def idle_clients(self) -> int:
        """How many clients are idle in the pool now (for tests and diagnostics)."""
        if self._loop is None:
            return 0
        return self.submit(_count(self)).result()

    def close_idle(self) -> None:
        """Close every idle client now (their connections with them); waits until they are closed."""
        if self._loop is not None:
            self.submit(_close_all(self)).result()

    def shutdown(self) -> None:
        """Close the idle clients and end the loop's thread (a later sweep starts them again)."""
        self.close_idle()
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


async def _count(pool: SweepLoop) -> int:
    return sum(map(len, pool._idle.values()))


async def _close_all(pool: SweepLoop) -> None:
    for identity, idle in list(pool._idle.items()):
        for client, _ in list(idle):
            pool._expire(identity, client)
    if pool._closing:
        await asyncio.gather(*pool._closing, return_exceptions=True)


sweep_loop = SweepLoop()


def _forget_in_child() -> None:
    """After os.fork the loop's thread exists only in the parent: the child starts afresh (its
    copies of the parent's idle connections are dropped unclosed, the parent still uses them)."""
    global sweep_loop
    sweep_loop = SweepLoop()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
