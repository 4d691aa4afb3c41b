"""Resumable sweeps from Python: an interrupted sweep's plan and rows in the history, `resume=True`
sending exactly the runs without a successful row, and `or_magic.resume(id)` from the plan alone."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

import or_magic
from or_magic import complete, sweep
from or_magic.core.errors import InvalidOption, RunSkipped
from tests.fakeserver.server import Fault
from tests.hooks import interrupt_after

CHAT = "openai/gpt-4o-mini"


def completions(server):
    return [r.body for r in server.requests if r.path.endswith("completions")]


def db_rows(home, sweep_id):
    db = sqlite3.connect(home / "history.db")
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM runs WHERE sweep_id = ? ORDER BY id", (sweep_id,))]


def succeeded(rows):
    return {r["grid_index"] for r in rows if r["error"] is None}


def test_resume_sends_exactly_the_missing_runs_and_equals_an_uninterrupted_sweep(server, home):
    server.latency = 0.1  # several 0.25 s batches: an interrupt lands mid-sweep
    grid = dict(seed=list(range(40)), temperature=0.7, max_tokens=4, concurrency=4, progress=False)
    cut = complete("Tell me {thing}.", CHAT, variables={"thing": "a story"}, on_done=interrupt_after(6), **grid)
    assert cut.sweep_id and cut.sweep_id.startswith("sw-")
    assert any("--resume" in note and cut.sweep_id in note for note in cut.notes)
    rows = db_rows(home, cut.sweep_id)
    done = succeeded(rows)
    assert 6 <= len(done) < 40 and all(r["grid_index"] is not None for r in rows)

    server.clear()
    resumed = complete("Tell me {thing}.", CHAT, variables={"thing": "a story"}, resume=True, **grid)
    sent = completions(server)
    assert len(sent) == 40 - len(done)
    assert sorted(body["seed"] for body in sent) == sorted(set(range(40)) - done)  # exactly the missing ones
    assert resumed.sweep_id == cut.sweep_id
    assert f"resumed sweep {cut.sweep_id}: {len(done)} of 40 runs from the history, {40 - len(done)} sent" \
        in resumed.notes
    # the old rows are the recorded ones, not copies: same history ids, no duplicate rows
    for run in resumed.runs:
        if run.index in done:
            assert run.record_id == cut.runs[run.index].record_id and run.text == cut.runs[run.index].text
    after = db_rows(home, cut.sweep_id)
    assert len([r for r in after if r["error"] is None]) == 40 and succeeded(after) == set(range(40))

    whole = complete("Tell me {thing}.", CHAT, variables={"thing": "a story"}, **grid)
    assert whole.sweep_id != cut.sweep_id
    keys = ["model", "seed"]
    assert len(resumed.df) == len(whole.df) == 40
    pd.testing.assert_frame_equal(resumed.df[keys + ["text"]], whole.df[keys + ["text"]])
    assert resumed.df["error"].isna().all()


def test_resume_at_temperature_0_9_with_no_seed_identifies_runs_by_grid_position(server, home):
    """Twelve identical bodies: only the grid position tells the runs apart."""
    server.latency = 0.1  # several 0.25 s batches: an interrupt lands mid-sweep
    cut = complete("Say something.", CHAT, samples=12, temperature=0.9, max_tokens=3, concurrency=2,
                   on_done=interrupt_after(4), progress=False)
    done = succeeded(db_rows(home, cut.sweep_id))
    assert 4 <= len(done) < 12
    server.clear()
    resumed = complete("Say something.", CHAT, samples=12, temperature=0.9, max_tokens=3, concurrency=2,
                       resume=True, progress=False)
    assert len(completions(server)) == 12 - len(done)
    assert resumed.df["sample"].tolist() == list(range(12)) and resumed.df["error"].isna().all()
    for index in done:  # the fresh samples of the first session come back as they were
        assert resumed.runs[index].text == cut.runs[index].text
        assert resumed.runs[index].started_at == pytest.approx(cut.runs[index].started_at)


def test_failed_runs_are_sent_again_and_successful_ones_kept(server, home):
    server.fail_next(Fault.http(400, "bad luck"), count=3)  # 400: not retried, so three failed rows
    first = sweep("hi", CHAT, seed=list(range(10)), max_tokens=2, concurrency=1, progress=False)
    failed = [run.index for run in first.runs if not run.ok]
    assert failed == [0, 1, 2]
    listed = or_magic.sweeps()
    row = listed.set_index("sweep").loc[first.sweep_id]
    assert (row["size"], row["finished"], row["failed"], row["missing"]) == (10, 7, 3, 0)
    server.clear()
    again = sweep("hi", CHAT, seed=list(range(10)), max_tokens=2, concurrency=1, progress=False, resume=True)
    assert sorted(body["seed"] for body in completions(server)) == [0, 1, 2]
    assert again.df["error"].isna().all()
    assert first.sweep_id not in set(or_magic.sweeps()["sweep"])  # finished now: listed only with everything
    assert first.sweep_id in set(or_magic.sweeps(everything=True)["sweep"])


def test_budget_skipped_runs_count_as_not_finished(server, home):
    test_model = "test/sweep"  # no catalogue prices: --max-cost caps the running cost only
    cost = complete("hi", test_model, max_tokens=4).df.cost[0]
    first = complete("hi", test_model, seed=list(range(8)), max_tokens=4, concurrency=1, max_cost=cost * 1.5,
                     progress=False)
    skipped = [run.index for run in first.runs if isinstance(run.error, RunSkipped)]
    assert skipped == [2, 3, 4, 5, 6, 7]
    server.clear()
    again = complete("hi", test_model, seed=list(range(8)), max_tokens=4, concurrency=1, progress=False,
                     resume=True)  # the budget applies to what this call sends
    assert sorted(body["seed"] for body in completions(server)) == skipped and again.df["error"].isna().all()


def test_a_finished_sweep_resumed_sends_nothing(server, home):
    whole = complete("hi", CHAT, temperature=[0, 0.5, 1], max_tokens=2, progress=False)
    server.clear()
    again = complete("hi", CHAT, temperature=[0, 0.5, 1], max_tokens=2, progress=False, resume=True)
    assert completions(server) == []
    assert f"resumed sweep {whole.sweep_id}: 3 of 3 runs from the history, 0 sent" in again.notes
    pd.testing.assert_frame_equal(again.df[["model", "temperature", "text"]], whole.df[["model", "temperature", "text"]])
    assert len(db_rows(home, whole.sweep_id)) == 3  # nothing recorded twice


def test_a_changed_grid_is_a_one_line_error_saying_what_differs(server, home):
    first = complete("hi", CHAT, temperature=[0, 0.7], max_tokens=2, progress=False)
    server.clear()
    with pytest.raises(InvalidOption, match=r"temperature: \[0.0, 0.7\] then, \[0.0, 0.5\] now") as named:
        complete("hi", CHAT, temperature=[0, 0.5], max_tokens=2, progress=False, resume=first.sweep_id)
    assert "\n" not in str(named.value) and first.sweep_id in str(named.value)
    with pytest.raises(InvalidOption, match="no recorded sweep plans these runs.*max_tokens: 2 then, 3 now"):
        complete("hi", CHAT, temperature=[0, 0.7], max_tokens=3, progress=False, resume=True)
    with pytest.raises(InvalidOption, match="no such sweep"):
        complete("hi", CHAT, temperature=[0, 0.7], max_tokens=2, progress=False, resume="sw-00000000")
    with pytest.raises(InvalidOption, match="a single run, not a sweep"):
        complete("hi", CHAT, max_tokens=2, resume=True)
    assert completions(server) == []  # every refusal came before anything was sent


def test_resume_from_the_recorded_plan_alone_with_vars_rows(server, home):
    """`or_magic.resume(id)` needs no namespace: the DataFrame rows, the template value and the
    schema were recorded resolved."""
    server.latency = 0.1  # several 0.25 s batches: an interrupt lands mid-sweep
    frame = pd.DataFrame({"animal": ["cat", "dog", "emu", "yak", "owl", "bat"], "legs": [4, 4, 2, 4, 2, 2]},
                         index=["c", "d", "e", "y", "o", "b"])
    namespace = {"zoo": frame, "tone": "briefly"}
    options = dict(sweep_vars={"row": "zoo"}, seed=[1, 2], max_tokens=3, concurrency=2, progress=False,
                   schema="name, legs int")
    cut = complete("Describe {row.animal} ({row.legs} legs) {tone}.", CHAT, variables=namespace,
                   on_done=interrupt_after(3), **options)
    done = succeeded(db_rows(home, cut.sweep_id))
    assert 3 <= len(done) < 12
    server.clear()
    resumed = or_magic.resume(cut.sweep_id, progress=False)
    assert len(completions(server)) == 12 - len(done)
    whole = complete("Describe {row.animal} ({row.legs} legs) {tone}.", CHAT, variables=namespace, **options)
    keys = ["model", "seed", "row", "animal", "legs"]
    pd.testing.assert_frame_equal(resumed.df[keys + ["text"]], whole.df[keys + ["text"]])
    assert resumed.df["row"].tolist()[:2] == ["c", "c"] and len(resumed.data) == 12
    assert all("briefly" in body["messages"][-1]["content"] for body in completions(server))


def test_a_sweep_in_a_history_that_is_off_runs_without_an_id(server, home):
    from or_magic import Settings

    off = Settings(history=False)
    r = complete("hi", CHAT, seed=[1, 2], max_tokens=2, settings=off, progress=False)
    assert r.sweep_id is None and len(r.df) == 2
    with pytest.raises(InvalidOption, match="history, which is off"):
        complete("hi", CHAT, seed=[1, 2], max_tokens=2, settings=off, progress=False, resume=True)


def test_a_resume_interrupted_in_turn_resumes_again(server, home):
    server.latency = 0.1  # several 0.25 s batches: an interrupt lands mid-sweep
    grid = dict(seed=list(range(30)), max_tokens=2, concurrency=2, progress=False)
    cut = complete("hi", CHAT, on_done=interrupt_after(4), **grid)
    second = complete("hi", CHAT, resume=True, on_done=interrupt_after(5), **grid)
    assert second.sweep_id == cut.sweep_id and any(n.startswith("interrupted:") for n in second.notes)
    done = succeeded(db_rows(home, cut.sweep_id))
    assert len(done) < 30 and sum(run.ok for run in second.runs) == len(done)  # old + new rows, all kept
    server.clear()
    third = complete("hi", CHAT, resume=cut.sweep_id, **grid)
    assert sorted(body["seed"] for body in completions(server)) == sorted(set(range(30)) - done)
    assert third.df["error"].isna().all() and third.df["seed"].tolist() == list(range(30))
    assert len([r for r in db_rows(home, cut.sweep_id) if r["error"] is None]) == 30


def test_rows_answered_from_the_cache_come_back_cached_at_no_cost(server, home):
    complete("hi", CHAT, seed=[1, 2, 3], max_tokens=2, progress=False)
    cached = complete("hi", CHAT, seed=[1, 2, 3], max_tokens=2, progress=False, cache=True)
    assert all(run.cached for run in cached.runs) and cached.sweep_id
    server.clear()
    again = complete("hi", CHAT, seed=[1, 2, 3], max_tokens=2, progress=False, resume=cached.sweep_id)
    assert completions(server) == [] and all(run.cached for run in again.runs)
    assert again.df["cost"].tolist() == [0.0, 0.0, 0.0] and again.df["text"].tolist() == cached.df["text"].tolist()
