"""The whole stack: a real kernel killed with SIGKILL mid-sweep, and `--resume` in a new kernel.

The test server counts the requests; the history file the killed kernel left behind is read
with plain sqlite3.  Nothing here depends on timing beyond "the sweep is still running when the
server has seen 20 of its 60 requests" (each request waits 0.25 s, 4 at a time: ~4 s in all).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.constants import FAKE_KEY

ROOT = Path(__file__).resolve().parents[1]
CHAT = "openai/gpt-4o-mini"
RUNS = 60
CELL = f"%%openrouter {CHAT} --seed 1:{RUNS} --temperature 0.8 --max-tokens 3 --concurrency 4{{flags}}\nName a colour."


def start_kernel(env):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120, env=env)
    return km, kc


def run(kc, code, timeout=120):
    """Execute `code`; return its stdout, raising if the cell failed."""
    out = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(m["content"].get("text", "")))
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def completions(server):
    return [r for r in server.requests if r.path.endswith("completions")]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def stop(km, kc):
    kc.stop_channels()
    try:
        km.shutdown_kernel(now=True)
    except Exception:  # noqa: BLE001 - a killed kernel has nothing left to shut down
        pass


def test_sigkill_mid_sweep_then_resume_sends_exactly_the_missing_runs(server, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENROUTER_BASE_URL": server.base_url,
           "OR_MAGIC_HOME": str(tmp_path), "OPENROUTER_API_KEY": FAKE_KEY}
    db_path = tmp_path / "history.db"

    km, kc = start_kernel(env)
    try:
        run(kc, "%load_ext or_magic")
        pid = int(run(kc, "import os; print(os.getpid())").strip())
        server.latency = 0.25
        server.clear()
        kc.execute(CELL.format(flags=" -o r"))  # not waited for: it is killed mid-way
        wait_for(lambda: len(completions(server)) >= 20, 120, "20 requests of the sweep")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid), 30, "the kernel to die")
    finally:
        stop(km, kc)
    seen_before_kill = len(completions(server))
    assert seen_before_kill < RUNS  # it really was mid-sweep

    db = sqlite3.connect(db_path)
    [(sweep_id, size)] = db.execute("SELECT id, size FROM sweeps").fetchall()
    finished = {json.loads(body)["seed"] for (body,) in db.execute(
        "SELECT request FROM runs WHERE sweep_id = ? AND error IS NULL", (sweep_id,))}
    db.close()
    assert size == RUNS and 1 <= len(finished) <= seen_before_kill  # each finished run has its row, once
    print(f"killed after {seen_before_kill} requests, {len(finished)} finished rows")

    server.latency = 0.0
    km, kc = start_kernel(env)
    try:
        run(kc, "%load_ext or_magic")
        listed = run(kc, "t = %openrouter sweeps\nprint(t.to_string())")
        assert sweep_id in listed
        server.clear()
        run(kc, CELL.format(flags=" --resume -o r"))
        sent = completions(server)
        assert len(sent) == RUNS - len(finished)
        assert sorted(r.body["seed"] for r in sent) == sorted(set(range(1, RUNS + 1)) - finished)
        summary = json.loads(run(kc, "import json; print(json.dumps({'id': r.sweep_id, 'rows': len(r.df), "
                                     "'errors': int(r.df.error.notna().sum()), 'notes': r.notes}))"))
        assert summary["id"] == sweep_id and summary["rows"] == RUNS and summary["errors"] == 0
        assert f"resumed sweep {sweep_id}: {len(finished)} of {RUNS} runs from the history, " \
               f"{RUNS - len(finished)} sent" in summary["notes"]
        run(kc, CELL.format(flags=" -o u"))  # the same cell, uninterrupted, for comparison
        same = run(kc, "keys = ['model', 'seed', 'text']  # seeded: the texts repeat too\n"
                       "print(r.df[keys].equals(u.df[keys]), len(r.df) == len(u.df) == 60, u.sweep_id != r.sweep_id)")
        assert same.split() == ["True", "True", "True"]
    finally:
        stop(km, kc)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped by its parent) counts as dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
