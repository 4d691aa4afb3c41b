"""Soak: 2,000 runs through a sweep against a server injecting faults into 20% of requests.

Checks correctness under sustained failure, not speed: every run ends as a success or a
recorded error, the history holds exactly one row per run, the server saw exactly one request
per run plus one per announced retry, and memory allocated by or_magic does not grow from one
batch to the next.  The figures are printed (run with -s to see them).
"""

from __future__ import annotations

import collections
import gc
import os
import sqlite3
import time
import tracemalloc

import pytest

import or_magic
from or_magic.wire import retry

RUNS, BATCHES, CHAOS = 2_000, 10, 0.2
PER_BATCH = RUNS // BATCHES
# Memory that a leak of one small object per run would exceed.  A retained Run with its raw
# answer is ~5 KB, so keeping every run would be ~8 MB over the measured batches; allocator
# and sqlite statement caches settle within the first batches, which are not measured.
GROWTH_BOUND = 1_000_000


def or_magic_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Memory allocated by anything but the test server and the test itself."""
    kept = snapshot.filter_traces([tracemalloc.Filter(False, "*/tests/*"),
                                   tracemalloc.Filter(False, tracemalloc.__file__)])
    return sum(stat.size for stat in kept.statistics("filename"))


def rss_mb() -> float | None:
    """Resident memory of this process (Linux), reported alongside the asserted tracemalloc figure."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return None


def forget_server_state(server) -> int:
    """The fake server lives in this process and keeps every request: count, then drop them."""
    with server.lock:
        seen = sum(r.path.endswith("/chat/completions") for r in server.requests)
        server.requests.clear()
        server.generations.clear()
    return seen


@pytest.mark.soak
def test_soak_2000_runs_at_20_percent_faults(server, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.001)  # the waits are not under test here
    monkeypatch.setattr(retry, "BACKOFF_MAX", 0.004)
    faults: collections.Counter[str] = collections.Counter()
    choose = server.fault_for

    def counted(body):
        fault = choose(body)
        faults[f"{fault.kind} {fault.status}" if fault else "none"] += 1
        return fault

    monkeypatch.setattr(server, "fault_for", counted)
    # Sweeps retry silently (their display is the progress bar), so count the retry decisions.
    from or_magic.wire import client as client_module

    retried = collections.Counter()
    notice = client_module.ClientBase.notify_retry

    def counting_notice(self, *args, **kwargs):
        retried["retries"] += 1
        return notice(self, *args, **kwargs)

    monkeypatch.setattr(client_module.ClientBase, "notify_retry", counting_notice)
    server.latency, server.chaos = 0.0, CHAOS
    started, served, ok, failed, memory, rss = time.perf_counter(), 0, 0, 0, [], []
    for batch in range(BATCHES):
        seeds = list(range(batch * PER_BATCH, (batch + 1) * PER_BATCH))
        result = or_magic.complete(f"soak batch {batch}", "openai/gpt-4o-mini", seed=seeds, max_tokens=4)
        assert len(result.runs) == PER_BATCH
        assert all(run.ok != (run.error is not None) for run in result.runs)  # one outcome each
        assert all(run.text for run in result.runs if run.ok)
        ok += sum(run.ok for run in result.runs)
        failed += len(result.errors)
        del result
        served += forget_server_state(server)
        gc.collect()
        rss.append(rss_mb())
        if batch == 1:
            tracemalloc.start()
        if batch >= 2:
            memory.append(or_magic_bytes(tracemalloc.take_snapshot()))
    tracemalloc.stop()
    seconds = time.perf_counter() - started

    retries = retried["retries"]
    db = sqlite3.connect(tmp_path / "history.db")
    rows = db.execute("SELECT COUNT(*), COUNT(error), COUNT(DISTINCT request_hash) FROM runs").fetchone()
    print(f"\nsoak: {RUNS} runs in {seconds:.1f} s; {ok} ok, {failed} failed after retries; "
          f"{served} requests served, {retries} retries; faults {dict(faults)}; "
          f"or_magic memory per batch (bytes) {memory}; RSS per batch (MB) {[round(m or 0, 1) for m in rss]}")

    assert ok + failed == RUNS and ok > RUNS * 0.95
    assert rows == (RUNS, failed, RUNS)  # exactly one row per run, errors included
    assert served == RUNS + retries  # nothing sent twice without a retry, nothing dropped
    assert sum(n for kind, n in faults.items() if kind != "none") > RUNS * CHAOS * 0.8
    assert max(memory) - memory[0] < GROWTH_BOUND, memory
