"""The --widgets panel without a browser: widget values → exact request bodies on the local
server, debounce and single-flight, error display, the runs table."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any, Callable

import pytest
from IPython.core.error import UsageError

import or_magic
from or_magic import api
from or_magic.core.errors import InvalidOption
from or_magic.core.params import PARAMS
from or_magic.core.settings import Settings
from or_magic.notebook.panel_logic import RunGate, RunLog
from or_magic.notebook.widgets import Panel
from tests.constants import default_stream_fields

CHAT = "openai/gpt-4o-mini"
INSTRUCT = "openai/gpt-3.5-turbo-instruct"
MESSAGES = [{"role": "user", "content": "Name a colour."}]
STREAM = default_stream_fields()  # the setting's default decides


class FakeTimer:
    """threading.Timer's interface, fired by the test instead of a clock."""

    made: list["FakeTimer"]

    def __init__(self, interval: float, function: Callable[..., None], args: tuple = ()) -> None:
        self.interval, self.function, self.args = interval, function, args
        self.cancelled = self.started = False
        self.daemon = False
        FakeTimer.made.append(self)

    def start(self) -> None:
        self.started = True

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        if not self.cancelled:
            self.function(*self.args)


@pytest.fixture
def timers() -> list[FakeTimer]:
    FakeTimer.made = []
    return FakeTimer.made


@pytest.fixture
def thread_errors() -> Any:
    """Exceptions that escaped any thread (a panel callback must never leave one)."""
    caught: list[BaseException] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: caught.append(args.exc_value)
    yield caught
    threading.excepthook = previous


def completion_requests(server: Any) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("completions")]


def test_magic_line_sets_the_controls_and_the_first_request(shell, server):
    panel = shell.run(f"%%openrouter {CHAT} --widgets -t 0.3 --seed 7 --max-tokens 12 --top-k 5 -o r\nName a colour.")
    assert isinstance(panel, Panel)
    assert completion_requests(server)[-1].body == {"model": CHAT, "messages": MESSAGES, "temperature": 0.3,
                                                    "seed": 7, "max_tokens": 12, "top_k": 5, **STREAM}
    assert panel.values() == {"model": CHAT, "temperature": 0.3, "top_p": None, "seed": 7, "max_tokens": 12,
                              "logprobs": False}
    assert shell.ns["r"] is panel.result and panel.text == panel.result.text != ""
    assert panel.model.options[0] == CHAT and INSTRUCT in panel.model.options  # filled from /models
    assert "run 1 done" in repr(panel)
    assert panel.result.text in panel.output.value or "&" in panel.output.value


def test_changed_widgets_give_exactly_that_body(shell, server):
    panel = shell.run(f"%%openrouter {CHAT} --widgets -o r\nName a colour.")
    assert completion_requests(server)[-1].body == {"model": CHAT, "messages": MESSAGES, **STREAM}
    first = shell.ns["r"]
    panel.values_widgets["temperature"].value = 1.35  # as a user drags it: its "default" box clears
    panel.values_widgets["seed"].value = 99
    panel.values_widgets["max_tokens"].value = 9
    panel.logprobs.value = True
    panel.model.value = INSTRUCT
    panel.run_button.click()
    assert panel.wait(30)
    assert completion_requests(server)[-1].body == {"model": INSTRUCT, "prompt": "Name a colour.",
                                                    "temperature": 1.35, "seed": 99, "max_tokens": 9,
                                                    "logprobs": 1, **STREAM}
    assert shell.ns["r"] is panel.result is not first
    assert len(panel.result.logprobs) == panel.result.df.completion_tokens[0] == 9
    panel.unset["temperature"].value = True  # back to the provider's default: left out again
    panel.unset["seed"].value = True
    panel.logprobs.value = False
    panel.run()
    assert completion_requests(server)[-1].body == {"model": INSTRUCT, "prompt": "Name a colour.", "max_tokens": 9,
                                                    **STREAM}


def test_logprobs_switch_off_drops_top_logprobs_from_the_line(shell, server):
    panel = shell.run(f"%%openrouter {CHAT} --widgets --top-logprobs 3\nName a colour.")
    assert panel.logprobs.value is True
    assert completion_requests(server)[-1].body["top_logprobs"] == 3
    panel.logprobs.value = False
    panel.run()
    body = completion_requests(server)[-1].body
    assert "logprobs" not in body and "top_logprobs" not in body


def test_bounds_come_from_the_parameter_table(shell, server):
    panel = or_magic.panel("Name a colour.", model=CHAT, run=False)
    temperature, top_p = panel.values_widgets["temperature"], panel.values_widgets["top_p"]
    assert (temperature.min, temperature.max) == (PARAMS["temperature"].low, PARAMS["temperature"].high)
    assert top_p.max == PARAMS["top_p"].high and PARAMS["top_p"].low < top_p.min  # (0, 1]: 0 excluded
    assert completion_requests(server) == []  # run=False sends nothing
    tiny = or_magic.panel("Name a colour.", model=CHAT, top_p=0.01, run=False)  # valid, below one step
    assert tiny.values()["top_p"] == 0.01 and tiny.values_widgets["top_p"].min > PARAMS["top_p"].low


def test_python_panel_sends_its_options_and_checks_them_first(server):
    panel = or_magic.panel("Name a colour.", model=CHAT, temperature=0.2, top_p=0.5, system="Be brief.")
    assert completion_requests(server)[-1].body == {
        "model": CHAT, "messages": [{"role": "system", "content": "Be brief."}, *MESSAGES],
        "temperature": 0.2, "top_p": 0.5, **STREAM}
    with pytest.raises(InvalidOption, match="--temperature 7"):
        or_magic.panel("x", model=CHAT, temperature=7)
    with pytest.raises(InvalidOption, match="prompt is empty"):
        or_magic.panel("   ", model=CHAT)
    assert len(completion_requests(server)) == 1


def test_bad_magic_input_is_a_usage_error_before_any_request(shell, server):
    with pytest.raises(UsageError, match="--top-p 3"):
        shell.run(f"%%openrouter {CHAT} --widgets --top-p 3\nhi")
    with pytest.raises(UsageError, match="--temperature 0.1,0.9: --widgets sets one value"):
        shell.run(f"%%openrouter {CHAT} --widgets -t 0.1,0.9\nhi")
    with pytest.raises(UsageError, match="one model at a time"):
        shell.run(f"%%openrouter {CHAT},{INSTRUCT} --widgets\nhi")
    shell.ns["blank"] = " "
    with pytest.raises(UsageError, match="prompt is empty"):
        shell.run(f"%%openrouter {CHAT} --widgets\n{{blank}}")
    assert completion_requests(server) == []


def test_errors_show_in_the_output_area_and_the_panel_keeps_working(server, thread_errors):
    panel = or_magic.panel("Name a colour.", model="test/error-402")
    assert "CreditsError" in panel.output.value and "402" in panel.output.value and panel.result is None
    panel.model.value = CHAT
    panel.values_widgets["max_tokens"].value = 0  # out of range: shown, nothing sent
    sent = len(completion_requests(server))
    panel.run()
    assert "--max-tokens 0" in panel.output.value and len(completion_requests(server)) == sent
    panel.values_widgets["max_tokens"].value = 4
    server.fail_next(500, count=Settings().max_retries + 1)  # retried, then given up: shown, not raised
    panel.run()
    assert "ServerError" in panel.output.value
    panel.run()
    assert panel.result is not None and panel.result.df.completion_tokens[0] == 4
    assert "or-magic-error" not in panel.output.value
    assert panel.runs["error"].notna().tolist() == [True, True, True, False]
    assert thread_errors == []


def test_runs_table_lists_every_run(server):
    panel = or_magic.panel("Name a colour.", model=CHAT, seed=1, max_tokens=20)
    panel.set(temperature=0.5, seed=2)
    panel.run()
    panel.set(seed=None, max_tokens=3)
    panel.run()
    runs = panel.runs
    assert runs["run"].tolist() == [1, 2, 3]
    assert runs["seed"].tolist()[:2] == [1, 2] and runs["seed"].isna().tolist() == [False, False, True]
    assert runs["temperature"].tolist()[1:] == [0.5, 0.5]
    assert runs["completion_tokens"].tolist() == [20, 20, 3]
    assert (runs["cost"] > 0).all() and runs["error"].isna().all()
    assert runs["text"][2] == " ".join(panel.text.split())  # three tokens: fewer than the preview's words
    assert all(len(t.split()) <= RunLog.PREVIEW_WORDS + 1 for t in runs["text"])
    table = panel.table.value
    assert table.count("<tr>") == 1 + 3 and "completion tokens</th>" in table and "$" in table
    assert "padding" in table  # readable headers: spaced words, padded cells


def test_runs_table_shows_the_model_that_answered_and_sliders_are_wide():
    from tests.inspect_helpers import HI, chat_raw, result_of

    raw = {**chat_raw(HI), "model": "mistralai/mistral-7b"}  # as openrouter/auto answers
    row = RunLog().add({"model": "openrouter/auto"}, result_of(raw))
    assert row["model"] == "mistralai/mistral-7b"
    panel = or_magic.panel("Name a colour.", model=CHAT, run=False)
    assert int(panel.values_widgets["temperature"].layout.width.rstrip("px")) >= 300


def test_auto_run_is_debounced(server, timers):
    panel = or_magic.panel("Name a colour.", model=CHAT, run=False, timer=FakeTimer, delay=0.3)
    panel.values_widgets["temperature"].value = 0.5  # auto-run off: nothing scheduled
    assert timers == []
    panel.auto.value = True
    for seed in (1, 2, 3):
        panel.values_widgets["seed"].value = seed
    assert timers and all(t.interval == 0.3 and t.started and t.daemon for t in timers)
    assert [t.cancelled for t in timers] == [True] * (len(timers) - 1) + [False]  # only the last one lives
    for timer in timers:
        timer.fire()
    assert [r.body["seed"] for r in completion_requests(server)] == [3]
    assert completion_requests(server)[0].body["temperature"] == 0.5


def test_a_run_in_flight_makes_later_requests_wait_and_coalesce(timers):
    in_flight, most_in_flight, calls = 0, 0, []
    release, started = threading.Event(), threading.Event()
    lock = threading.Lock()

    def action() -> None:
        nonlocal in_flight, most_in_flight
        with lock:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            calls.append(len(calls))
        started.set()
        if len(calls) == 1:
            release.wait(10)
        with lock:
            in_flight -= 1

    gate = RunGate(action, delay=0.3, timer=FakeTimer)
    gate.request()
    first = threading.Thread(target=timers[0].fire)
    first.start()
    assert started.wait(10)
    for _ in range(3):  # changes while the first request is in flight
        gate.request()
        timers[-1].fire()  # returns at once: the run is queued behind the one in flight
    assert calls == [0] and not gate.idle
    release.set()
    first.join(10)
    assert gate.wait(10)
    assert calls == [0, 1] and most_in_flight == 1  # one follow-up run, never two at once


def test_real_timers_run_once_after_a_burst(server):
    panel = or_magic.panel("Name a colour.", model=CHAT, run=False, delay=0.05)
    panel.auto.value = True
    for value in (0.1, 0.2, 0.3, 0.4):
        panel.values_widgets["temperature"].value = value
    assert panel.wait(30)
    bodies = [r.body for r in completion_requests(server)]
    assert 1 <= len(bodies) <= 4 and bodies[-1]["temperature"] == 0.4
    assert panel.runs["temperature"].tolist()[-1] == 0.4


def test_streamed_text_reaches_the_output_area_when_run_call_streams(server, monkeypatch):
    seen: list[str] = []
    original = api.run_call

    def streaming_run_call(prompt, options, settings, variables, on_done=None, on_text=None):
        on_text("partial ")
        on_text("te")
        seen.append(panel.output.value)
        return original(prompt, options, settings, variables, on_done)

    panel = or_magic.panel("Name a colour.", model=CHAT, run=False)
    monkeypatch.setattr(api, "run_call", streaming_run_call)
    panel.run()
    assert "partial te" in seen[0] and panel.result is not None


def test_ipywidgets_is_not_imported_until_a_panel_is_made():
    code = ("import sys, or_magic.notebook.magics, or_magic.notebook.options, or_magic.api, or_magic.notebook.panel_logic\n"
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "or_magic.load_ipython_extension(InteractiveShell.instance())\n"
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported at load'\n"
            "or_magic.notebook.options.parse_line('m --widgets')\n"
            "assert 'ipywidgets' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
