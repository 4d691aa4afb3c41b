"""A sweep's runs are committed in batches, recorded before displayed, and not kept twice in memory."""

from __future__ import annotations

import copy
import json
import pickle
import sqlite3

import pytest

from or_magic import complete
from or_magic.core.settings import Settings
from or_magic.run import parallel
from or_magic.store.runlog import History

CHAT = "openai/gpt-4o-mini"


def rows(path) -> list[tuple]:
    return sqlite3.connect(path).execute("SELECT id, request, response FROM runs ORDER BY id").fetchall()


def test_every_run_of_a_sweep_lands_in_fewer_transactions_than_runs(server, home, monkeypatch):
    batches: list[int] = []
    write = History.record_rows

    def counted(self, batch):
        batches.append(len(batch))
        return write(self, batch)

    monkeypatch.setattr(History, "record_rows", counted)
    n = parallel.FLUSH_ROWS + 50  # at least one batch cut by size, the rest by time or the end
    r = complete("hi", CHAT, seed=range(n), max_tokens=2, concurrency=8, progress=False)
    stored = rows(home / "history.db")
    assert sum(batches) == n == len(stored) and len(batches) < n and max(batches) <= parallel.FLUSH_ROWS
    # each run knows its row, and its row holds its own request
    by_id = {row_id: (request, response) for row_id, request, response in stored}
    for run in r.runs:
        request, response = by_id[run.record_id]
        assert json.loads(request)["seed"] == run.spec.params["seed"]
        assert json.loads(response) == run.raw  # read back from that row


def test_on_done_sees_a_run_only_once_it_is_committed(server, home):
    committed = []

    def on_done(run):
        db = sqlite3.connect(home / "history.db")
        committed.append(db.execute("SELECT COUNT(*) FROM runs WHERE id = ?", (run.record_id,)).fetchone()[0])

    complete("hi", CHAT, seed=range(40), max_tokens=2, concurrency=4, on_done=on_done, progress=False)
    assert committed == [1] * 40


def test_a_committed_sweep_run_keeps_no_body_in_memory_but_raw_still_reads(server, home):
    r = complete("hi", CHAT, seed=range(30), max_tokens=2, concurrency=4, progress=False)
    run = r.runs[7]
    assert not isinstance(run.__dict__["_raw"], (dict, str))  # released: only where it is stored
    assert not isinstance(run.spec.__dict__["_body"], dict)  # the body memo was dropped
    assert run.spec.body()["seed"] == 7 and run.raw["choices"][0]["message"]["content"] == run.text
    # a released run still copies and pickles (what r.fork() and multiprocessing need)
    other = r.runs[8]
    assert copy.deepcopy(other).raw == other.raw
    assert pickle.loads(pickle.dumps(r.runs[9])).raw == r.runs[9].raw
    assert list(r.df.text) == [run.text for run in r.runs]


def test_with_history_off_a_sweep_keeps_answers_as_json_text(server, home):
    r = complete("hi", CHAT, seed=range(12), max_tokens=2, concurrency=4, progress=False,
                 settings=Settings(history=False))
    assert all(isinstance(run.__dict__["_raw"], str) for run in r.runs)
    assert r.runs[3].raw["choices"][0]["message"]["content"] == r.runs[3].text
    assert not (home / "history.db").exists()


def test_a_locked_history_queues_a_sweeps_batches_and_they_land(server, home, capsys):
    path = home / "history.db"
    History(path).close()  # the file exists, as after any earlier run
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        r = complete("hi", CHAT, seed=range(20), max_tokens=2, concurrency=4, progress=False)
        assert all(run.ok for run in r.runs) and "locked by another process" in capsys.readouterr().err
        assert all(run.record_id == 0 for run in r.runs)
        assert r.runs[5].raw["choices"]  # queued rows are not released: the answer stays in memory
    finally:
        other.execute("COMMIT")
    from or_magic.store.runlog import open_history

    assert open_history(path).backlog.flush(30)
    assert len(rows(path)) == 20


def test_an_interrupt_commits_the_batch_in_hand(server, home):
    seen = []

    def hook(run):
        seen.append(run)
        if len(seen) == 3:
            raise KeyboardInterrupt

    server.latency = 0.05  # several 0.25 s batches: the interrupt lands mid-sweep
    r = complete("hi", CHAT, seed=range(200), max_tokens=1, concurrency=8, on_done=hook, progress=False)
    finished = [run for run in r.runs if run.ok]
    assert 3 <= len(finished) < 200
    assert len(rows(home / "history.db")) == len(finished)
    assert all(run.record_id for run in finished)


def test_the_result_of_a_large_sweep_is_whole_and_in_grid_order(server, home):
    n = 1500
    r = complete("hi", CHAT, seed=range(n), temperature=[0, 1], max_tokens=1, concurrency=16, progress=False,
                 yes=True)
    df = r.df
    assert len(df) == 2 * n and list(df.run) == list(range(2 * n)) and df.error.isna().all()
    assert list(df.seed[:4]) == [0, 0, 1, 1] and list(df.temperature[:2]) == [0, 1]
    assert len(rows(home / "history.db")) == 2 * n
