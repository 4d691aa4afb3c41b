"""Sweeps share one event loop and keep their client warm between sweeps (run/sweeploop.py)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from or_magic import Settings, complete
from or_magic.run import sweeploop
from or_magic.run.sweeploop import SweepLoop
from tests.hooks import interrupt_after

CHAT = "openai/gpt-4o-mini"


@pytest.fixture
def fresh_loop(monkeypatch):
    """A pool of this test's own, so idle clients of other tests do not count."""
    pool = SweepLoop()
    monkeypatch.setattr(sweeploop, "sweep_loop", pool)
    yield pool
    pool.shutdown()


def sweep(n=8, concurrency=4, **options):
    return complete("hi", CHAT, seed=list(range(n)), max_tokens=1, concurrency=concurrency, progress=False,
                    **options)


def open_sockets(server):
    with server.lock:
        return set(server.conns)


def test_a_second_sweep_reuses_the_first_ones_connections(server, home, fresh_loop):
    sweep()
    opened = open_sockets(server)
    assert fresh_loop.idle_clients() == 1
    r = sweep()
    assert not r.errors and len(r.runs) == 8
    assert open_sockets(server) <= opened  # no connection opened for the second sweep
    assert fresh_loop.idle_clients() == 1


def test_every_sweep_runs_on_the_one_loop_thread(server, home, fresh_loop):
    ran_on = set()

    def on_done(run):
        ran_on.add(fresh_loop._thread)

    def loop_threads():
        return {t for t in threading.enumerate() if t.name == "or_magic-sweeps"}

    before = loop_threads()
    for _ in range(3):
        sweep(n=2, concurrency=2, on_done=on_done)
    assert len(ran_on) == 1 and next(iter(ran_on)).is_alive()
    assert loop_threads() == before | ran_on  # one thread, started by the first sweep, for all three
    fresh_loop.shutdown()
    assert not next(iter(ran_on)).is_alive()


def test_idle_clients_are_bounded_and_the_evicted_are_closed(server, home, fresh_loop):
    made = []

    async def lease(concurrency):
        async with fresh_loop.client(Settings(), concurrency) as client:
            made.append(client)

    for concurrency in range(1, sweeploop.IDLE_CLIENTS + 3):
        fresh_loop.submit(lease(concurrency)).result()
    time.sleep(0.1)  # the evicted close on the loop, off the sweep's path
    assert fresh_loop.idle_clients() == sweeploop.IDLE_CLIENTS
    assert [c.closed for c in made] == [True, True] + [False] * sweeploop.IDLE_CLIENTS


def test_an_idle_client_is_closed_when_its_connections_would_expire(server, home, fresh_loop, monkeypatch):
    monkeypatch.setattr(sweeploop, "IDLE_SECONDS", 0.05)
    made = []

    async def lease():
        async with fresh_loop.client(Settings(), 4) as client:
            made.append(client)

    fresh_loop.submit(lease()).result()
    deadline = time.monotonic() + 5
    while not made[0].closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert made[0].closed and fresh_loop.idle_clients() == 0


def test_a_client_whose_sweep_failed_is_closed_not_kept(server, home, fresh_loop):
    made = []

    async def failing():
        async with fresh_loop.client(Settings(), 4) as client:
            made.append(client)
            raise RuntimeError("a bug in the sweep")

    with pytest.raises(RuntimeError):
        fresh_loop.submit(failing()).result()
    assert made[0].closed and fresh_loop.idle_clients() == 0


def test_an_interrupted_sweep_does_not_leave_its_client_to_the_next(server, home, fresh_loop):
    server.latency = 0.1
    r = sweep(n=20, concurrency=2, on_done=interrupt_after(3, []))
    assert any(n.startswith("interrupted:") for n in r.notes)
    assert fresh_loop.idle_clients() == 0
    server.latency = 0.0
    assert not sweep().errors  # the loop goes on serving sweeps


def test_two_sweeps_at_once_each_get_their_own_client(server, home, fresh_loop):
    server.latency = 0.2
    results = []
    threads = [threading.Thread(target=lambda: results.append(sweep(n=4, concurrency=4))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not r.errors for r in results)
    assert server.max_in_flight == 8  # neither waited for the other's connections
    assert fresh_loop.idle_clients() == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_forked_child_runs_sweeps_on_a_loop_of_its_own(server, home):
    sweep(n=2, concurrency=2)  # the parent's loop thread exists now
    pid = os.fork()
    if pid == 0:  # the child: the parent's loop thread does not exist here
        code = 1
        try:
            signal_alarm = getattr(__import__("signal"), "alarm")
            signal_alarm(20)  # a child stuck waiting on a dead thread's loop must not hang the suite
            code = 0 if not sweep(n=2, concurrency=2).errors else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
