"""What one call asks for, parsed and checked: the models, the value lists of the options, and what
to do with the result.  The magic line (notebook/options.py) and the Python API both produce it;
building it needs no argparse, so `import or_magic.api` stays light."""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import InvalidOption
from ..core.routing import Routing, max_price, names, reasoning_field


RESUME_AUTO = "auto"  # --resume auto: resume the matching sweep if any, else run it afresh


@dataclass
class CallOptions:
    """A parsed magic line: what to send, and what to do with the result."""

    models: list[str] = field(default_factory=list)  # empty: the configured default model
    params: dict[str, list[Any]] = field(default_factory=dict)  # wire name → values (>1 = sweep axis)
    system: str | None = None
    endpoint: str | None = None
    stream: bool | None = None  # None: the `stream` setting
    widgets: bool = False  # --widgets: show the panel of controls (widgets.py)
    samples: int = 1
    out: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # --param KEY=JSON
    cache: bool | None = None  # None: the `cache` setting
    choices: list[str] = field(default_factory=list)  # --choices labels: classify by first-token logprobs
    vars: dict[str, Any] = field(default_factory=dict)  # template name → namespace path or sequence (an axis)
    concurrency: int | None = None  # None: the `concurrency` setting
    max_cost: float | None = None  # USD; None: no cap
    yes: bool = False  # run a grid larger than the `max_runs` setting
    schema: Any = None  # --schema / --schema-multi SPEC (text, dict or pydantic class); see run/schema.py
    schema_multi: bool = False  # the SPEC describes one item of a list (--schema-multi)
    chat: str | None = None  # --chat NAME: the conversation this cell is a turn of (conversation.py)
    continue_from: int | None = None  # --continue RUN_ID: start the conversation from that recorded answer
    max_history: int | None = None  # --max-history N: send at most the last N turns
    cell: str | None = None  # the notebook cell's id (which turn a re-run replaces); None: always a new turn
    routing: Routing = field(default_factory=Routing)  # --provider, --fallback-models, ... (core/routing.py)
    reasoning: dict[str, Any] | None = None  # the body's `reasoning` object
    strict: bool = False  # --strict: a preflight note is an error
    # --resume [SWEEP_ID]: True finds the newest recorded sweep of the same grid; a sweep id names
    # one; RESUME_AUTO resumes it when there is one and starts the sweep otherwise (map_rows re-runs
    # a partition this way).  Only the runs without a successful row are sent (api/resuming.py).
    resume: bool | str = False

    @property
    def in_conversation(self) -> bool:
        return self.chat is not None or self.continue_from is not None

    def check(self) -> "CallOptions":
        """Refuse what cannot be run, with the same one-line errors from the magic and the API."""
        if not isinstance(self.samples, int) or isinstance(self.samples, bool) or self.samples < 1:
            raise InvalidOption(f"--samples {self.samples!r}: must be an integer ≥ 1")
        if self.out is not None and (not self.out.isidentifier() or keyword.iskeyword(self.out)):
            raise InvalidOption(f"--out {self.out!r}: must be a Python variable name (not a keyword)")
        if self.concurrency is not None and (isinstance(self.concurrency, bool) or not isinstance(
                self.concurrency, int) or self.concurrency < 1):
            raise InvalidOption(f"--concurrency {self.concurrency!r}: must be an integer ≥ 1")
        if self.max_cost is not None and (isinstance(self.max_cost, bool) or not isinstance(self.max_cost, (int, float))
                                          or not math.isfinite(self.max_cost) or not self.max_cost > 0):
            raise InvalidOption(f"--max-cost {self.max_cost!r}: must be a positive amount of USD, e.g. --max-cost 0.50")
        if isinstance(self.resume, str) and not self.resume.strip():
            raise InvalidOption("--resume '': name a sweep (an id from %openrouter sweeps), or give --resume alone")
        for name, values in self.params.items():
            if not values:
                raise InvalidOption(f"--{name.replace('_', '-')}: no values given; give at least one")
        return self


# complete()'s keyword arguments for routing and reasoning (the rest of **params are sampling params).
ROUTING_KWARGS = ("provider", "fallbacks", "provider_sort", "ignore_providers", "quantizations", "max_price",
                  "data_collection", "require_parameters", "fallback_models", "sweep_providers")
REASONING_KWARGS = ("reasoning_effort", "reasoning_max_tokens", "reasoning_exclude")
CALL_KEYWORDS = (*ROUTING_KWARGS, *REASONING_KWARGS, "strict")  # also the magic's argparse dests


def routing_options(given: dict[str, Any]) -> tuple[Routing, dict[str, Any] | None, bool]:
    """Take the routing, reasoning and `strict` keywords out of `given` (complete()'s **params) and
    check them: (routing, the `reasoning` field, strict)."""
    take = {name: given.pop(name) for name in CALL_KEYWORDS if name in given}
    routing = Routing(
        providers=names(take.get("provider"), "--provider"), fallbacks=bool(take.get("fallbacks")),
        sort=take.get("provider_sort"), ignore=names(take.get("ignore_providers"), "--ignore-providers"),
        quantizations=names(take.get("quantizations"), "--quantizations"),
        max_price=max_price(take.get("max_price")), data_collection=take.get("data_collection"),
        require_parameters=bool(take.get("require_parameters")),
        fallback_models=names(take.get("fallback_models"), "--fallback-models"),
        sweep_providers=bool(take.get("sweep_providers"))).checked()
    reasoning = reasoning_field(take.get("reasoning_effort"), take.get("reasoning_max_tokens"),
                                bool(take.get("reasoning_exclude")))
    return routing, reasoning, bool(take.get("strict"))
