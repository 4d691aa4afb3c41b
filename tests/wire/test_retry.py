import email.utils
import random

from or_magic.wire.retry import backoff_delay, retry_delay, server_delay, should_retry


def test_which_statuses_retry():
    for status in (408, 429, 500, 502, 503, 504, 524, 529):
        assert should_retry(status)
    for status in (400, 401, 402, 403, 404, 413, 422):
        assert not should_retry(status)


def test_daily_free_cap_not_retried_and_availability_flag_wins():
    assert not should_retry(429, {"metadata": {"limit_source": "openrouter_free_tier_daily"}})
    assert should_retry(400, {"availability": {"retryable": True}})
    assert not should_retry(503, {"availability": {"retryable": False}})


def test_server_hints():
    assert server_delay({"Retry-After": "3"}) == 3
    assert server_delay({"retry-after-ms": "250"}) == 0.25
    now = 1_000_000.0
    date = email.utils.formatdate(now + 5, usegmt=True)
    assert 4 <= server_delay({"Retry-After": date}, now=now) <= 5
    assert server_delay({"X-RateLimit-Reset": str(int((now + 2) * 1000))}, now=now) == 2
    assert server_delay({}) is None


def test_backoff_grows_with_jitter_and_long_waits_refused():
    rng = random.Random(1)
    delays = [backoff_delay(n, rng) for n in range(6)]
    assert 0.375 <= delays[0] <= 0.5 and delays[-1] <= 8
    assert retry_delay(0, {"Retry-After": "600"}) is None


def test_a_broken_retry_after_header_falls_back_to_backoff():
    # Found by tests/test_fuzz.py: a non-date text with letters made parsedate_to_datetime raise.
    assert server_delay({"Retry-After": "A"}) is None
    assert server_delay({"Retry-After": "soon", "X-RateLimit-Reset": "x"}) is None
    assert 0 < retry_delay(0, {"Retry-After": "Tuesday-ish"}) <= 0.5
