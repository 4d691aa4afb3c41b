"""`--param` cannot silently override what or_magic sends and reports."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import or_magic
from or_magic.core.errors import InvalidOption


@pytest.mark.parametrize("field, fix", [
    ("model", "%%openrouter MODEL"), ("messages", "in the cell"), ("prompt", "in the cell"),
    ("stream", "--stream"), ("temperature", "--temperature"), ("max_tokens", "--max-tokens"),
])
def test_controlled_body_fields_are_refused_with_the_proper_option(server, field, fix):
    with pytest.raises(InvalidOption) as err:
        or_magic.complete("hi", "openai/gpt-4o-mini", extra={field: "x"})
    assert f"--param {field}" in str(err.value) and fix in str(err.value)
    assert not server.requests


def test_the_magic_shows_it_as_a_usage_error(shell, server):
    with pytest.raises(UsageError, match="--param model"):
        shell.run("%%openrouter openai/gpt-4o-mini --param model='\"anthropic/claude-3.5-haiku\"'\nhi")
    assert not server.requests


def test_other_body_fields_still_pass_through(server):
    or_magic.complete("hi", "openai/gpt-4o-mini", max_tokens=2, extra={"user": "u1", "provider": {"sort": "price"}})
    assert server.last.body["user"] == "u1" and server.last.body["provider"] == {"sort": "price"}
