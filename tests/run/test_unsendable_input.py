"""Input no JSON body can carry is refused before anything is sent."""

from __future__ import annotations

import pytest

import or_magic
from or_magic.core.errors import InvalidOption


@pytest.mark.parametrize("kwargs, where", [
    ({"prompt": "hi \ud800"}, "the cell text"),
    ({"system": "be \udcff brief"}, "--system"),
    ({"stop": ["\ud83d"]}, "--stop"),
    ({"extra": {"provider": {"order": ["a\ud800"]}}}, "--param provider"),
    ({"extra": {"x": float("nan")}}, "--param x"),
    ({"extra": {"x": [float("inf")]}}, "--param x"),
    ({"prompt": "about {t}", "sweep_vars": {"t": ["ok", "caf\udce9"]}}, "{t}"),
])
def test_unsendable_input_is_an_invalid_option_and_nothing_is_sent(server, kwargs, where):
    prompt = kwargs.pop("prompt", "hi")
    with pytest.raises(InvalidOption) as err:
        or_magic.complete(prompt, "openai/gpt-4o-mini", **kwargs)
    assert str(err.value).startswith(where) and "\n" not in str(err.value)
    assert not [r for r in server.requests if r.method == "POST"]


def test_a_template_value_from_the_namespace_is_checked_too(server):
    with pytest.raises(InvalidOption, match="the prompt"):
        or_magic.complete("about {t}", "openai/gpt-4o-mini", variables={"t": "x\ud800"})
    assert not server.requests
