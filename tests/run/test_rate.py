"""`--rate` / `rate=`: a sweep's request starts spaced at least 1/rate apart, measured on the
server's clock (the fake server stamps each request's arrival), retries included; bad values are
one-line errors before anything is sent."""

import asyncio
import math

import pytest
from IPython.core.error import UsageError

from or_magic import complete, sweep
from or_magic.core.errors import InvalidOption
from or_magic.run.call import CallOptions
from or_magic.run.rate import Pacer, parse_rate
from tests.fakeserver.server import Fault

CHAT = "openai/gpt-4o-mini"
SLACK = 0.9  # an arrival may be a little later than its booked start, and the next one on time


def assert_spaced(times, interval):
    """Starts `interval` apart as the server saw them: on average over the whole run, and no gap
    much shorter (one request's arrival can lag its start, e.g. a first connection, a busy core)."""
    assert times[-1] - times[0] >= (len(times) - 1) * interval * SLACK, gaps(times)
    assert min(gaps(times)) >= interval * 0.5, gaps(times)


def arrivals(server):
    return sorted(r.at for r in server.requests if r.method == "POST")


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


@pytest.mark.parametrize("text, per_second", [
    ("20/min", 20 / 60), ("5/s", 5.0), ("3/sec", 3.0), ("2/second", 2.0), (" 1.5 / Minute ", 0.025),
    ("0.5/s", 0.5), (4, 4.0), (0.25, 0.25)])
def test_rates_are_read_per_minute_or_per_second(text, per_second):
    assert math.isclose(parse_rate(text), per_second)
    assert math.isclose(CallOptions(rate=text).check().rate, per_second)


def test_magic_rate_spaces_request_arrivals_even_with_six_in_flight(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --seed 1:6 --max-tokens 1 --concurrency 6 --rate 120/min\nhi")
    assert r.errors == [] and len(r.df) == 6
    times = arrivals(server)
    assert len(times) == 6
    assert_spaced(times, 0.5)  # 120/min: one start every 0.5 s, not a burst


@pytest.mark.parametrize("rate", ["4/s", 4, "240/min"])
def test_complete_rate_in_either_form_spaces_the_sweep(server, rate):
    r = complete("hi", CHAT, seed=[1, 2, 3, 4], max_tokens=1, concurrency=4, rate=rate, progress=False)
    assert r.errors == []
    times = arrivals(server)
    assert len(times) == 4
    assert_spaced(times, 0.25)


def test_retries_count_against_the_rate_too(server):
    """A 429 with Retry-After: 0 is retried at once without a rate; with one, every attempt that
    leaves (the refused ones and their retries) is spaced, so the server never sees a burst."""
    server.fail_next(Fault.rate_limit(retry_after=0), count=3)
    r = sweep("hi", CHAT, seed=[1, 2, 3], max_tokens=1, concurrency=3, rate="5/s", progress=False)
    assert r.errors == []
    times = arrivals(server)
    assert len(times) == 6  # 3 refused + 3 served
    assert_spaced(times, 0.2)


def test_a_single_run_accepts_a_rate_and_is_sent_at_once(server):
    r = complete("hi", CHAT, max_tokens=1, rate="1/min")  # one request: nothing to space
    assert r.text and len(arrivals(server)) == 1


@pytest.mark.parametrize("value, message", [
    ("0/min", "must be more than 0 requests"), ("-2/s", "must be more than 0 requests"),
    ("nan/s", "must be a finite number"), ("inf/min", "must be a finite number"),
    ("1e999/s", "must be a finite number"), ("20", "give the unit"), ("fast", "not a rate"),
    ("20/hour", "not a rate"), ("twenty/min", "not a rate"), ("20/min/s", "not a rate")])
def test_bad_magic_rates_are_one_line_errors_and_nothing_is_sent(shell, server, value, message):
    with pytest.raises(UsageError, match="^[^\n]*$") as info:
        shell.run(f"%%openrouter {CHAT} --seed 1,2 --max-tokens 1 --rate {value}\nhi")
    text = str(info.value)
    assert f"--rate {value}" in text and message in text and "20/min" in text and "5/s" in text
    assert server.requests == []


@pytest.mark.parametrize("value, message", [
    (0, "must be more than 0"), (-1.0, "must be more than 0"), (float("nan"), "finite"),
    (float("inf"), "finite"), (True, "as text"), ([20], "as text"), ("20", "give the unit")])
def test_bad_python_rates_are_one_line_errors_and_nothing_is_sent(server, value, message):
    with pytest.raises(InvalidOption, match="^--rate [^\n]*$") as info:
        complete("hi", CHAT, seed=[1, 2], max_tokens=1, rate=value, progress=False)
    assert message in str(info.value)
    assert server.requests == []


def test_pacer_spaces_waiters_first_come_first_served_and_a_cancelled_one_leaves_only_a_gap():
    async def main():
        loop = asyncio.get_running_loop()
        pacer, started = Pacer(20.0), []  # 50 ms apart

        async def one(name):
            await pacer.wait()
            started.append((name, loop.time()))

        first = loop.time()
        tasks = [asyncio.create_task(one(n)) for n in range(5)]
        await asyncio.sleep(0)
        tasks[2].cancel()  # booked the third slot, then gave up
        await asyncio.gather(*tasks, return_exceptions=True)
        return first, started

    first, started = asyncio.run(main())
    assert [name for name, _ in started] == [0, 1, 3, 4]
    assert started[0][1] - first < 0.05  # the first starts at once: no slot to wait for
    times = [t for _, t in started]
    assert min(gaps(times)) >= 0.05 * SLACK


def test_a_runs_latency_leaves_out_its_wait_for_a_rate_slot(server):
    # six runs in flight at once at 2/s: the last waits 2.5 s for its slot, but its request is quick
    r = complete("hi", CHAT, seed=list(range(6)), max_tokens=1, concurrency=6, rate="2/s", progress=False)
    assert r.errors == []
    assert max(run.latency for run in r.runs) < 1.0  # queueing is not latency: the server answers at once
    starts = sorted(run.started_at for run in r.runs)
    assert starts[-1] - starts[0] >= 2.5 * 0.9  # each run's start is when its request left
