"""The client pool is bounded and closes what it evicts."""

from __future__ import annotations

import os

import pytest

import or_magic
from or_magic import api
from or_magic.core.settings import Settings
from or_magic.wire.pool import ClientPool


def test_pool_keeps_at_most_size_clients_and_closes_the_evicted(server):
    pool = ClientPool(size=3)
    made = [pool.get(Settings(timeout=10 + i)) for i in range(10)]
    assert len(pool) == 3
    assert all(c.closed for c in made[:7]) and not any(c.closed for c in made[7:])
    assert pool.get(Settings(timeout=19)) is made[-1]  # a hit is reused, not made again
    pool.close()
    assert len(pool) == 0 and all(c.closed for c in made)


def test_recently_used_clients_survive_eviction(server):
    pool = ClientPool(size=2)
    a = pool.get(Settings(timeout=1))
    pool.get(Settings(timeout=2))
    assert pool.get(Settings(timeout=1)) is a
    pool.get(Settings(timeout=3))  # evicts timeout=2, the least recently used
    assert not a.closed and len(pool) == 2


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open descriptors via /proc")
def test_many_distinct_settings_do_not_leak_descriptors(server):
    api.client_pool.close()
    for i in range(5):
        or_magic.complete("hi", "openai/gpt-4o-mini", max_tokens=1, settings=Settings(timeout=100 + i))
    before = len(os.listdir("/proc/self/fd"))
    for i in range(60):
        or_magic.complete("hi", "openai/gpt-4o-mini", max_tokens=1, settings=Settings(timeout=200 + i))
    assert len(api.client_pool) <= api.client_pool.size
    assert len(os.listdir("/proc/self/fd")) <= before + api.client_pool.size
