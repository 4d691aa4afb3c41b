"""`--max-cost`: refuse a sweep that could cost more, and stop launching runs once it has.

The worst case of a run is its model's prices (GET /models, USD per token as strings) times
an upper estimate of its prompt tokens plus its token limit (`max_tokens`, else the model's
own output limit).  Prompt tokens are estimated at one per 3 characters plus 4 per message,
above what real tokenizers give for text (about 4 characters per token), so the estimate errs
high.  Models the server lists without prices (local servers) cannot be estimated: their runs
are then capped by the running cost alone, and a note says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..core.coerce import to_float
from ..core.errors import InvalidOption, ORMagicError
from ..core.params import COMPLETIONS
from .request import Run

CHARS_PER_TOKEN = 3  # deliberately fewer than real tokenizers' ~4: the estimate must err high
TOKENS_PER_MESSAGE = 4


def prompt_token_estimate(run: Run) -> int:
    """An upper estimate of the prompt tokens of one run's request."""
    body = run.spec.body()
    if run.spec.endpoint == COMPLETIONS:
        texts = [str(body.get("prompt", ""))]
    else:
        texts = [str(m.get("content", "")) for m in body.get("messages", [])]
    return sum(math.ceil(len(t) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE for t in texts)


def _price(pricing: Mapping[str, Any], name: str) -> float | None:
    """A price in USD per token; None when it is unknown: OpenRouter lists variable-priced routers
    (`openrouter/auto`) at "-1", and a negative or unreadable price bounds nothing."""
    raw = pricing.get(name)
    if raw is None:
        return 0.0
    price = to_float(raw)
    return price if price is not None and math.isfinite(price) and price >= 0 else None


def output_limit(run: Run, model: Mapping[str, Any]) -> int | None:
    """The most tokens this run may generate: its own limit, else the model's."""
    for source in (run.spec.params, run.spec.extra):
        for name in ("max_tokens", "max_completion_tokens"):
            if isinstance(source.get(name), int):
                return source[name]
    top = model.get("top_provider") if isinstance(model.get("top_provider"), dict) else {}
    return top.get("max_completion_tokens") or model.get("context_length")


@dataclass
class Estimate:
    worst_cost: float  # USD, over the priced runs
    unpriced: list[str]  # models without prices: not in the estimate
    unbounded: list[str]  # priced models with no known output limit
    unknown: list[str] = field(default_factory=list)  # models whose listed prices bound nothing ("-1")


def estimate(runs: Iterable[Run], catalog: Mapping[str, Mapping[str, Any]]) -> Estimate:
    """The worst-case cost of `runs` given the catalog {model id: model object}."""
    total, unpriced, unbounded, unknown = 0.0, set(), set(), set()
    for run in runs:
        model = catalog.get(run.spec.model)
        pricing = model.get("pricing") if model and isinstance(model.get("pricing"), dict) else None
        if not pricing:
            unpriced.add(run.spec.model)
            continue
        prompt, completion, request = (_price(pricing, n) for n in ("prompt", "completion", "request"))
        if prompt is None or completion is None or request is None:
            unknown.add(run.spec.model)
            continue
        limit = output_limit(run, model)
        if limit is None:
            unbounded.add(run.spec.model)
            continue
        total += prompt_token_estimate(run) * prompt + limit * completion + request
    return Estimate(total, sorted(unpriced), sorted(unbounded), sorted(unknown))


def check_budget(runs: list[Run], max_cost: float, client: Any, yes: bool = False) -> list[str]:
    """Raise InvalidOption when the runs could cost more than `max_cost`, or when their worst case
    is unknown (variable prices) and `yes` does not accept that; returns notes."""
    from ..wire.catalogue import listing

    try:
        catalog = listing(client)  # kept per server, shared with the capability preflight
    except ORMagicError as exc:
        return [f"--max-cost: prices unavailable ({exc}); only the running cost is capped"]
    found = estimate(runs, catalog)
    notes = []
    if found.unknown:
        if not yes:
            raise InvalidOption(f"--max-cost {max_cost:g}: {', '.join(found.unknown)} has variable or unknown prices, "
                                "so the worst case is unknown; add --yes (yes=True) to run with only the "
                                "running cost capped, or name a concrete model")
        notes.append(f"--max-cost: variable prices for {', '.join(found.unknown)}; their runs are capped by "
                     "the running cost only")
    if found.unbounded:
        raise InvalidOption(f"--max-cost {max_cost:g}: no output limit known for {', '.join(found.unbounded)}, "
                            "so the worst case is unbounded; add --max-tokens N")
    if found.worst_cost > max_cost:
        raise InvalidOption(f"--max-cost {max_cost:g}: these {len(runs)} runs could cost up to "
                            f"${found.worst_cost:.4f}; lower --max-tokens, shrink the grid, or raise --max-cost")
    if found.unpriced:
        notes.append(f"--max-cost: no prices for {', '.join(found.unpriced)}; their runs are capped by the "
                     "running cost only")
    return notes


class Budget:
    """The running cost of a sweep against its cap; no cap means no limit."""

    def __init__(self, max_cost: float | None) -> None:
        self.max_cost = max_cost
        self.spent = 0.0

    def add(self, run: Run) -> None:
        cost = run.completion.cost if run.completion is not None else None
        if isinstance(cost, (int, float)) and not math.isnan(cost):
            self.spent += cost

    @property
    def reached(self) -> bool:
        return self.max_cost is not None and self.spent >= self.max_cost

    def why_skipped(self) -> str:
        return (f"not run: the sweep had spent ${self.spent:.6f}, reaching --max-cost ${self.max_cost:g}; "
                "raise --max-cost to run the rest")
