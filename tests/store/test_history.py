"""The run history: what a row holds, where the file lives, filters, WAL, migrations, crashes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from IPython.core.error import UsageError

import or_magic
from or_magic.core.errors import InvalidOption, RateLimitError
from or_magic.core.settings import Settings
from or_magic.notebook.lineparse import parse_filters
from or_magic.store import runlog
from or_magic.store.history_query import parse_when

ROOT = Path(__file__).resolve().parents[2]


def rows(home: Path) -> list[dict]:
    db = sqlite3.connect(home / "history.db")
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY id")]


def test_a_finished_run_is_recorded_with_everything(server, home):
    result = or_magic.complete("Say hi", "openai/gpt-4o-mini", seed=3, max_tokens=5, system="Be brief")
    [row] = rows(home)
    assert json.loads(row["request"]) == result.runs[0].spec.body()
    assert json.loads(row["response"]) == result.raw
    assert row["text"] == result.text and row["model"] == "openai/gpt-4o-mini" and row["endpoint"] == "chat"
    assert row["generation_id"] == result.raw["id"] and row["finish_reason"] == "length"
    assert row["prompt_tokens"] == result.raw["usage"]["prompt_tokens"] and row["cost"] > 0
    assert row["latency"] > 0 and row["error"] is None and row["base_url"] == server.base_url
    assert row["cached"] == 0 and abs(row["created_at"] - result.runs[0].started_at) < 1e-6


def test_a_failed_run_is_recorded_before_the_error_reaches_the_user(server, home):
    server.fail_next(402)
    with pytest.raises(or_magic.core.errors.CreditsError):
        or_magic.complete("hello", "openai/gpt-4o-mini")
    [row] = rows(home)
    assert row["status"] == 402 and row["error_type"] == "CreditsError" and "Insufficient credits" in row["error"]
    assert row["response"] is None and json.loads(row["request"])["messages"][0]["content"] == "hello"


def test_the_row_exists_when_on_done_sees_the_run(server, home):
    seen = []
    or_magic.complete("x", "openai/gpt-4o-mini", temperature=[0, 1], on_done=lambda run: seen.append(len(rows(home))))
    # a sweep records on its own thread as runs finish, so the second row may already be there
    assert seen[0] >= 1 and seen[1] == 2


def test_sweep_rows_one_per_run_including_failures(server, home):
    result = or_magic.complete("x", ["openai/gpt-4o-mini", "test/error-400"], seed=[1, 2], max_tokens=3)
    assert len(result.runs) == 4 and len(result.errors) == 2
    recorded = rows(home)
    assert len(recorded) == 4 and sum(r["error"] is not None for r in recorded) == 2


def test_magic_records_the_cell_and_history_subcommand_filters(shell, home):
    shell.run("%%openrouter openai/gpt-4o-mini --seed 1 --max-tokens 4\nTell me about cats")
    shell.run("%%openrouter anthropic/claude-3.5-haiku --seed 2 --max-tokens 4\nTell me about dogs")
    shell.run("%config OpenRouterMagics.max_retries = 0")
    with pytest.raises(RateLimitError):
        shell.run("%%openrouter test/error-429 --max-tokens 4\nTell me about owls")
    assert all(r["cell"] is None for r in rows(home))  # run_cell(store_history=False): no In[n] to name
    df = shell.run("%openrouter history")
    assert list(df["model"]) == ["test/error-429", "anthropic/claude-3.5-haiku", "openai/gpt-4o-mini"]
    assert list(shell.run("%openrouter history --model CLAUDE")["model"]) == ["anthropic/claude-3.5-haiku"]
    assert list(shell.run("%openrouter history --grep dogs")["model"]) == ["anthropic/claude-3.5-haiku"]
    assert list(shell.run("%openrouter history --errors --full")["status"]) == [429]
    assert list(shell.run("%openrouter history --errors")["error"].str.slice(0, 8)) == ["HTTP 429"]
    assert len(shell.run("%openrouter history --limit 2")) == 2
    assert len(shell.run("%openrouter history --since 1h --until 2999-01-01")) == 3
    assert len(shell.run("%openrouter history --since 2999-01-01")) == 0
    with pytest.raises(UsageError, match="not a time"):
        shell.run("%openrouter history --since yesterdayish")
    with pytest.raises(UsageError, match="unrecognized arguments"):
        shell.run("%openrouter history --colour red")


def test_history_default_is_compact_and_full_gives_every_column(server, home):
    or_magic.complete("first line\nsecond line", "openai/gpt-4o-mini", seed=1, max_tokens=4,
                      system="ignored")
    with pytest.raises(RateLimitError):
        or_magic.complete("x", "test/error-429", max_tokens=2, settings=Settings(max_retries=0))
    view = or_magic.history()
    assert list(view.columns) == ["time", "model", "text", "tokens", "cost", "error", "cell"]
    assert view.index.name == "id" and list(view.model) == ["test/error-429", "openai/gpt-4o-mini"]
    done = view.iloc[1]
    assert "\n" not in done.text and done.error == "" and done.tokens.count("+") == 1
    assert done.time.microsecond == 0 and done.time.tzinfo is None  # local time to the second
    assert view.iloc[0].error.startswith("HTTP 429") and "\n" not in view.iloc[0].error
    full = or_magic.history(full=True)
    assert {"request", "response", "created_at", "status", "session"} <= set(full.columns)
    assert len(full.columns) > 15 and list(full.id) == list(view.index)
    assert parse_filters("--full --limit 3") == {**parse_filters("--limit 3"), "full": True}


def test_the_cell_column_is_the_in_number_the_user_saw(server, home):
    """In a real kernel, as Jupyter numbers cells: In[2] records cell 2 (not 3)."""
    import nbformat.v4 as v4
    from nbclient import NotebookClient

    nb = v4.new_notebook(cells=[v4.new_code_cell("%load_ext or_magic"), v4.new_code_cell("x = 1"),
                                v4.new_code_cell("%%openrouter openai/gpt-4o-mini --max-tokens 2\nhi"),
                                v4.new_code_cell("import or_magic; or_magic.complete('hi', 'openai/gpt-4o-mini', "
                                                 "max_tokens=2, seed=[1, 2])")])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    shown = [nb.cells[2].execution_count, nb.cells[3].execution_count, nb.cells[3].execution_count]
    assert shown == [3, 4, 4]
    assert [r["cell"] for r in rows(home)] == shown


def test_like_wildcards_in_filters_are_literal(server, home):
    or_magic.complete("x", "openai/gpt-4o-mini", max_tokens=2)
    assert len(or_magic.history(model="gpt_4o")) == 0 and len(or_magic.history(model="%")) == 0
    assert len(or_magic.history(model="gpt-4o")) == 1


def test_history_can_be_turned_off_and_moved(shell, home, tmp_path):
    shell.run("%config OpenRouterMagics.history = False")
    shell.run("%%openrouter openai/gpt-4o-mini --max-tokens 2\nhi")
    assert not (home / "history.db").exists() or rows(home) == []
    elsewhere = tmp_path / "sub" / "runs.db"
    shell.run(f"%config OpenRouterMagics.history = True\n%config OpenRouterMagics.history_path = {str(elsewhere)!r}")
    shell.run("%%openrouter openai/gpt-4o-mini --max-tokens 2\nhi")
    assert elsewhere.exists() and len(shell.run("%openrouter history")) == 1
    assert len(or_magic.history(settings=Settings(history_path=str(elsewhere)))) == 1


def test_default_location_follows_or_magic_home_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path / "home"))
    assert runlog.default_path() == tmp_path / "home" / "history.db"
    monkeypatch.delenv("OR_MAGIC_HOME")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert runlog.default_path() == tmp_path / "data" / "or_magic" / "history.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert runlog.default_path() == Path.home() / ".local" / "share" / "or_magic" / "history.db"


def test_wal_mode_and_two_processes_writing_at_once(home):
    db = home / "shared.db"
    runlog.History(db).close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer = textwrap.dedent(f"""
        from or_magic.store.runlog import History
        from or_magic.run.request import RunSpec
        from or_magic.run.request import Run
        h = History({str(db)!r})
        for i in range(200):
            h.record(Run(spec=RunSpec(model="m", prompt=str(i))), "http://x")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", writer], cwd=ROOT) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert runlog.History(db).count() == 400


def test_a_crash_right_after_a_run_loses_nothing(home):
    crash = textwrap.dedent("""
        import os, or_magic
        or_magic.complete("before the crash", "openai/gpt-4o-mini", max_tokens=3)
        os._exit(9)  # no close, no atexit: like a killed kernel
    """)
    assert subprocess.run([sys.executable, "-c", crash], cwd=ROOT).returncode == 9
    [row] = rows(home)
    assert row["text"] and row["error"] is None


def test_migrations_upgrade_in_place_and_refuse_newer(home, monkeypatch):
    path = home / "old.db"
    runlog.History(path).record(runlog_run(), "http://x")
    current = runlog.SCHEMA_VERSION
    monkeypatch.setattr(runlog, "MIGRATIONS", runlog.MIGRATIONS + ["ALTER TABLE runs ADD COLUMN tags TEXT"])
    monkeypatch.setattr(runlog, "SCHEMA_VERSION", current + 1)
    upgraded = runlog.History(path)
    with sqlite3.connect(path) as db:  # a second connection sees what the migration committed
        assert db.execute("PRAGMA user_version").fetchone()[0] == current + 1 and upgraded.count() == 1
        assert "tags" in [c[1] for c in db.execute("PRAGMA table_info(runs)")]
    monkeypatch.setattr(runlog, "SCHEMA_VERSION", current)
    monkeypatch.setattr(runlog, "MIGRATIONS", runlog.MIGRATIONS[:current])
    with pytest.raises(RuntimeError, match="newer than this"):
        runlog.History(path)


def test_a_version_1_database_gains_the_conversation_columns(home):
    """A history written before conversations existed is upgraded in place, its runs kept."""
    path = home / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript(runlog.MIGRATIONS[0])
        db.execute("INSERT INTO runs (created_at, model, text) VALUES (1, 'm', 'old answer')")
        db.execute("PRAGMA user_version = 1")
    upgraded = runlog.History(path)
    [row] = upgraded.query()
    record = dict(zip(runlog.COLUMNS, row))
    assert record["text"] == "old answer" and record["conversation"] is None and record["turn"] is None
    columns = [c[1] for c in sqlite3.connect(path).execute("PRAGMA table_info(runs)")]
    # later migrations (3: sweeps) add their columns after these
    assert columns[-6:] == ["conversation", "turn", "parent_run", "branch", "sweep_id", "grid_index"]


def runlog_run():
    from or_magic.run.request import Run, RunSpec

    return Run(spec=RunSpec(model="m", prompt="p"))


def test_filter_parsing():
    assert parse_filters("--model gpt --errors --limit 5")["limit"] == 5
    assert parse_when("2h", now=10_000) == 10_000 - 7200
    with pytest.raises(InvalidOption):
        parse_filters('--grep "unclosed')
    with pytest.raises(InvalidOption, match="limit"):
        or_magic.history(limit=-1)


def test_notebook_name_comes_from_the_session(server, home, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/experiments/haiku.ipynb")
    or_magic.complete("x", "openai/gpt-4o-mini", max_tokens=2)
    [row] = rows(home)
    assert row["notebook"] == row["session"] == "/home/me/experiments/haiku.ipynb"


def test_a_history_that_cannot_be_written_never_costs_the_answer(server, home, capfd, monkeypatch):
    blocked = home / "a-file"
    blocked.write_text("not a folder")
    settings = Settings(history_path=str(blocked / "history.db"), cache=True)
    result = or_magic.complete("x", "openai/gpt-4o-mini", seed=1, max_tokens=3, settings=settings)
    assert result.runs[0].ok and "cannot write the run history" in capfd.readouterr().err

    def broken(self, rows):  # the one write path, of single runs and of a sweep's batches
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(runlog.History, "record_rows", broken)
    result = or_magic.complete("x", "openai/gpt-4o-mini", seed=[1, 2], max_tokens=3)
    assert all(run.ok for run in result.runs)
    assert capfd.readouterr().err.count("disk I/O error") == 1  # said once, not once per run


def test_threads_of_a_concurrent_sweep_can_record_at_once(home):
    from concurrent.futures import ThreadPoolExecutor

    history = runlog.open_history(home / "threads.db")
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: history.record(runlog_run(), "http://x"), range(400)))
    assert history.count() == 400 and len(set(ids)) == 400


def test_grep_folds_non_ascii_case(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    or_magic.complete("Été à Paris", "openai/gpt-4o-mini", max_tokens=2)
    assert len(or_magic.history(grep="été")) == 1 and len(or_magic.history(grep="ÉTÉ À")) == 1


def test_history_on_an_unusable_database_is_a_one_line_error(shell, home):
    (home / "history.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(UsageError) as err:
        shell.run("%openrouter history")
    assert "cannot be read" in str(err.value) and "\n" not in str(err.value)
