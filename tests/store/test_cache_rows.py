"""The cache judges each stored answer on its own, and an answer with no choices is never a success."""

from __future__ import annotations

import sqlite3

import pytest

import or_magic
from tests.fakeserver.faults import Fault

MODEL = "openai/gpt-4o-mini"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    return tmp_path


def completions(server):
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_one_bad_stored_answer_skips_only_its_own_run(server, home):
    first = or_magic.sweep("Name a colour", MODEL, seed=[1, 2, 3, 4], max_tokens=4, progress=False)
    db = sqlite3.connect(home / "history.db")
    db.execute("UPDATE runs SET response = '{not json' WHERE json_extract(request, '$.seed') = 2")
    db.execute("UPDATE runs SET response = '[1, 2]' WHERE json_extract(request, '$.seed') = 3")
    db.commit()
    server.clear()
    again = or_magic.sweep("Name a colour", MODEL, seed=[1, 2, 3, 4], max_tokens=4, cache=True, progress=False)
    assert [run.cached for run in again.runs] == [True, False, False, True]
    assert len(completions(server)) == 2 and list(again.df.text) == list(first.df.text)
    assert any("skipped 2 unreadable" in note for note in again.notes)


def test_an_answer_with_no_choices_is_an_error_not_cached(server, home):
    server.fail_next(Fault(kind="http", status=200, body={"id": "gen-x", "choices": [],
                                                        "usage": {"prompt_tokens": 3, "completion_tokens": 0}}))
    r = or_magic.sweep("Name a colour", MODEL, seed=[5], max_tokens=4, progress=False)
    assert not r.runs[0].ok and "no choices" in str(r.runs[0].error)
    server.clear()
    again = or_magic.complete("Name a colour", MODEL, seed=5, max_tokens=4, cache=True)
    assert not again.runs[0].cached and again.text and len(completions(server)) == 1
