"""The response cache: deterministic repeats are answered from history at no cost."""

from __future__ import annotations

import sqlite3

import pytest

import or_magic
from or_magic.core.settings import Settings
from or_magic.store.cache import deterministic
from tests.fakeserver.faults import Fault


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    return tmp_path


def completions(server):
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_a_seeded_repeat_is_answered_from_history(server):
    first = or_magic.complete("Name a colour", "openai/gpt-4o-mini", seed=7, max_tokens=4)
    again = or_magic.complete("Name a colour", "openai/gpt-4o-mini", seed=7, max_tokens=4, cache=True)
    assert len(completions(server)) == 1
    assert again.text == first.text and again.runs[0].cached and not first.runs[0].cached
    assert again.runs[0].completion.cost == 0 and first.runs[0].completion.cost > 0
    assert "cached" in again.footer() and "cached" not in first.footer()
    assert list(or_magic.history(full=True)["cached"]) == [True, False]  # the cached run is a row too


def test_without_cache_or_with_a_different_body_a_new_call_is_made(server):
    or_magic.complete("Name a colour", "openai/gpt-4o-mini", temperature=0, max_tokens=4)
    or_magic.complete("Name a colour", "openai/gpt-4o-mini", temperature=0, max_tokens=4)  # cache off
    or_magic.complete("Name a colour", "openai/gpt-4o-mini", temperature=0, max_tokens=5, cache=True)
    or_magic.complete("Name a colour!", "openai/gpt-4o-mini", temperature=0, max_tokens=4, cache=True)
    assert len(completions(server)) == 4
    or_magic.complete("Name a colour", "openai/gpt-4o-mini", temperature=0, max_tokens=4, cache=True)
    assert len(completions(server)) == 4


def test_only_deterministic_requests_are_cached(server):
    or_magic.complete("Pick", "openai/gpt-4o-mini", temperature=0.7, max_tokens=4)
    result = or_magic.complete("Pick", "openai/gpt-4o-mini", temperature=0.7, max_tokens=4, cache=True)
    assert len(completions(server)) == 2 and not result.runs[0].cached
    assert deterministic({"seed": 0}) and deterministic({"temperature": 0.0})
    assert not deterministic({"temperature": False}) and not deterministic({})


def test_failed_runs_are_never_served_from_cache(server):
    server.fail_next(400)
    with pytest.raises(or_magic.core.errors.APIError):
        or_magic.complete("x", "openai/gpt-4o-mini", seed=1, max_tokens=3)
    result = or_magic.complete("x", "openai/gpt-4o-mini", seed=1, max_tokens=3, cache=True)
    assert result.runs[0].ok and not result.runs[0].cached and len(completions(server)) == 2


def test_a_rerun_sweep_only_pays_for_new_runs(server):
    or_magic.complete("x", "openai/gpt-4o-mini", seed=[1, 2], max_tokens=3)
    result = or_magic.complete("x", "openai/gpt-4o-mini", seed=[1, 2, 3], max_tokens=3, cache=True)
    assert [r.cached for r in result.runs] == [True, True, False] and len(completions(server)) == 3
    assert list(result.df["seed"]) == [1, 2, 3]


def test_base_url_is_part_of_the_key(server, monkeypatch):
    or_magic.complete("x", "openai/gpt-4o-mini", seed=1, max_tokens=3)
    other = Settings(base_url=server.base_url + "/", cache=True)  # same server, same key
    assert or_magic.complete("x", "openai/gpt-4o-mini", seed=1, max_tokens=3, settings=other).runs[0].cached
    elsewhere = Settings(base_url=server.base_url.replace("127.0.0.1", "localhost"), cache=True)
    assert not or_magic.complete("x", "openai/gpt-4o-mini", seed=1, max_tokens=3, settings=elsewhere).runs[0].cached
    assert len(completions(server)) == 2


def test_magic_cache_options_and_trait(shell, server):
    shell.run("%%openrouter openai/gpt-4o-mini --seed 4 --max-tokens 3 -o a\nhello")
    shell.run("%%openrouter openai/gpt-4o-mini --seed 4 --max-tokens 3 --cache -o b\nhello")
    assert shell.ns["b"].runs[0].cached and len(completions(server)) == 1
    shell.run("%config OpenRouterMagics.cache = True")
    shell.run("%%openrouter openai/gpt-4o-mini --seed 4 --max-tokens 3 -o c\nhello")
    shell.run("%%openrouter openai/gpt-4o-mini --seed 4 --max-tokens 3 --no-cache -o d\nhello")
    assert shell.ns["c"].runs[0].cached and not shell.ns["d"].runs[0].cached
    assert len(completions(server)) == 2


def test_a_fully_cached_call_needs_no_key(server, monkeypatch):
    or_magic.complete("x", "openai/gpt-4o-mini", seed=9, max_tokens=3)
    monkeypatch.delenv("OPENROUTER_API_KEY")
    again = or_magic.complete("x", "openai/gpt-4o-mini", seed=9, max_tokens=3, cache=True)
    assert again.runs[0].cached


# --- each stored answer judged on its own; no choices is never a success ------------------
def test_one_bad_stored_answer_skips_only_its_own_run(server, home):
    first = or_magic.sweep("Name a colour", "openai/gpt-4o-mini", seed=[1, 2, 3, 4], max_tokens=4, progress=False)
    db = sqlite3.connect(home / "history.db")
    db.execute("UPDATE runs SET response = '{not json' WHERE json_extract(request, '$.seed') = 2")
    db.execute("UPDATE runs SET response = '[1, 2]' WHERE json_extract(request, '$.seed') = 3")
    db.commit()
    server.clear()
    again = or_magic.sweep("Name a colour", "openai/gpt-4o-mini", seed=[1, 2, 3, 4], max_tokens=4, cache=True, progress=False)
    assert [run.cached for run in again.runs] == [True, False, False, True]
    assert len(completions(server)) == 2 and list(again.df.text) == list(first.df.text)
    assert any("skipped 2 unreadable" in note for note in again.notes)


def test_an_answer_with_no_choices_is_an_error_not_cached(server, home):
    server.fail_next(Fault(kind="http", status=200, body={"id": "gen-x", "choices": [],
                                                        "usage": {"prompt_tokens": 3, "completion_tokens": 0}}))
    r = or_magic.sweep("Name a colour", "openai/gpt-4o-mini", seed=[5], max_tokens=4, progress=False)
    assert not r.runs[0].ok and "no choices" in str(r.runs[0].error)
    server.clear()
    again = or_magic.complete("Name a colour", "openai/gpt-4o-mini", seed=5, max_tokens=4, cache=True)
    assert not again.runs[0].cached and again.text and len(completions(server)) == 1
