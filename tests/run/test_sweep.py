"""Sweeps end to end against the local server: grids, bodies, failures, rate limits, interrupts, budgets."""

import html
import io
import json
import math
import re
import sys

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.lib.pretty import pretty

from or_magic import Settings, complete
from or_magic.core.errors import ConfigError, InvalidOption, RunSkipped
from or_magic.core.params import PARAMS
from or_magic.run.grid import axis_values
from or_magic.run.progress import TextProgress
from tests.fakeserver.server import Fault
from tests.hooks import interrupt_after

CHAT = "openai/gpt-4o-mini"
TEST = "test/sweep"  # accepted and charged by the server, but not priced in its /models


def completion_bodies(server):
    return [r.body for r in server.requests if r.method == "POST"]


def canonical(bodies):
    return sorted(json.dumps(b, sort_keys=True) for b in bodies)


# --- values and ranges ----------------------------------------------------------------
@pytest.mark.parametrize("name, text, expected", [
    ("seed", "1:5", [1, 2, 3, 4, 5]),
    ("seed", "0:100:25", [0, 25, 50, 75, 100]),
    ("seed", "1:3,10", [1, 2, 3, 10]),
    ("temperature", "0:1:0.25", [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("temperature", "0:0.3:0.1", [0.0, 0.1, 0.2, 0.3]),
    ("top_p", "0.5:1:0.5", [0.5, 1.0]),
    ("temperature", "0.7", [0.7]),
])
def test_ranges_expand_inclusively(name, text, expected):
    assert axis_values(PARAMS[name], text) == expected


@pytest.mark.parametrize("name, text, why", [
    ("temperature", "0:1", "a float range needs a step"),
    ("seed", "5:1", "end is below its start"),
    ("temperature", "0:1:0", "must be > 0"),
    ("seed", "1:4:0.5", "must be an integer > 0"),
    ("seed", "1:2:3:4", "START:END"),
    ("temperature", "0,,1", "empty item"),
    ("temperature", "0:3:1", "must be [0, 2]"),
    ("seed", "1:1000000000", "use a larger step"),
])
def test_bad_ranges_are_one_line_errors(name, text, why):
    with pytest.raises(InvalidOption, match="^" + PARAMS[name].flag) as info:
        axis_values(PARAMS[name], text)
    assert why in str(info.value) and "\n" not in str(info.value)


# --- grids and the bodies sent ----------------------------------------------------------
def test_grid_sends_one_exact_body_per_combination(shell, server):
    r = shell.run(f"%%openrouter {CHAT},{TEST} -t 0,1.5 --seed 1:2 --max-tokens 3\nSay hi")
    expected = [{"model": m, "messages": [{"role": "user", "content": "Say hi"}], "temperature": t,
                 "seed": s, "max_tokens": 3} for m in (CHAT, TEST) for t in (0.0, 1.5) for s in (1, 2)]
    assert canonical(completion_bodies(server)) == canonical(expected)
    df = r.df
    assert list(df.columns[:4]) == ["run", "model", "temperature", "seed"]
    assert df["temperature"].dtype == float and df["seed"].dtype == "int64"
    assert list(df["run"]) == list(range(8)) and df["error"].isna().all()
    assert set(zip(df.model, df.temperature, df.seed)) == {(b["model"], b["temperature"], b["seed"]) for b in expected}
    assert set(r.logprobs.columns) >= {"model", "temperature", "seed"} or r.logprobs.empty


def test_samples_and_float_range_in_bodies_and_tables(shell, server):
    r = shell.run(f"%%openrouter {CHAT} -t 0:1:0.5 -n 2 --max-tokens 2 --top-logprobs 1\nhi")
    temps = sorted(b["temperature"] for b in completion_bodies(server))
    assert temps == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert list(r.df.columns[:3]) == ["run", "temperature", "sample"]
    assert sorted(zip(r.df.temperature, r.df["sample"])) == [(t, s) for t in (0.0, 0.5, 1.0) for s in (0, 1)]
    lp = r.logprobs
    assert {"run", "temperature", "sample"} <= set(lp.columns) and len(lp) == r.df.completion_tokens.sum()
    assert set(r.top_logprobs.columns) >= {"temperature", "sample"}


def test_vars_list_and_dataframe_column_are_axes(shell, server):
    shell.ns["topics"] = ["cats", "dogs"]
    shell.ns["tones"] = pd.DataFrame({"tone": ["dry", "warm", "sly"]})
    r = shell.run(f"%%openrouter {CHAT} --seed 7 --max-tokens 2 --top-logprobs 1 "
                  "--vars topic=topics --vars tone=tones\nA {tone} line about {topic}.")
    sent = sorted(b["messages"][0]["content"] for b in completion_bodies(server))
    assert sent == sorted(f"A {tone} line about {topic}." for topic in ("cats", "dogs") for tone in ("dry", "warm", "sly"))
    assert {"topic", "tone"} <= set(r.df.columns) and len(r.df) == 6
    for row in r.df.itertuples():
        assert row.topic in ("cats", "dogs") and row.tone in ("dry", "warm", "sly")
    assert {"topic", "tone"} <= set(r.logprobs.columns)
    first = r.runs[0]
    assert first.spec.variables == {"topic": first.axes["topic"], "tone": first.axes["tone"]}


def test_vars_from_a_series_path(shell, server):
    shell.ns["df"] = pd.DataFrame({"animal": ["owl", "eel"]})
    r = shell.run(f"%%openrouter {CHAT} --max-tokens 1 --vars animal=df.animal\nName a {{animal}}.")
    assert sorted(r.df.animal) == ["eel", "owl"]


@pytest.mark.parametrize("line, setup, message", [
    (f"{CHAT} -t 0,,1", "", "empty item"),
    (f"{CHAT} --seed 9:1", "", "end is below its start"),
    (f"{CHAT} -t 0:1", "", "needs a step"),
    (f"{CHAT} --logit-bias '{{\"1\":-1}},{{\"2\":-1}}'", "", "--logit-bias cannot be swept"),
    (f"{CHAT} --vars topic=nothing", "", "'nothing' is not defined"),
    (f"{CHAT} --vars topic=word", "word = 'abc'", "is a str, not a list"),
    (f"{CHAT} --vars topic=empty", "empty = []", "is empty"),
    (f"{CHAT} --vars other=word", "word = ['a']", "the prompt has no {other} field"),
    (f"{CHAT} --vars topic=frame", "import pandas as pd; frame = pd.DataFrame({'x': [1]})", "no column 'topic'"),
    (f"{CHAT} --concurrency 0", "", "--concurrency 0"),
    (f"{CHAT} --max-cost -1", "", "--max-cost -1"),
    (f"{CHAT} --seed 1:1001", "", "more than max_runs = 1,000"),
])
def test_bad_sweep_input_sends_nothing(shell, server, line, setup, message):
    if setup:
        shell.run(setup)
    with pytest.raises(UsageError, match="^[^\n]*$") as info:
        shell.run(f"%%openrouter {line}\nWrite about {{topic}}.")
    assert message in str(info.value)
    assert completion_bodies(server) == []


def test_grid_cap_is_a_setting_and_yes_overrides_it(shell, server):
    shell.run("%config OpenRouterMagics.max_runs = 3")
    with pytest.raises(UsageError, match="4 runs, more than max_runs = 3; add --yes"):
        shell.run(f"%%openrouter {CHAT} --seed 1:4 --max-tokens 1\nhi")
    assert completion_bodies(server) == []
    r = shell.run(f"%%openrouter {CHAT} --seed 1:4 --max-tokens 1 --yes\nhi")
    assert len(r.df) == 4 and len(completion_bodies(server)) == 4


def test_python_api_keeps_json_lists_whole_and_refuses_non_sweepable_lists(server):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    complete("hi", CHAT, tools=tools, max_tokens=1)
    assert server.last.body["tools"] == tools
    with pytest.raises(InvalidOption, match="logit_bias cannot be swept"):
        complete("hi", CHAT, logit_bias=[{"1": -1}, {"2": -1}])
    r = complete("{w}", CHAT, seed="1:2", sweep_vars={"w": ["a", "b"]}, max_tokens=1, progress=False)
    assert sorted(zip(r.df.w, r.df.seed)) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]


# --- concurrency, failures, rate limits -------------------------------------------------------
def test_concurrency_is_bounded(shell, server):
    server.latency = 0.05
    shell.run(f"%%openrouter {CHAT} --seed 1:12 --max-tokens 1 --concurrency 3\nhi")
    assert 2 <= server.max_in_flight <= 3
    server.clear()
    shell.run("%config OpenRouterMagics.concurrency = 2")
    shell.run(f"%%openrouter {CHAT} --seed 1:8 --max-tokens 1\nhi")
    assert server.max_in_flight == 2 or server.max_in_flight == 1


def test_failed_runs_are_rows_and_the_others_are_kept(shell, server):
    server.fail_next(402)
    r = shell.run(f"%%openrouter {CHAT},test/error-400 --seed 1:3 --max-tokens 2 --concurrency 1\nhi")
    df = r.df
    bad = df[df.model == "test/error-400"]
    assert len(df) == 6 and bad["error"].str.contains("HTTP 400").all()
    good = df[df.model == CHAT]
    assert good["error"].str.contains("HTTP 402").sum() == 1 and good["text"].str.len().gt(0).sum() == 2
    assert "6 runs (4 failed)" in r.footer()


def test_429_storm_slows_the_sweep_down_but_it_completes(shell, server):
    server.fail_next(Fault.rate_limit(retry_after=0), count=40)
    r = shell.run(f"%%openrouter {CHAT} --seed 1:10 --max-tokens 1 --concurrency 4\nhi")
    assert r.errors == [] and len(r.df) == 10
    assert len(completion_bodies(server)) == 50  # 40 refused + 10 served


# tqdm's line: done/total, [elapsed<remaining, rate, then the postfix: failed count and cost]
def final_line(n, postfix):
    return rf"sweep: 100%\|[#█]{{10}}\| {n}/{n} \[\d\d:\d\d<00:00, +[\d.]+(run/s|s/run), {postfix}\]"


def test_progress_line_reaches_the_end_with_failed_count_and_cost(shell, server, capsys):
    shell.run(f"%%openrouter {CHAT},test/error-400 --max-tokens 1\nhi")
    line = capsys.readouterr().err.strip().split("\r")[-1]
    assert re.fullmatch(final_line(n=2, postfix=r"1 failed · \$0\.\d+"), line), line


def test_text_progress_shows_rate_and_eta_and_closes_with_the_last_state(monkeypatch):
    from or_magic.run import progress

    monkeypatch.setattr(progress, "REDRAW", 0)  # draw every update
    out = io.StringIO()
    bar = TextProgress(3, stream=out)
    bar.update(1, 0, None)
    assert re.search(r"\rsweep:  33%\|[^|]+\| 1/3 \[00:00<00:\d\d, +[\d.]+run/s, 0 failed · cost n/a\]$",
                     out.getvalue()), out.getvalue()  # an ETA once a run has finished
    for done in (2, 3):
        bar.update(done, 1, 0.5)
    bar.close("interrupted")
    last = out.getvalue().split("\r")[-1]
    assert re.fullmatch(final_line(n=3, postfix=r"1 failed · \$0\.5 · interrupted") + "\n", last), last


def test_text_progress_redraws_are_coalesced():
    out = io.StringIO()
    bar = TextProgress(1000, stream=out)
    for done in range(1, 1001):
        bar.update(done, done // 10, done * 1e-6)
    bar.close()
    assert out.getvalue().count("\r") < 50  # at most one redraw per REDRAW seconds, not 1,000
    assert re.fullmatch(final_line(n=1000, postfix=r"100 failed · \$0\.001") + "\n",
                        out.getvalue().split("\r")[-1])


def test_text_progress_draws_a_bar_on_a_terminal_that_reports_no_size(monkeypatch):
    """A pty nobody sized (0x0, as under `script` or `docker exec -t` without a terminal) made
    tqdm, which sizes its bar to stderr's terminal, draw an empty line."""
    import os
    import pty
    import select

    main, side = pty.openpty()  # a new pty's window size is 0x0
    with os.fdopen(side, "w", encoding="utf-8") as terminal:
        monkeypatch.setattr("sys.stderr", terminal)
        bar = TextProgress(3)
        for done in (1, 2, 3):
            bar.update(done, 0, None)
        bar.close()
        terminal.flush()
        drawn = b""
        while select.select([main], [], [], 1)[0]:
            drawn += os.read(main, 65536)
            if drawn.endswith(b"\n"):
                break
    os.close(main)
    last = drawn.decode().rstrip().split("\r")[-1]
    assert re.fullmatch(r"sweep: 100%\|█+\| 3/3 \[00:00<00:00, +[\d.]+run/s, 0 failed · cost n/a\]", last), drawn


# --- interrupts --------------------------------------------------------------------------
def test_keyboard_interrupt_keeps_finished_rows_and_marks_the_rest(server):
    server.latency = 0.1  # runs reach on_done in 0.25 s batches: the interrupt must land early
    r = complete("hi", CHAT, seed=list(range(20)), max_tokens=1, concurrency=2, on_done=interrupt_after(3, []),
                 progress=False)
    assert len(r.runs) == 20
    finished = [run for run in r.runs if run.ok]
    cancelled = [run for run in r.runs if isinstance(run.error, RunSkipped)]
    assert len(finished) >= 3 and len(finished) + len(cancelled) == 20
    assert all(run.error.reason == "cancelled" for run in cancelled) and len(cancelled) >= 10
    assert len(completion_bodies(server)) < 20
    assert any(n.startswith("interrupted:") for n in r.notes)
    assert r.df["error"].str.startswith("cancelled").sum() == len(cancelled)


def test_sweep_works_inside_a_running_event_loop(server):
    import asyncio

    async def in_a_notebook_cell():  # a kernel runs cells while its asyncio loop is running
        return complete("hi", CHAT, seed=[1, 2, 3], max_tokens=1, progress=False)

    r = asyncio.run(in_a_notebook_cell())
    assert r.errors == [] and len(r.df) == 3


# --- budget -------------------------------------------------------------------------------
def test_max_cost_refuses_a_sweep_that_could_exceed_it(shell, server):
    with pytest.raises(UsageError) as info:
        shell.run(f"%%openrouter {CHAT} --seed 1:10 --max-tokens 1000 --max-cost 0.001\nhi")
    text = str(info.value)
    # 10 × (1000 × $0.0000006 + prompt) ≈ $0.006
    assert "these 10 runs could cost up to $0.006" in text and "lower --max-tokens" in text and "\n" not in text
    assert completion_bodies(server) == []
    r = shell.run(f"%%openrouter {CHAT} --seed 1:10 --max-tokens 1000 --max-cost 0.01\nhi")
    assert r.errors == []


def test_max_cost_stops_launching_once_spent(shell, server):
    one = shell.run(f"%%openrouter {TEST} --max-tokens 4\nhi")
    cost = float(one.df.cost[0])
    server.clear()
    r = shell.run(f"%%openrouter {TEST} --max-tokens 4 -n 6 --concurrency 1 --max-cost {cost * 1.5!r}\nhi")
    assert len(completion_bodies(server)) == 2
    skipped = [run.error for run in r.runs if run.error is not None]
    assert len(skipped) == 4 and all(isinstance(e, RunSkipped) and e.reason == "budget" for e in skipped)
    assert r.df["error"].str.startswith("not run: the sweep had spent").sum() == 4
    assert any("no prices for test/sweep" in n for n in r.notes)
    assert math.isclose(r.df.cost.sum(), 2 * cost)


# --- summaries -------------------------------------------------------------------------------
def test_summary_by_parameter(shell, server):
    r = shell.run(f"%%openrouter {CHAT} -t 0,1 --seed 1,2 -n 2 --max-tokens 4 --top-logprobs 1\nhi")
    # the default groups are the swept parameters but seed and sample (the repeats of a setting)
    assert list(r.summary().columns[:2]) == ["temperature", "runs"] and list(r.summary().runs) == [4, 4]
    table = r.summary(by=["temperature", "seed"])
    assert list(table.columns[:2]) == ["temperature", "seed"] and len(table) == 4
    assert (table.runs == 2).all() and (table.failed == 0).all()
    only_seeds = shell.run(f"%%openrouter {CHAT} --seed 1,2,3 --max-tokens 2\nhi").summary()
    assert len(only_seeds) == 1 and only_seeds.runs[0] == 3  # one setting, three repeats: one row
    by_t = r.summary(by="temperature").set_index("temperature")
    lp = r.logprobs
    per_run = lp.groupby("run").logprob.mean()
    want = per_run[r.df.set_index("run").temperature.eq(0.0)].mean()
    assert math.isclose(by_t.loc[0.0, "mean_logprob"], want)
    want_ppl = per_run.map(lambda m: math.exp(-m))[r.df.set_index("run").temperature.eq(1.0)].mean()
    assert math.isclose(by_t.loc[1.0, "perplexity"], want_ppl)
    # same seed at temperature 0 → the server answers identically: one distinct output per point
    assert (table[table.temperature == 0.0].distinct_outputs == 1).all()
    with pytest.raises(InvalidOption, match="summary by 'nope'"):
        r.summary(by="nope")


def test_plot_without_matplotlib_names_the_install(shell, server, monkeypatch):
    r = shell.run(f"%%openrouter {CHAT} -t 0,1 --max-tokens 1\nhi")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ConfigError, match=r"pip install matplotlib") as err:
        r.plot("cost", x="temperature")
    from or_magic.notebook.shorterrors import short_lines

    assert short_lines(err.value)[0].endswith(": " + str(err.value)) and "\n" not in str(err.value)
    with pytest.raises(InvalidOption, match="plot metric 'bogus'"):
        r.plot("bogus")


def test_a_real_interrupt_during_a_magic_sweep_returns_the_finished_rows(shell, server):
    import os
    import signal
    import threading

    server.latency = 0.1
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))  # what "interrupt kernel" sends
    timer.start()
    try:
        r = shell.run(f"%%openrouter {CHAT} --seed 1:40 --max-tokens 1 --concurrency 2\nhi")
    finally:
        timer.cancel()
    done = [run for run in r.runs if run.ok]
    assert 1 <= len(done) < 40 and len(r.runs) == 40
    assert all(isinstance(run.error, RunSkipped) for run in r.runs if not run.ok)
    assert "interrupted" in r.notes[-1]


@pytest.mark.parametrize("model", ["test/error-200", "test/error-401", "test/error-403"])
def test_sweep_rows_carry_the_same_errors_as_a_single_call(server, model):
    from or_magic.core.errors import APIError

    with pytest.raises(APIError) as single:
        complete("hi", model, max_tokens=1)
    r = complete("hi", model, seed=[1, 2], max_tokens=1, progress=False)
    assert [str(e) for e in r.errors] == [str(single.value)] * 2
    assert [type(e) for e in r.errors] == [type(single.value)] * 2


def test_widget_progress_counts_turns_warning_on_failures_and_ends_as_its_final_line(monkeypatch):
    from or_magic.run import progress

    monkeypatch.setattr(progress, "REDRAW", 0)  # draw every update
    bar = progress.WidgetProgress(4)
    label, gauge, status = bar.bar.container.children
    bar.update(2, 0, 0.001)
    shown = html.unescape(status.value).replace("\u2007", " ")  # tqdm's HTML, padded with figure spaces
    assert gauge.value == 2 and gauge.max == 4 and label.value.startswith("sweep:")
    assert re.search(r"2/4 \[00:00<00:\d\d, +[\d.]+run/s, 0 failed · \$0\.001\]", shown), shown
    assert gauge.bar_style == ""
    bar.update(4, 1, 0.002)
    assert gauge.bar_style == "warning"
    bar.close("done")
    assert re.fullmatch(final_line(n=4, postfix=r"1 failed · \$0\.002 · done"), bar.line), bar.line
    assert bar.line.count("sweep") == 1


def test_in_a_saved_notebook_a_finished_sweep_is_a_static_line_not_a_stale_widget(server):
    """Execute a notebook in a real kernel, as Run All + Save would, and read its outputs."""
    import nbformat.v4 as v4
    from nbclient import NotebookClient

    nb = v4.new_notebook(cells=[v4.new_code_cell("%load_ext or_magic"),
                                v4.new_code_cell(f"%%openrouter {CHAT} --seed 1,2,3 --max-tokens 3\nhi")])
    messages = []

    class Recording(NotebookClient):  # every iopub message, to see the live bar the outputs no longer hold
        def process_message(self, msg, cell, cell_index):
            messages.append(msg)
            return super().process_message(msg, cell, cell_index)

    Recording(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[1].outputs
    saved = repr(outputs)
    assert "widget-view" not in saved and "HBox" not in saved and "Progress(" not in saved
    lines = [o.data["text/plain"] for o in outputs if o.output_type == "display_data"]
    assert len(lines) == 1 and re.fullmatch(final_line(n=3, postfix=r"0 failed · \$0\.\d+"), lines[0]), lines
    assert "cost n/a" not in lines[0]  # the fake server reports costs: the bar shows them
    assert outputs[-1].output_type == "execute_result"
    # while it ran, the cell showed a live widget, and the same display was then updated to the line
    shown = [m for m in messages if m["msg_type"] == "display_data"
             and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]]
    assert len(shown) == 1
    display_id = shown[0]["content"]["transient"]["display_id"]
    updates = [m["content"]["data"] for m in messages if m["msg_type"] == "update_display_data"
               and m["content"]["transient"]["display_id"] == display_id]
    assert updates == [{"text/plain": lines[0]}]


def test_float_range_stops_at_the_last_step_not_past_the_end():
    assert axis_values(PARAMS["temperature"], "0:1:0.3") == [0.0, 0.3, 0.6, 0.9]


def test_a_sweep_without_a_key_for_openrouter_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    openrouter = Settings(base_url="https://openrouter.ai/api/v1")
    with pytest.raises(ConfigError, match="no OpenRouter API key"):
        complete("hi", CHAT, seed=[1, 2], progress=False, settings=openrouter)


def test_a_large_sweep_shows_a_compact_table(server):
    r = complete("hi", CHAT, seed="1:120", max_tokens=1, progress=False)
    shown = pretty(r)
    assert len(shown.splitlines()) < 60 and "120 runs (0 failed)" in shown
    assert len(r._repr_html_()) < 40_000


@pytest.mark.parametrize("line, name, expected", [
    ("m --frequency-penalty -1:1:1", "frequency_penalty", [-1.0, 0.0, 1.0]),
    ("m --presence-penalty -1,0,-.5", "presence_penalty", [-1.0, 0.0, -0.5]),
    ("m --seed -2:0", "seed", [-2, -1, 0]),
])
def test_lists_and_ranges_may_start_with_a_minus(line, name, expected):
    from or_magic.notebook.options import parse_line

    assert parse_line(line).params[name] == expected


def test_sweep_function_keeps_a_single_failed_run_as_a_row(server):
    from or_magic import sweep

    result = sweep("hello", "test/error-402", seed=1)
    assert len(result.runs) == 1 and "HTTP 402" in result.df.error[0]
    grid = sweep("hello", "openai/gpt-4o-mini", temperature=[0, 1], seed=range(1, 3), max_tokens=4)
    assert len(grid.df) == 4 and set(grid.df.temperature) == {0, 1} and set(grid.df.seed) == {1, 2}


def test_an_error_inside_200_keeps_the_paid_for_partial_answer(server):
    from or_magic import sweep
    from tests.fakeserver.faults import Fault

    server.fail_next(Fault.finish_error(after_tokens=3, code=502, message="upstream died"), count=1)
    result = sweep("hello", "openai/gpt-4o-mini", seed=[1, 2], max_tokens=8)
    failed = [r for r in result.runs if r.error is not None]
    assert len(failed) == 1 and "upstream died" in str(failed[0].error)
    assert failed[0].text and failed[0].completion.cost is not None  # the partial text and its cost are kept


def test_footer_shows_wall_time_and_median_latency_not_their_sum(server):
    r = complete("hi", CHAT, seed=[1, 2, 3], max_tokens=2, progress=False)
    # Three concurrent runs of 4, 5 and 9 s that began together: 9 s of waiting, not 18.
    for run, start, latency in zip(r.runs, [100.0, 100.5, 100.0], [4.0, 5.0, 9.0]):
        run.started_at, run.latency = start, latency
    assert "9.00 s wall · median 5.00 s/run" in r.footer()
    assert "18.00 s" not in r.footer()
    started = [run.started_at for run in complete("hi", CHAT, seed=[1, 2], max_tokens=2, progress=False).runs]
    assert all(s > r.runs[0].started_at for s in started)  # the time a request began, not a default


def test_bar_and_footer_read_the_same_cost(server):
    """A server that sends no cost (llama.cpp): the bar must not say "$0" beside "cost n/a"."""
    from or_magic.core.money import format_cost
    from or_magic.run.parallel import run_concurrently

    class Seen:
        def update(self, done, failed, cost):
            self.cost = cost

        def close(self, note=""):
            pass

    for style in ("after_finish", "no_cost"):
        server.usage_style = style
        try:
            seen = Seen()
            r = complete("hi", CHAT, seed=[1, 2], max_tokens=2, progress=False)
            run_concurrently(Settings(), r.runs, progress=seen)  # the same runs again, now watched
        finally:
            server.usage_style = "after_finish"
        assert format_cost(seen.cost) in r.footer()
        assert ("cost n/a" in r.footer()) == (style == "no_cost")


def test_displayed_sweep_table_has_no_none_noise_no_run_column_and_visible_whitespace(server):
    r = complete("hi", [CHAT, "test/error-400"], seed=[1, 2], max_tokens=3, progress=False)
    shown, page = pretty(r), r._repr_html_()
    assert "None" not in shown and "NaN" not in shown and "None" not in page and "NaN" not in page
    assert "<th>run</th>" not in page and not shown.splitlines()[0].split()[0] == "run"
    texts = [t for t in r.df.text if t]
    assert texts and all(t.startswith(" ") for t in texts)  # the fake server's tokens begin with a space
    assert all(f"␣{t[1:20]}" in page for t in texts)
    assert r.df.error.isna().sum() == 2  # the data keeps its missing values; only the view is blank


def test_vars_rows_of_a_dataframe_from_python(server):
    from or_magic import sweep

    frame = pd.DataFrame({"animal": ["owl", "eel", "bat"], "legs": [2, 0, 2]}, index=[10, 20, 30])
    r = sweep("Describe the {row.animal} with {row.legs} legs.", CHAT, sweep_vars={"row": frame}, seed=1)
    assert sorted(req.body["messages"][0]["content"] for req in server.requests) == [
        "Describe the bat with 2 legs.", "Describe the eel with 0 legs.", "Describe the owl with 2 legs."]
    assert r.df["row"].tolist() == [10, 20, 30] and r.df["animal"].tolist() == ["owl", "eel", "bat"]
    assert r.df["legs"].tolist() == [2, 0, 2]
    records = sweep("Name {row.animal}.", CHAT, sweep_vars={"row": [{"animal": "cat"}, {"animal": "dog"}]})
    assert records.df["row"].tolist() == [0, 1] and records.df["animal"].tolist() == ["cat", "dog"]


def test_every_finished_run_of_an_interrupted_sweep_is_recorded(server, tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    server.latency = 0.05  # several 0.25 s batches: the interrupt lands mid-sweep
    seen = []
    r = complete("hi", CHAT, seed=list(range(60)), max_tokens=1, concurrency=4, on_done=interrupt_after(5, seen),
                 progress=False)
    finished = [run for run in r.runs if run.ok]
    db = sqlite3.connect(tmp_path / "history.db")
    recorded = db.execute("SELECT COUNT(*) FROM runs WHERE error IS NULL").fetchone()[0]
    assert len(finished) > len(seen) - 1 and recorded == len(finished)


def test_a_grid_beyond_the_absolute_ceiling_is_refused_even_with_yes(server):
    from or_magic.run.grid import MAX_GRID

    with pytest.raises(InvalidOption, match="seed=range"):
        complete("hi", [CHAT, "a/b"], seed=range(10**9), yes=True, progress=False)
    with pytest.raises(InvalidOption, match="more than or_magic ever runs"):
        complete("hi", [CHAT, "a/b"], seed=range(100_000), temperature=[0, 0.5, 1] * 4, yes=True, progress=False)
    with pytest.raises(InvalidOption, match=f"{MAX_GRID:,}"):
        complete("hi", CHAT, samples=MAX_GRID + 1, yes=True, progress=False)
    assert not server.requests
