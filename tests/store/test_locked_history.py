"""A history locked by another process costs neither the answer nor the row."""

from __future__ import annotations

import sqlite3

from or_magic.run.request import Run, RunSpec
from or_magic.store.runlog import History


def count(path) -> int:
    return sqlite3.connect(path).execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def test_rows_that_meet_a_lock_are_queued_and_land_when_it_clears(tmp_path, capsys):
    path = tmp_path / "h.db"
    history = History(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        assert history.record(Run(RunSpec(model="m", prompt="first")), "http://127.0.0.1:9/v1") == 0
        assert history.record(Run(RunSpec(model="m", prompt="second")), "http://127.0.0.1:9/v1") == 0
        assert len(history.backlog) == 2 and "locked by another process" in capsys.readouterr().err
    finally:
        other.execute("COMMIT")
    assert history.backlog.flush(30)
    prompts = [r[0] for r in sqlite3.connect(path).execute("SELECT request FROM runs ORDER BY id")]
    assert count(path) == 2 and "first" in prompts[0] and "second" in prompts[1]
    assert history.record(Run(RunSpec(model="m", prompt="third")), "http://127.0.0.1:9/v1") > 0
