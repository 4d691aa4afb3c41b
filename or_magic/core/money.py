"""How money is shown: one format for every footer, bar and table."""

from __future__ import annotations

import math


def format_cost(cost: float | None) -> str:
    if cost is None or (isinstance(cost, float) and math.isnan(cost)):
        return "cost n/a"
    return "$0" if cost == 0 else f"${cost:.6f}".rstrip("0")
