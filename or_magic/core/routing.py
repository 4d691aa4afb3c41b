"""OpenRouter routing and reasoning options: what they accept and the body fields they make.

The magic line (notebook/options.py) and `complete()` both go through `Routing.checked()` and
`reasoning_field()`, so an option is checked, and its field built, in one place (OPENROUTER.md §9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import InvalidOption

PROVIDER_SORTS = ("price", "throughput", "latency")
QUANTIZATIONS = ("int4", "int8", "fp4", "fp6", "fp8", "fp16", "bf16", "fp32", "unknown")
DATA_COLLECTION = ("allow", "deny")
REASONING_EFFORTS = ("xhigh", "high", "medium", "low", "minimal", "none")

# The options of the magic line (flag, metavar or None for a switch, help); the argparse dest is the
# flag's name with _ for -, which is also complete()'s keyword (run/call.py CALL_KEYWORDS).
ROUTING_OPTIONS: tuple[tuple[str, str | None, str], ...] = (
    ("--provider", "NAME[,NAME...]", "only these providers, tried in this order (provider.order, allow_fallbacks false)"),
    ("--fallbacks", None, "with --provider: let OpenRouter go on to other providers (allow_fallbacks true)"),
    ("--sweep-providers", None, "with --provider a,b: one run per provider, each pinned (provider becomes a grid axis)"),
    ("--provider-sort", "|".join(PROVIDER_SORTS), "prefer the cheapest, fastest or quickest-to-answer provider"),
    ("--ignore-providers", "NAME[,NAME...]", "never these providers (provider.ignore)"),
    ("--quantizations", "Q[,Q...]", f"only providers serving these quantizations: {', '.join(QUANTIZATIONS)}"),
    ("--max-price", "PROMPT[,COMPLETION]", "skip providers dearer than this, USD per million prompt/completion tokens"),
    ("--data-collection", "|".join(DATA_COLLECTION), "deny: only providers that do not store or train on prompts"),
    ("--require-parameters", None, "only providers that list every parameter the call uses (provider.require_parameters)"),
    ("--fallback-models", "MODEL[,MODEL...]", "models to try when the model fails (the models list); the model "
                                              "column shows the one that answered"),
    ("--strict", None, "a capability note (a parameter the model's providers do not list) is an error"),
    ("--reasoning-effort", "|".join(REASONING_EFFORTS[1:4]), "how hard a reasoning model thinks (reasoning.effort; "
                                                             "also xhigh, minimal, none)"),
    ("--reasoning-max-tokens", "N", "a budget of reasoning tokens (reasoning.max_tokens)"),
    ("--reasoning-exclude", None, "think, but leave the reasoning out of the answer (reasoning.exclude)"),
)


def names(value: str | Sequence[str] | None, flag: str) -> tuple[str, ...]:
    """A comma list (or a Python sequence) of names, without blanks."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    found = tuple(str(v).strip() for v in items if str(v).strip())
    if not found:
        raise InvalidOption(f"{flag} {value!r}: name at least one, e.g. {flag} a,b")
    return found


def max_price(value: Any) -> dict[str, float] | None:
    """`--max-price PROMPT[,COMPLETION]` (USD per million tokens), or a dict {"prompt", "completion"}."""
    if value is None:
        return None
    if isinstance(value, dict):
        parts = {k: value[k] for k in ("prompt", "completion") if value.get(k) is not None}
        if set(value) - {"prompt", "completion", "request", "image"}:
            raise InvalidOption(f"max_price {value!r}: keys are prompt and completion (USD per million tokens)")
    else:
        given = list(value) if isinstance(value, (list, tuple)) else \
            [value] if isinstance(value, (int, float)) else [p.strip() for p in str(value).split(",")]
        if not 1 <= len(given) <= 2:
            raise InvalidOption(f"--max-price {value}: give PROMPT[,COMPLETION] in USD per million tokens, "
                                "e.g. --max-price 1,2")
        parts = dict(zip(("prompt", "completion"), given))
    try:
        checked = {k: float(v) for k, v in parts.items()}
    except (TypeError, ValueError):
        raise InvalidOption(f"--max-price {value}: prices must be numbers (USD per million tokens), "
                            "e.g. --max-price 1,2") from None
    if any(v < 0 for v in checked.values()) or not checked:
        raise InvalidOption(f"--max-price {value}: prices must be ≥ 0 USD per million tokens")
    return checked


def _one_of(flag: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidOption(f"{flag} {value}: must be one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Routing:
    """Where OpenRouter may send a call: the body's `provider` object and `models` fallback list."""

    providers: tuple[str, ...] = ()  # --provider: provider.order
    fallbacks: bool = False  # --fallbacks: let OpenRouter go past the named providers
    sort: str | None = None
    ignore: tuple[str, ...] = ()
    quantizations: tuple[str, ...] = ()
    max_price: dict[str, float] | None = None
    data_collection: str | None = None
    require_parameters: bool = False
    fallback_models: tuple[str, ...] = ()  # --fallback-models: the `models` list
    sweep_providers: bool = False  # one run per --provider, each pinned

    def checked(self) -> "Routing":
        """This, after refusing what cannot be sent; raises InvalidOption."""
        _one_of("--provider-sort", self.sort, PROVIDER_SORTS)
        _one_of("--data-collection", self.data_collection, DATA_COLLECTION)
        for q in self.quantizations:
            _one_of("--quantizations", q, QUANTIZATIONS)
        if self.sweep_providers and not self.providers:
            raise InvalidOption("--sweep-providers needs the providers to sweep: add --provider a,b")
        return self

    def provider_field(self, pinned: str | None = None) -> dict[str, Any]:
        """The `provider` object ({} when nothing is asked); `pinned`: this one provider only."""
        order = [pinned] if pinned is not None else list(self.providers)
        field: dict[str, Any] = {}
        if order:
            field["order"] = order
            field["allow_fallbacks"] = self.fallbacks
        for key, value in (("sort", self.sort), ("ignore", list(self.ignore)),
                           ("quantizations", list(self.quantizations)), ("max_price", self.max_price),
                           ("data_collection", self.data_collection)):
            if value:
                field[key] = value
        if self.require_parameters:
            field["require_parameters"] = True
        return field

    def body_fields(self, pinned: str | None = None) -> dict[str, Any]:
        """The body fields routing adds: `provider` and `models`, each only when asked."""
        fields: dict[str, Any] = {}
        provider = self.provider_field(pinned)
        if provider:
            fields["provider"] = provider
        if self.fallback_models:
            fields["models"] = list(self.fallback_models)
        return fields


def reasoning_field(effort: str | None = None, max_tokens: Any = None, exclude: bool = False) -> dict[str, Any] | None:
    """The body's `reasoning` object, or None when no reasoning option is given."""
    _one_of("--reasoning-effort", effort, REASONING_EFFORTS)
    if effort is not None and max_tokens is not None:
        raise InvalidOption("--reasoning-effort and --reasoning-max-tokens together: OpenRouter takes one; give one")
    field: dict[str, Any] = {}
    if effort is not None:
        field["effort"] = effort
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not str(max_tokens).strip().isdigit() or int(max_tokens) < 1:
            raise InvalidOption(f"--reasoning-max-tokens {max_tokens}: must be an integer ≥ 1")
        field["max_tokens"] = int(max_tokens)
    if exclude:
        field["exclude"] = True
    return field or None
