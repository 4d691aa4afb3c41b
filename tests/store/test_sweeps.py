"""The sweeps table: the migration that adds it, the plan recorded before the first request, the
key scrubbed, and the finished runs of a large sweep found with one indexed query."""

from __future__ import annotations

import json
import sqlite3

import pytest

import or_magic
from or_magic.store import runlog, sweeps
from or_magic.store.schema import MIGRATIONS

CHAT = "openai/gpt-4o-mini"


def test_a_version_2_database_upgrades_in_place_keeping_its_runs(home):
    """A history written before sweeps existed gains the sweeps table and the run columns."""
    path = home / "v2.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0] + MIGRATIONS[1])
        db.execute("INSERT INTO runs (created_at, model, text, conversation) VALUES (1, 'm', 'old answer', 'c')")
        db.execute("INSERT INTO runs (created_at, model, text) VALUES (2, 'm', 'second')")
        db.execute("PRAGMA user_version = 2")
    upgraded = runlog.History(path)
    records = [dict(zip(runlog.COLUMNS, row)) for row in upgraded.query()]
    assert [r["text"] for r in records] == ["second", "old answer"] and records[1]["conversation"] == "c"
    assert all(r["sweep_id"] is None and r["grid_index"] is None for r in records)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == runlog.SCHEMA_VERSION >= 3
    assert [c[1] for c in db.execute("PRAGMA table_info(sweeps)")][:3] == ["id", "created_at", "size"]
    assert "runs_sweep" in {row[1] for row in db.execute("PRAGMA index_list(runs)")}
    assert sweeps.sweep_table(upgraded, everything=True).empty  # old runs belong to no sweep


def test_the_plan_is_recorded_before_the_first_request(server, home, monkeypatch):
    seen = []
    record = server.record

    def on_arrival(rec):  # runs on the server's thread as each request arrives, before it is answered
        if rec.path.endswith("completions") and not seen:
            db = sqlite3.connect(home / "history.db")
            seen.append((db.execute("SELECT id, size, fingerprint FROM sweeps").fetchall(),
                         db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]))
        record(rec)

    monkeypatch.setattr(server, "record", on_arrival)
    r = or_magic.complete("hi", CHAT, seed=[1, 2, 3], max_tokens=2, concurrency=1, progress=False)
    [(found, runs_before)] = seen
    assert found and found[0][0] == r.sweep_id and found[0][1] == 3 and len(found[0][2]) == 32
    assert runs_before == 0
    db = sqlite3.connect(home / "history.db")
    assert db.execute("SELECT grid_index FROM runs WHERE sweep_id = ? ORDER BY grid_index",
                      (r.sweep_id,)).fetchall() == [(0,), (1,), (2,)]


def test_the_recorded_plan_holds_the_options_and_never_the_key(server, home):
    key = "sk-or-v1-fake0123456789abcdef0123456789abcdef0123456789abcdef01234567"
    r = or_magic.complete(f"hi {key}", CHAT, temperature=[0, 1], max_tokens=2, extra={"note": key}, progress=False)
    raw = sqlite3.connect(home / "history.db").execute("SELECT prompt, options FROM sweeps").fetchone()
    assert key not in raw[0] and key not in raw[1]
    record = sweeps.get_sweep(runlog.open_history(home / "history.db"), r.sweep_id)
    assert record.size == 2 and record.axes == ["temperature"] and record.models == [CHAT]
    assert record.options["params"] == {"temperature": [0.0, 1.0], "max_tokens": [2]}
    assert record.base_url == server.base_url and json.dumps(record.options)


def test_a_single_run_is_no_sweep(server, home):
    or_magic.complete("hi", CHAT, max_tokens=2)
    db = sqlite3.connect(home / "history.db")
    assert db.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 0
    assert db.execute("SELECT sweep_id, grid_index FROM runs").fetchall() == [(None, None)]


def test_the_finished_runs_of_a_100000_run_sweep_are_one_indexed_query(home):
    history = runlog.History(home / "big.db")
    answer = json.dumps({"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]})
    with sqlite3.connect(home / "big.db") as db:  # other sweeps' rows too, so an unindexed scan would show
        db.executemany("INSERT INTO runs (created_at, sweep_id, grid_index, response, error) VALUES (?, ?, ?, ?, ?)",
                       [(i, "sw-big" if i % 2 else "sw-other", i // 2, answer, "boom" if i % 10 == 1 else None)
                        for i in range(200_000)])
    statements = []
    history._db.set_trace_callback(statements.append)
    done = sweeps.finished_rows(history, "sw-big")
    history._db.set_trace_callback(None)
    assert len(statements) == 1
    assert len(done) == 80_000 and 0 not in done and 1 in done  # every 5th run of sw-big failed
    plan = history.read("EXPLAIN QUERY PLAN " + statements[0].replace("'sw-big'", "?"), ("sw-big",))
    assert any("USING INDEX runs_sweep" in str(step[-1]) for step in plan)


def test_a_plan_that_cannot_be_recorded_costs_resumability_never_the_sweep(server, home):
    or_magic.complete("warm up", CHAT, max_tokens=2)  # the file exists, at the current schema
    blocker = sqlite3.connect(home / "history.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        r = or_magic.complete("hi", CHAT, seed=[1, 2], max_tokens=2, progress=False)
    finally:
        blocker.execute("ROLLBACK")
    assert r.sweep_id is None and r.df["error"].isna().all() and len(r.df) == 2
    assert any(note.startswith("this sweep cannot be resumed: its plan could not be recorded") for note in r.notes)


def test_a_version_3_database_gets_partial_indexes_that_queries_still_use(home):
    """Migration 4: the conversation and sweep indexes leave out the rows without one (most runs),
    and lookups by conversation or sweep still go through them."""
    path = home / "v3.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0] + MIGRATIONS[1] + MIGRATIONS[2])
        db.executemany("INSERT INTO runs (created_at, model, conversation, turn, sweep_id, grid_index) "
                       "VALUES (?, 'm', ?, ?, ?, ?)",
                       [(1, "c", 1, None, None), (2, None, None, "sw-a", 0), (3, None, None, None, None)])
        db.execute("PRAGMA user_version = 3")
    history = runlog.History(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == runlog.SCHEMA_VERSION >= 4
    sql = {name: text for name, text in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")}
    assert "WHERE conversation IS NOT NULL" in sql["runs_conversation"]
    assert "WHERE sweep_id IS NOT NULL" in sql["runs_sweep"]
    # only the one row that has a conversation / a sweep is in each index
    assert db.execute("SELECT COUNT(*) FROM runs INDEXED BY runs_conversation WHERE conversation IS NOT NULL"
                      ).fetchone()[0] == 1
    for where, index in (("conversation = ?", "runs_conversation"), ("sweep_id = ?", "runs_sweep")):
        plan = history.read(f"EXPLAIN QUERY PLAN SELECT id FROM runs WHERE {where}", ("x",))
        assert any(f"INDEX {index} " in str(step[-1]) for step in plan), plan  # COVERING or not
    assert sweeps.finished_rows(history, "sw-a") == {}  # the row has no answer: nothing finished
    assert [r[0] for r in history.read("SELECT created_at FROM runs WHERE conversation = 'c'")] == [1]
