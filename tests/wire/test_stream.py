"""Streaming end to end against the local server: assembly, failures, interrupts, live display."""

import os
import signal
import threading
import time

import pytest

from or_magic import complete
from or_magic.analysis.result import Result, text_html
from or_magic.api import client_for
from or_magic.core.errors import (
    APIError,
    AuthError,
    RateLimitError,
    TimeoutError,
    TransportError,
)
from or_magic.core.settings import Settings
from or_magic.notebook.live import (
    MAX_UPDATES_PER_SECOND,
    KernelBackend,
    LiveText,
    TerminalBackend,
)
from tests.fakeserver.server import Fault

CHAT = "openai/gpt-4o-mini"
INSTRUCT = "openai/gpt-3.5-turbo-instruct"
VOLATILE = ["latency", "generation_id"]


def both(model, **params):
    """The same request streamed (collecting the pieces shown) and not streamed."""
    pieces = []
    streamed = complete("Tell me a story.", model, on_text=pieces.append, **params)
    plain = complete("Tell me a story.", model, stream=False, **params)
    return streamed, plain, pieces


def assert_same_tables(streamed, plain):
    assert streamed.text == plain.text and streamed.text
    assert streamed.df.drop(columns=VOLATILE).equals(plain.df.drop(columns=VOLATILE))
    assert streamed.logprobs.equals(plain.logprobs)
    assert streamed.top_logprobs.equals(plain.top_logprobs)


@pytest.mark.parametrize("model,usage_style,logprobs_style", [
    (CHAT, "after_finish", "legacy"), (CHAT, "empty_choices", "legacy"),
    (INSTRUCT, "after_finish", "legacy"), (INSTRUCT, "empty_choices", "legacy"),
    (INSTRUCT, "after_finish", "chat"),
])
def test_streamed_result_equals_non_streamed(server, model, usage_style, logprobs_style):
    server.usage_style, server.completions_logprobs_style = usage_style, logprobs_style
    try:
        streamed, plain, pieces = both(model, seed=7, top_logprobs=4, max_tokens=40)
    finally:
        server.usage_style, server.completions_logprobs_style = "after_finish", "legacy"
    assert server.requests[-2].body["stream"] is True and "stream" not in server.requests[-1].body
    assert_same_tables(streamed, plain)
    assert "".join(pieces) == streamed.text and len(pieces) > 10
    row = streamed.df.iloc[0]
    assert row.completion_tokens == 40 and row.cost > 0 and row.finish_reason == "length"
    assert len(streamed.logprobs) == 40 and set(streamed.top_logprobs.groupby("position").size()) == {4}
    assert streamed.footer().split(" · ")[:3] == plain.footer().split(" · ")[:3]


def test_stream_without_logprobs_and_with_stop(server):
    streamed, plain, _ = both(CHAT, seed=3, max_tokens=60, stop=["e"])
    assert_same_tables(streamed, plain)
    assert streamed.df.finish_reason[0] == "stop" and streamed.logprobs.empty


def test_keepalive_comments_between_delayed_chunks(server):
    server.chunk_delay = 0.01
    streamed, plain, pieces = both(CHAT, seed=5, max_tokens=12, top_logprobs=2)
    assert_same_tables(streamed, plain)
    assert len(pieces) >= 10


@pytest.mark.parametrize("code", [429, "server_error"])
def test_midstream_error_keeps_partial_text(server, code):
    reference = complete("Tell me a story.", CHAT, seed=9, max_tokens=20, stream=False).text
    server.fail_next(Fault.midstream_error(after_chunks=4, code=code))
    pieces = []
    with pytest.raises(APIError) as err:
        complete("Tell me a story.", CHAT, seed=9, max_tokens=20, on_text=pieces.append)
    assert err.value.partial == "".join(pieces) and err.value.partial and reference.startswith(err.value.partial)
    assert "partial text kept" in str(err.value)
    if code == 429:
        assert isinstance(err.value, RateLimitError) and err.value.status == 429
    assert len(server.requests) == 2  # a stream that has begun is never retried


@pytest.mark.parametrize("fault,words", [
    (Fault.malformed_sse(after_chunks=3), "malformed"),
    (Fault.non_json_data(after_chunks=3), "not JSON"),
    (Fault.drop_midstream(after_chunks=3), "dropped"),
    (Fault.truncated_json(after_chunks=3), "not JSON"),
])
def test_broken_streams_fail_clearly_and_keep_partial_text(server, fault, words):
    server.fail_next(fault)
    pieces = []
    with pytest.raises(TransportError) as err:
        complete("Tell me a story.", CHAT, seed=2, max_tokens=20, on_text=pieces.append)
    assert words in str(err.value) and err.value.partial == "".join(pieces) != ""
    assert len(server.requests) == 1
    assert complete("again", CHAT, max_tokens=5).text  # the client is still usable


def test_failures_before_the_first_byte_are_retried_or_mapped_like_non_stream(server):
    server.fail_next(Fault.drop_before())
    server.fail_next(Fault.rate_limit(retry_after=0))
    assert complete("hello", CHAT, max_tokens=5).text
    assert len(server.requests) == 3
    server.fail_next(401)
    with pytest.raises(AuthError) as err:
        complete("hello", CHAT, max_tokens=5)
    assert "HTTP 401" in str(err.value) and "OPENROUTER_API_KEY" in str(err.value)


def test_error_chunk_as_first_event(server):
    server.fail_next(Fault.error_in_200(502))
    with pytest.raises(APIError) as err:
        complete("hello", CHAT, max_tokens=5)
    assert err.value.status == 502 and err.value.partial == "" and "Provider returned error" in str(err.value)


def test_choice_finishing_with_error_mid_stream(server):
    server.fail_next(Fault.finish_error(after_tokens=3))
    pieces = []
    with pytest.raises(APIError) as err:
        complete("hello", CHAT, max_tokens=20, seed=1, on_text=pieces.append)
    assert err.value.status == 502 and err.value.partial == "".join(pieces) != ""


def test_silent_stream_times_out_with_a_message_that_says_so(server):
    server.fail_next(Fault.stall(3, after_chunks=3))
    pieces = []
    with pytest.raises(TimeoutError) as err:
        complete("hello", CHAT, max_tokens=20, seed=1, on_text=pieces.append, settings=Settings(timeout=0.3))
    message = str(err.value)
    assert "went silent" in message and "0.3 s" in message and "timeout" in message
    assert err.value.partial == "".join(pieces) != ""


def _pool_connections(settings):
    return client_for(settings)._http._transport._pool.connections


def test_interrupt_from_the_display_keeps_partial_result_and_closes_the_connection(server):
    server.chunk_delay = 0.005
    settings = Settings(max_retries=0)
    seen = []

    def show(piece):
        seen.append(piece)
        if len(seen) == 5:
            raise KeyboardInterrupt

    result = complete("Tell me a story.", CHAT, seed=4, max_tokens=200, top_logprobs=2, on_text=show,
                      settings=settings)
    run = result.runs[0]
    assert run.completion.finish_reason == "cancelled" and result.df.finish_reason[0] == "cancelled"
    assert result.text == "".join(seen) and len(result.logprobs) == 5
    assert result.df.completion_tokens[0] == 5  # the tokens received, not "0+0"
    assert "+5 tokens (counted from the stream" in result.footer()
    assert any("interrupted" in note for note in result.notes)
    assert all(conn.is_closed() for conn in _pool_connections(settings))  # no socket left open
    again = complete("Tell me a story.", CHAT, seed=4, max_tokens=200, settings=settings)
    assert again.runs[0].completion.finish_reason == "length" and again.text.startswith(result.text)


def test_sigint_during_a_stream(server):
    """A real Ctrl-C (SIGINT) lands wherever the main thread is, usually in a socket read."""
    server.chunk_delay = 0.02
    started = threading.Event()

    def first_text(piece):
        if not started.is_set():
            started.set()
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()

    try:
        result = complete("Tell me a story.", CHAT, seed=4, max_tokens=300, on_text=first_text)
    except KeyboardInterrupt:  # pragma: no cover - would mean the interrupt escaped
        pytest.fail("the interrupt escaped the stream")
    assert result.df.finish_reason[0] == "cancelled" and 0 < len(result.text)
    # no usage chunk came: the tokens that did arrive are counted, and the footer says so
    assert result.df.completion_tokens[0] > 0 and result.runs[0].completion.tokens_counted
    assert "(counted from the stream: no usage sent)" in result.footer() and "0+0 tokens" not in result.footer()
    assert complete("hello", CHAT, max_tokens=5).text


def test_sweeps_are_never_streamed_and_never_call_the_display(server):
    pieces = []
    result = complete("hello", CHAT, seed=[1, 2], max_tokens=8, on_text=pieces.append)
    assert pieces == [] and len(result.runs) == 2 and all(r.ok for r in result.runs)
    # A sweep runs concurrently (parallel.py) with whole JSON answers: its display is the
    # progress bar, so nothing is streamed on the wire, even when asked.
    complete("hello", CHAT, seed=[1, 2], max_tokens=8, stream=True)
    assert all("stream" not in r.body for r in server.requests)


# --- live display ------------------------------------------------------------------------


class Recorder:
    """A display backend that records what it was asked to show."""

    def __init__(self):
        self.shown, self.finished, self.abandoned = [], None, False

    def show(self, text, new):
        self.shown.append((text, new))

    def finish(self, result, shown):
        self.finished = shown

    def abandon(self):
        self.abandoned = True


def test_updates_are_coalesced_by_time():
    now = [0.0]
    live = LiveText(Recorder(), interval=0.1, clock=lambda: now[0])
    for i in range(100):  # 100 pieces over one second
        live(f"{i},")
        now[0] += 0.01
    shown = live.backend.shown
    assert shown[0] == ("0,", "0,")  # the first piece at once
    assert 9 <= len(shown) <= 11 and live.updates == len(shown)
    assert "".join(new for _, new in shown) == shown[-1][0]
    live.abandon()  # pending pieces are flushed so the screen holds all that came
    assert live.text == "".join(f"{i}," for i in range(100)) and live.backend.abandoned


def test_long_fast_stream_makes_few_display_updates(server):
    live = LiveText(Recorder())
    started = time.monotonic()
    result = complete("Tell me a story.", CHAT, seed=1, max_tokens=2000, on_text=live)
    elapsed = time.monotonic() - started
    assert result.df.completion_tokens[0] == 2000
    assert live.updates <= 1 + elapsed * MAX_UPDATES_PER_SECOND  # whatever the token rate
    assert live.updates < 2000 / 10
    live.finish(result)
    assert live.backend.finished == live.text and result.text.startswith(live.text)


def test_kernel_backend_creates_an_empty_display_fills_it_and_clears_at_the_end():
    calls = []

    class Handle:
        display_id = "abc"

    def display(data, **kw):
        calls.append(("display", data, kw))
        return Handle()

    backend = KernelBackend(display=display, update=lambda data, **kw: calls.append(("update", data, kw)),
                            clear=lambda **kw: calls.append(("clear", kw)))
    live = LiveText(backend, interval=0)
    live("Hel")
    live("lo")
    live.finish(object())
    assert calls == [("display", {}, {"raw": True, "display_id": True}),
                     ("update", {"text/plain": "Hel", "text/html": text_html("Hel")}, {"raw": True, "display_id": "abc"}),
                     ("update", {"text/plain": "Hello", "text/html": text_html("Hello")},
                      {"raw": True, "display_id": "abc"}),
                     ("clear", {"wait": True})]
    # live and final renderings are the same markup (same font and wrapping), text escaped
    final = complete("hi", CHAT, max_tokens=3, seed=1)._repr_html_()
    assert final.startswith(text_html(final.split(">", 1)[1].split("</div>", 1)[0]))
    assert text_html("<b>") == '<div style="white-space: pre-wrap">&lt;b&gt;</div>'


def test_terminal_magic_shows_text_once_then_the_footer(shell, server, capsys):
    value = shell.run(f"%%openrouter {CHAT} --seed 3 --max-tokens 30 -o r\nhello")
    out = capsys.readouterr().out
    assert isinstance(value, Result) and shell.ns["r"] is value and shell.ns["_"] is value
    assert out == f"{value.text}\n\n— {value.footer()}\n"  # exactly the plain rendering, once
    plain = shell.run(f"%%openrouter {CHAT} --seed 3 --max-tokens 30 --no-stream\nhello")
    assert plain.text == value.text
    assert capsys.readouterr().out.count(value.text) == 1


def test_terminal_magic_interrupted_keeps_partial_result(shell, server, capsys, monkeypatch):
    server.chunk_delay = 0.08  # slower than the update interval: every piece is shown
    shown = []

    def show(self, text, new):
        shown.append(new)
        if len(shown) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(TerminalBackend, "show", show)
    value = shell.run(f"%%openrouter {CHAT} --seed 3 --max-tokens 100 -o r\nhello")
    assert shell.ns["r"] is value and value.df.finish_reason[0] == "cancelled"
    assert value.text == "".join(shown)
    assert "interrupted" in capsys.readouterr().out
    monkeypatch.undo()
    server.chunk_delay = 0
    again = shell.run(f"%%openrouter {CHAT} --seed 3 --max-tokens 100\nhello")
    assert again.df.finish_reason[0] == "length" and again.text.startswith(value.text)


def test_terminal_magic_error_leaves_partial_text_above_the_error_and_in_the_out_variable(shell, server, capsys):
    server.fail_next(Fault.midstream_error(after_chunks=4))
    with pytest.raises(RateLimitError) as err:
        shell.run(f"%%openrouter {CHAT} --seed 3 --max-tokens 30 -o r\nhello")
    assert capsys.readouterr().out.startswith(err.value.partial) and err.value.partial
    kept = shell.ns["r"]
    assert kept is err.value.result and kept.text == err.value.partial
    assert "HTTP 429" in kept.df.error[0] and kept.raw["choices"][0]["message"]["content"] == kept.text


def test_in_a_kernel_the_live_output_updates_then_leaves_one_execute_result(server):
    """Run real cells in a Jupyter kernel, as JupyterLab would, recording every message."""
    import nbformat.v4 as v4
    from nbclient import NotebookClient

    server.chunk_delay = 0.005  # ~1 s of streaming: a dozen or so coalesced updates
    cell = f"%%openrouter {CHAT} --seed 3 --max-tokens 200 -o r\nhello"
    nb = v4.new_notebook(cells=[v4.new_code_cell("%load_ext or_magic"), v4.new_code_cell(cell),
                                v4.new_code_cell(cell.replace(" -o r", " --no-stream")),
                                v4.new_code_cell("r.df.finish_reason[0], len(r.logprobs) == 0, Out[2] is r")])
    seen = []

    class Recording(NotebookClient):
        def process_message(self, msg, cell, cell_index):
            seen.append((cell_index, msg["msg_type"]))
            return super().process_message(msg, cell, cell_index)

    Recording(nb, timeout=60, kernel_name="python3").execute()
    streamed, plain = nb.cells[1].outputs, nb.cells[2].outputs
    assert [o.output_type for o in streamed] == ["execute_result"] == [o.output_type for o in plain]
    text = streamed[0].data["text/plain"]
    assert text.rsplit(" · ", 1)[0] == plain[0].data["text/plain"].rsplit(" · ", 1)[0]  # all but seconds
    messages = [kind for index, kind in seen if index == 1]
    assert messages.count("display_data") == 1 and messages.count("clear_output") == 1
    assert 3 <= messages.count("update_display_data") < 200 / 2  # live, but coalesced (200 chunks)
    assert nb.cells[3].outputs[0].data["text/plain"] == "('length', True, True)"


def test_interrupting_the_kernel_mid_stream_keeps_the_partial_result(server):
    """The ⏹ button: SIGINT to a real kernel while text is arriving."""
    from jupyter_client.manager import start_new_kernel

    server.chunk_delay = 0.02  # 400 chunks: ~8 s of streaming unless interrupted
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive("%load_ext or_magic", timeout=60)
        msg_id = kc.execute(f"%%openrouter {CHAT} --seed 3 --max-tokens 400 -o r\nhello")
        messages = _iopub_until(kc, msg_id, stop_at="update_display_data")
        km.interrupt_kernel()
        messages += _iopub_until(kc, msg_id, stop_at="idle")
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"
        results = [m for m in messages if m["msg_type"] == "execute_result"]
        assert len(results) == 1 and "interrupted" in results[0]["content"]["data"]["text/plain"]
        seen = []
        kc.execute_interactive("print(r.df.finish_reason[0], 0 < len(r.text) < 400 * 2)", timeout=30,
                               output_hook=lambda m: seen.append(m["content"].get("text", "")))
        assert "".join(seen).strip() == "cancelled True"
        server.chunk_delay = 0
        seen.clear()
        kc.execute_interactive(f"%%openrouter {CHAT} --seed 3 --max-tokens 20 -o s\nhello", timeout=30)
        kc.execute_interactive("print(s.df.finish_reason[0])", timeout=30,
                               output_hook=lambda m: seen.append(m["content"].get("text", "")))
        assert "".join(seen).strip() == "length"  # the kernel is ready for the next cell
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _iopub_until(kc, msg_id, stop_at):
    got = []
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == stop_at or (msg["msg_type"] == "status" and msg["content"]["execution_state"] == stop_at):
            return got


def _mock_client(monkeypatch, handler):
    import httpx

    from or_magic.wire.client import Client

    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-unit")
    return Client(Settings(base_url="http://127.0.0.1:9/api/v1", max_retries=0),
                  transport=httpx.MockTransport(handler), on_retry=None)


def test_a_server_that_ignores_stream_true_answers_with_plain_json(monkeypatch):
    import httpx

    body = {"id": "gen-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                        "finish_reason": "stop"}]}
    client = _mock_client(monkeypatch, lambda request: httpx.Response(200, json=body))
    assert client.stream("chat", {"model": "m"}) == body


def test_a_stream_that_ends_early_is_an_error_not_a_short_answer(monkeypatch):
    import httpx

    sse = b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    client = _mock_client(monkeypatch, lambda request: httpx.Response(
        200, content=sse, headers={"content-type": "text/event-stream"}))
    with pytest.raises(TransportError, match="ended before the answer did") as err:
        client.stream("chat", {"model": "m"})
    assert err.value.partial == "Hel" and err.value.body["choices"][0]["message"]["content"] == "Hel"
