"""Recording never costs the answer: odd text is stored, and any failure to record is a notice."""

from __future__ import annotations

import sqlite3

import or_magic
from or_magic.core.settings import Settings
from or_magic.run.request import Run, RunSpec
from or_magic.store import runlog
from or_magic.store.recording import recording
from or_magic.store.runlog import History
from or_magic.wire.response import Completion


def test_text_with_lone_surrogates_is_recorded(tmp_path):
    history = History(tmp_path / "h.db")
    body = {"choices": [{"message": {"content": "a\ud800b\ud83d"}, "finish_reason": "stop"}]}
    run = Run(RunSpec(model="m", prompt="p\udcff"), raw=body, completion=Completion.from_response(body))
    history.record(run, "http://127.0.0.1:9/v1")
    text, request = sqlite3.connect(tmp_path / "h.db").execute("SELECT text, request FROM runs").fetchone()
    assert text == "a\ufffdb\ufffd" and "p\ufffd" in request


def test_any_failure_to_record_is_a_notice_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    def broken(self, run, base_url, key=None):
        raise ValueError("something odd")

    monkeypatch.setattr(History, "record", broken)
    seen = []
    hook = recording(Settings(history_path=str(tmp_path / "h.db")), seen.append)
    run = Run(RunSpec(model="m", prompt="p"))
    hook(run)
    hook(run)
    assert seen == [run, run]
    assert capsys.readouterr().err.count("cannot write the run history") == 1


def test_complete_returns_the_answer_when_recording_fails(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    monkeypatch.setattr(History, "record_rows", lambda *a, **k: (_ for _ in ()).throw(UnicodeEncodeError(
        "utf-8", "\ud800", 0, 1, "surrogates not allowed")))
    result = or_magic.complete("Say hi", "openai/gpt-4o-mini", seed=1, max_tokens=5)
    assert result.text and "cannot write the run history" in capsys.readouterr().err
    sweep = or_magic.sweep("Say hi", "openai/gpt-4o-mini", seed=[1, 2, 3], max_tokens=5, progress=False)
    assert len(sweep.df) == 3 and sweep.df.error.isna().all()  # a failed batch costs no answer
    assert "cannot write the run history" in capsys.readouterr().err
    assert runlog.SCHEMA_VERSION >= 1
