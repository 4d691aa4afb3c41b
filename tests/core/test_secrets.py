"""The API key appears nowhere: outputs, reprs, exception text, logs, history, saved notebooks.

Every representative path runs with the recognisable fake key from tests/constants.py, including
a server that echoes the key back in its error messages, metadata and retry notices.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import traceback
from pathlib import Path

import nbformat
import pytest
from IPython.lib.pretty import pretty
from nbclient import NotebookClient

import or_magic
from or_magic import api
from or_magic.core import secrets
from or_magic.core.errors import ORMagicError
from or_magic.core.settings import Settings
from or_magic.wire.client import Client
from tests.constants import FAKE_KEY
from tests.fakeserver.faults import Fault

PIECE = FAKE_KEY[12:40]  # a fragment is a leak too


def assert_clean(*texts: object) -> None:
    for text in texts:
        text = str(text)
        assert FAKE_KEY not in text and PIECE not in text, f"key leaked in: {text[:200]!r}"


def failure_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), str(getattr(exc, "metadata", ""))]


def echoing_faults() -> list[Fault]:
    """Errors whose server text contains the key."""
    return [
        Fault.http(401, f"Invalid key {FAKE_KEY}", metadata={"sent": f"Bearer {FAKE_KEY}"}),
        Fault.http(502, metadata={"raw": f'{{"error": "bad auth {FAKE_KEY}"}}', "provider_name": "X"}),
        Fault.http(400, f"model not found for {FAKE_KEY}"),
    ]


def history_dump(home: Path) -> str:
    db = sqlite3.connect(home / "history.db")
    rows = db.execute("SELECT * FROM runs").fetchall()
    files = b"".join(p.read_bytes() for p in home.glob("history.db*"))
    return repr(rows) + files.decode("latin-1")


def test_key_is_in_use_for_these_tests():
    assert os.environ["OPENROUTER_API_KEY"] == FAKE_KEY  # else the assertions below prove nothing


def test_representative_paths_leak_nothing(shell, server, home, capfd, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    seen: list[object] = []
    shell.run("%config OpenRouterMagics.max_retries = 1")  # one retry shows a notice; more only waits
    shell.run("%%openrouter openai/gpt-4o-mini --seed 1 --top-logprobs 2 -o r\nhello")
    r = shell.ns["r"]
    seen += [repr(r), pretty(r), r._repr_html_(), r.df.to_string(), r.logprobs.to_string(), r.raw, r.runs]
    shell.run("%%openrouter openai/gpt-4o-mini,test/error-500 --temperature 0,1 --max-tokens 3 -o s\nhi")
    seen += [shell.ns["s"]._plain(), shell.ns["s"].df.to_string()]
    for fault in echoing_faults():
        server.fail_next(fault, count=3)
        with pytest.raises(ORMagicError) as err:
            shell.run("%%openrouter openai/gpt-4o-mini --max-tokens 3\nhello")
        assert "redacted" in str(err.value) or fault.status == 502
        seen += failure_texts(err.value)
    server.fail_next(Fault.http(200, body={"error": {"code": 503, "message": f"echo {FAKE_KEY}"}}), count=3)
    with pytest.raises(ORMagicError) as err:
        or_magic.complete("x", "openai/gpt-4o-mini", settings=Settings(max_retries=1))
    seen += failure_texts(err.value)
    with pytest.raises(ORMagicError) as err:  # nothing listens there
        or_magic.complete("x", "m/m", settings=Settings(base_url="http://127.0.0.1:9/v1", max_retries=0))
    seen += failure_texts(err.value)
    seen += [repr(api.client_for(Settings())), repr(Settings()), repr(shell.magics.settings()), vars(api.client_pool),
             shell.run("%openrouter history").to_string(), or_magic.history(limit=0).to_csv()]
    out, errs = capfd.readouterr()
    assert "retrying" in errs  # the notices were printed, and checked below
    assert_clean(*seen, out, errs, caplog.text, history_dump(home))
    assert len(or_magic.history(limit=0)) >= 9


def test_history_scrubs_a_key_pasted_into_a_prompt(server, home):
    or_magic.complete(f"my key is {FAKE_KEY}", "openai/gpt-4o-mini", max_tokens=3)
    assert "my key is sk-…(redacted)" in history_dump(home)
    assert_clean(history_dump(home), or_magic.history().to_string())


def test_verbose_tracebacks_show_no_key(shell, server, capsys):
    server.fail_next(Fault.http(401, f"Invalid key {FAKE_KEY}"))
    with pytest.raises(ORMagicError):
        shell.run("%%openrouter openai/gpt-4o-mini --max-tokens 3\nhello")
    short = capsys.readouterr().out
    assert "AuthError" in short and "sk-…(redacted)" in short  # the short error is clean too
    assert_clean(short)
    shell.magics.short_errors = False  # the full traceback, with every frame's variables
    shell.run("%xmode Verbose")
    server.fail_next(Fault.http(401, f"Invalid key {FAKE_KEY}"))
    try:
        with pytest.raises(ORMagicError):
            shell.run("%%openrouter openai/gpt-4o-mini --max-tokens 3\nhello")
    finally:
        shell.run("%xmode Context")
    shown = capsys.readouterr().out
    assert "'sk-…(redacted)'" in shown  # the frames' variables were printed: the key by its redacted repr
    assert_clean(shown)


def test_client_scrubs_its_own_texts(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", FAKE_KEY)
    client = Client(Settings(base_url="http://127.0.0.1:9/v1"))
    assert_clean(repr(client), vars(client), vars(Settings()), Settings(), repr(Settings().api_key()))
    assert f"Bearer {Settings().api_key()}" == f"Bearer {FAKE_KEY}"  # still the key where it is used


def test_saved_notebook_output_holds_no_key(server, home, tmp_path):
    server.fail_next(Fault.http(401, f"Invalid key {FAKE_KEY}"))
    cells = [
        "%load_ext or_magic",
        "%%openrouter openai/gpt-4o-mini --max-tokens 3\nfirst request: the server echoes the key",
        "%%openrouter openai/gpt-4o-mini --seed 2 --max-tokens 3 -o r\nhello",
        "r.df",
        "import os, or_magic\nprint(len(os.environ['OPENROUTER_API_KEY']), or_magic.Settings())",
        "%openrouter history",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3").execute()
    saved = nbformat.writes(nb)
    assert "AuthError" in saved and "redacted" in saved  # the 401 happened and was shown
    assert f"{len(FAKE_KEY)} Settings(" in saved  # the kernel had the key
    assert_clean(saved, history_dump(home))


def test_missing_key_is_asked_for_only_when_someone_can_answer(monkeypatch):
    settings = Settings(base_url="https://openrouter.ai/api/v1", api_key_env="OR_MAGIC_TEST_KEY")
    monkeypatch.delenv("OR_MAGIC_TEST_KEY", raising=False)
    asked: list[str] = []
    secrets.ensure_key(settings.api_key_env, needed=settings.needs_key(), ask=lambda prompt: asked.append(prompt) or FAKE_KEY)
    assert asked == [] and not secrets.interactive()  # tests: stdin is not a terminal
    monkeypatch.setattr(secrets, "interactive", lambda: True)
    secrets.ensure_key(settings.api_key_env, needed=settings.needs_key(), ask=lambda prompt: asked.append(prompt) or f"  {FAKE_KEY}\n")
    assert os.environ["OR_MAGIC_TEST_KEY"] == FAKE_KEY and "$OR_MAGIC_TEST_KEY" in asked[0]
    assert_clean(asked, settings, Client(settings))
    secrets.ensure_key(settings.api_key_env, needed=settings.needs_key(), ask=lambda prompt: asked.append(prompt) or "other")
    assert len(asked) == 1  # a key is present now: not asked again


def test_without_a_key_and_nobody_to_ask_the_error_says_what_to_set(monkeypatch):
    monkeypatch.delenv("OR_MAGIC_TEST_KEY", raising=False)
    settings = Settings(base_url="https://openrouter.ai/api/v1", api_key_env="OR_MAGIC_TEST_KEY")
    with pytest.raises(or_magic.core.errors.ConfigError, match="set the OR_MAGIC_TEST_KEY environment variable"):
        api.client_for(settings)


def test_a_kernel_that_refuses_stdin_is_not_interactive(monkeypatch):
    class Kernel:
        _allow_stdin = False

    class Shell:
        kernel = Kernel()

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert not secrets.interactive()
    Kernel._allow_stdin = True
    assert secrets.interactive()


def test_a_stream_whose_error_echoes_the_key_leaks_nothing(shell, server, home, capfd):
    server.fail_next(Fault.midstream_error(after_chunks=2, code=502, message=f"upstream said {FAKE_KEY}"))
    with pytest.raises(ORMagicError) as err:
        shell.run("%%openrouter openai/gpt-4o-mini --stream --max-tokens 12 -o partial\nhello")
    assert err.value.partial  # the text that came is kept...
    out, errs = capfd.readouterr()
    kept = shell.ns["partial"]
    assert_clean(*failure_texts(err.value), out, errs, pretty(kept), repr(kept.raw), history_dump(home))


def test_a_key_echoed_across_stream_chunks_is_scrubbed_from_the_result():
    import httpx

    from or_magic.wire.stream_reader import read_stream

    def chunk(text, finish=None):
        delta = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
        return b"data: " + json.dumps({"id": "gen-1", "choices": [delta]}).encode() + b"\n\n"

    half = len(FAKE_KEY) // 2
    body = chunk("my key: " + FAKE_KEY[:half]) + chunk(FAKE_KEY[half:], "stop") + b"data: [DONE]\n\n"
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    answer = read_stream(response, Settings(), FAKE_KEY)
    assert answer["choices"][0]["message"]["content"].startswith("my key: ")
    assert_clean(json.dumps(answer))


def test_events_arriving_with_done_in_one_read_are_kept():
    import httpx

    from or_magic.wire.stream_reader import read_stream

    events = [{"id": "gen-1", "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]},
              {"id": "gen-1", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]},
              {"id": "gen-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "cost": 0.5}}]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)  # one read
    answer = read_stream(response, Settings(), None)
    assert answer["choices"][0]["message"]["content"] == "Hello"
    assert answer["choices"][0]["finish_reason"] == "stop" and answer["usage"]["cost"] == 0.5
