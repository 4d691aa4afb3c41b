"""Values shared by the test set-up and the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    pass

# What the session set-up (../conftest.py) keeps for the fixtures and its tear-down.
SERVER = pytest.StashKey["FakeOpenRouter"]()
HOME = pytest.StashKey[str]()

# Recognisably fake; the secrets tests assert it never shows up in any output.
FAKE_KEY = "sk-or-v1-fake0123456789abcdef0123456789abcdef0123456789abcdef01234567"


def default_stream_fields() -> dict:
    """The body fields a single run adds for streaming under the default settings (none if off)."""
    from or_magic.core.settings import Settings
    from or_magic.run.request import RunSpec

    body = RunSpec("m", "p", stream=Settings().stream).body()
    return {k: v for k, v in body.items() if k not in ("model", "messages")}
