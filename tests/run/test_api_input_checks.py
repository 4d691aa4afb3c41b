"""The Python API refuses what the magic refuses, with the same one-line errors; cut answers say so."""

from __future__ import annotations

import math

import pytest

import or_magic
from or_magic.core.errors import InvalidOption


@pytest.mark.parametrize("kwargs, says", [
    ({"temperature": []}, "--temperature: no values"), ({"samples": 1.5}, "--samples"),
    ({"samples": "2"}, "--samples"), ({"samples": True}, "--samples"), ({"samples": 0}, "--samples"),
    ({"max_cost": math.nan}, "--max-cost"), ({"max_cost": 0}, "--max-cost"), ({"max_cost": -1}, "--max-cost"),
    ({"max_cost": math.inf}, "--max-cost"), ({"seed": 2**64}, "64-bit"), ({"stop": [""]}, "empty"),
    ({"concurrency": 0}, "--concurrency"),
])
def test_api_refuses_bad_input_before_sending(server, kwargs, says):
    with pytest.raises(InvalidOption, match=says) as err:
        or_magic.complete("hi", "openai/gpt-4o-mini", **kwargs)
    assert "\n" not in str(err.value) and not server.requests


def test_an_answer_cut_at_a_limit_the_user_did_not_set_gets_a_note(server):
    r = or_magic.complete("Tell me a long story", "openai/gpt-4o-mini")  # the server's default limit
    assert r.runs[0].completion.finish_reason == "length"
    assert any("cut at the model's token limit" in note for note in r.notes)
    asked = or_magic.complete("Tell me a long story", "openai/gpt-4o-mini", max_tokens=3)
    assert asked.runs[0].completion.finish_reason == "length" and not any("cut" in n for n in asked.notes)
    sweep = or_magic.sweep("Tell me a story", "openai/gpt-4o-mini", seed=[1, 2], progress=False)
    assert any("2 of 2 answers were cut" in note for note in sweep.notes)
