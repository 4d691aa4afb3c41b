"""The one cost format: a cheap model's call is not shown as "$0."."""

from or_magic.core.money import format_cost


def test_costs_keep_six_places_and_tiny_ones_say_so():
    assert format_cost(0) == "$0"
    assert format_cost(5.6e-6) == "$0.000006"
    assert format_cost(3.6e-7) == "<$0.000001"
    assert format_cost(None) == "cost n/a"
