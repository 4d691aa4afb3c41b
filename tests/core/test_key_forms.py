"""The key, read and scrubbed: whitespace stripped, unsendable keys refused, escaped forms redacted."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from or_magic.core.errors import ConfigError
from or_magic.core.secrets import REDACTED, scrub, scrub_bytes, scrub_json, sendable_key
from or_magic.core.settings import Settings

KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"
keys = st.builds(lambda tail: "sk-or-v1-" + tail, st.text(min_size=8, max_size=40))


@pytest.mark.parametrize("raw", [KEY + "\n", KEY + "\r\n", f"  {KEY}\t", f"\n{KEY}\n\n"])
def test_surrounding_whitespace_is_dropped(monkeypatch, raw):
    monkeypatch.setenv("OR_TEST_KEY", raw)
    assert Settings(api_key_env="OR_TEST_KEY").api_key() == KEY


@pytest.mark.parametrize("raw", [KEY[:10] + "\n" + KEY[10:], KEY + "é", KEY + "\x01", "sk-or\x7f" + KEY, KEY[:12] + "\u2028" + KEY[12:]])
def test_unsendable_key_is_a_config_error_naming_the_variable_not_the_key(monkeypatch, raw):
    monkeypatch.setenv("OR_TEST_KEY", raw)
    with pytest.raises(ConfigError) as err:
        Settings(api_key_env="OR_TEST_KEY").api_key()
    text = str(err.value)
    assert "$OR_TEST_KEY" in text and "\n" not in text
    assert KEY[10:30] not in text and KEY[:10] not in text


def test_blank_key_counts_as_missing():
    assert sendable_key(" \r\n", "X") is None and sendable_key(None, "X") is None


def escaped_forms(key: str) -> list[str]:
    raw = key.encode("utf-8", "surrogatepass")
    return [key, repr(key), json.dumps(key), json.dumps(key, ensure_ascii=False), repr(raw),
            repr(b"Bearer " + raw + b"\n"), key.encode("unicode_escape").decode()]


@given(key=keys, before=st.text(max_size=20), after=st.text(max_size=20))
def test_scrub_removes_every_escaped_form(key, before, after):
    for form in escaped_forms(key):
        cleaned = scrub(before + form + after, key)
        for leaked in escaped_forms(key):
            inner = leaked.strip("'\"b")
            assert inner not in cleaned or inner in before + after or inner in REDACTED


@given(key=keys)
def test_scrub_bytes_and_json_remove_escaped_forms(key):
    body = {"error": {"message": f"bad {key!r}", "metadata": {"raw": json.dumps({"k": key})}}}
    assert key not in json.dumps(scrub_json(body, key), ensure_ascii=False)
    assert json.dumps(key)[1:-1] not in json.dumps(scrub_json(body, key))
    content = json.dumps(body).encode()
    assert json.dumps(key)[1:-1].encode() not in scrub_bytes(content, key)
