"""The routing and reasoning options' pure parts: what they accept and the body fields they make."""

import pytest

from or_magic.core.errors import InvalidOption
from or_magic.core.routing import Routing, max_price, reasoning_field


def test_max_price_forms():
    assert max_price((1, 2)) == max_price("1,2") == max_price({"prompt": 1, "completion": 2}) == \
        {"prompt": 1.0, "completion": 2.0}
    assert max_price(0.5) == {"prompt": 0.5}


def test_body_fields_pin_one_provider_for_a_sweep():
    routing = Routing(providers=("a", "b"), sort="price", require_parameters=True, sweep_providers=True)
    assert routing.body_fields() == {"provider": {"order": ["a", "b"], "allow_fallbacks": False, "sort": "price",
                                                  "require_parameters": True}}
    assert routing.body_fields(pinned="b")["provider"]["order"] == ["b"]
    assert Routing().body_fields() == {}


def test_reasoning_field():
    assert reasoning_field() is None
    assert reasoning_field("minimal", exclude=True) == {"effort": "minimal", "exclude": True}
    with pytest.raises(InvalidOption, match="--reasoning-max-tokens x: must be an integer ≥ 1"):
        reasoning_field(max_tokens="x")
