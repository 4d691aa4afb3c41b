"""How money is shown: one format for every footer, bar and table."""

from __future__ import annotations

import math


def format_cost(cost: float | None) -> str:
    if cost is None or (isinstance(cost, float) and math.isnan(cost)):
        return "cost n/a"
    if cost == 0:
        return "$0"
    if 0 < cost < 0.0000005:  # would round to "$0." at six places: a cheap model's single call
        return "<$0.000001"
    return f"${cost:.6f}".rstrip("0")
