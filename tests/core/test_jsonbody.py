"""Body parsing: same values as json.loads, NaN/Infinity accepted, GC state restored."""

import gc
import json
import math

import pytest

from or_magic.core import jsonbody

BIG = json.dumps({"x": [{"token": "a", "logprob": -0.5}] * 20000}).encode()


@pytest.mark.parametrize("fast", [True, False])
def test_same_values_as_json(monkeypatch, fast):
    if not fast:
        monkeypatch.setattr(jsonbody, "orjson", None)
    assert len(BIG) > jsonbody.PAUSE_GC_ABOVE
    assert jsonbody.loads(BIG) == json.loads(BIG) and jsonbody.loads(b'{"a": 1}') == {"a": 1}
    value = jsonbody.loads(b'{"logprob": -Infinity, "x": NaN}')
    assert value["logprob"] == -math.inf and math.isnan(value["x"])
    with pytest.raises(ValueError):
        jsonbody.loads(b"{not json")


def test_gc_state_is_restored():
    assert gc.isenabled()
    jsonbody.loads(BIG)
    assert gc.isenabled()
    gc.disable()
    try:
        jsonbody.loads(BIG)
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- lone surrogates found precisely (a valid pair, as escaped emoji come, is not walked) ------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(["a", "\\", "\\\\", "u", "d83d", "\ud83d", "\ude42", "\U0001f642", "é", '"', "ud83d"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12), st.booleans())
def test_loads_equals_walking_every_string(pieces, ascii_only):
    """Only a lone surrogate (escaped or not) makes loads walk the body; the answer is always what
    walking every string gives."""
    from or_magic.core import jsonbody
    from or_magic.core.jsonbody import valid_strings

    text = json.dumps({"s": "".join(pieces), "k": ["".join(reversed(pieces))]}, ensure_ascii=ascii_only)
    raw = text.encode("utf-8", "surrogatepass")
    assert jsonbody.loads(raw) == valid_strings(json.loads(text))


def test_a_body_of_escaped_emoji_pairs_is_not_walked(monkeypatch):
    from or_magic.core import jsonbody

    monkeypatch.setattr(jsonbody, "valid_strings", lambda value: (_ for _ in ()).throw(AssertionError("walked")))
    body = json.dumps({"content": [{"token": "🙂 東京 café"}] * 100}).encode()  # \ud83d\ude42 escapes
    assert jsonbody.loads(body)["content"][0]["token"] == "🙂 東京 café"
