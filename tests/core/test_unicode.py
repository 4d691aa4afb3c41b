"""Text that is not valid Unicode: made storable and displayable, or refused before sending."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from or_magic.core import jsonbody
from or_magic.core.coerce import unsendable, valid_unicode

any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF))  # surrogates included


@given(any_text)
def test_valid_unicode_always_encodes_and_keeps_valid_text(text):
    cleaned = valid_unicode(text)
    cleaned.encode("utf-8")
    try:
        text.encode("utf-8")
        assert cleaned == text
    except UnicodeEncodeError:
        assert len(cleaned) <= len(text)


@given(st.text(), st.text(), st.sampled_from(["\U0001F600", "\U0001D518", "\U0010FFFD"]))
def test_a_surrogate_pair_split_in_two_is_joined(before, after, char):
    high, low = json.loads(json.dumps(char)[:7] + '"'), json.loads('"' + json.dumps(char)[7:])
    assert len(high) == len(low) == 1
    assert valid_unicode(before + high + low + after) == before + char + after


def test_json_bodies_with_lone_surrogates_parse_to_valid_text():
    data = jsonbody.loads(b'{"choices": [{"message": {"content": "a\\ud800b \\ud83d\\ude00"}}]}')
    assert data["choices"][0]["message"]["content"] == "a\ufffdb \U0001F600"


@given(any_text)
def test_unsendable_text_is_named(text):
    try:
        text.encode("utf-8")
        assert unsendable(text) is None
    except UnicodeEncodeError:
        assert "lone surrogate" in unsendable({"messages": [text]})


def test_nan_and_infinity_cannot_be_sent():
    assert "NaN" in unsendable({"x": [float("nan")]}) and "inf" in unsendable(float("inf"))
    assert unsendable({"x": 1.5, "y": [1, "ok", None]}) is None
