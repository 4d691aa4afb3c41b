"""A stream that sends only keep-alives, or takes too long in all, ends with the limit it hit."""

from __future__ import annotations

import pytest

import or_magic
from or_magic.core.errors import TimeoutError
from or_magic.core.settings import Settings
from tests.fakeserver.faults import Fault


def test_keepalive_comments_do_not_reset_the_silence_clock(server):
    server.fail_next(Fault.keepalive(seconds=1.5, after_chunks=2))
    with pytest.raises(TimeoutError, match=r"only keep-alives for 0.3 s \(timeout\)") as err:
        or_magic.complete("hi", "openai/gpt-4o-mini", max_tokens=8, stream=True, settings=Settings(timeout=0.3))
    assert err.value.partial  # the text before the keep-alives is kept


def test_a_run_has_an_overall_deadline(server):
    server.chunk_delay = 0.1
    with pytest.raises(TimeoutError, match=r"longer than 0.4 s in all \(deadline\)"):
        or_magic.complete("hi", "openai/gpt-4o-mini", max_tokens=30, stream=True, settings=Settings(deadline=0.4))


def test_a_normal_stream_with_keepalives_between_chunks_finishes(server):
    server.chunk_delay = 0.02
    r = or_magic.complete("hi", "openai/gpt-4o-mini", max_tokens=8, stream=True, settings=Settings(timeout=5))
    assert r.text and r.runs[0].ok
