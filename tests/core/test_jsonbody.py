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
