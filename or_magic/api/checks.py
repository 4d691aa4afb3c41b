"""What a call is refused for before anything is sent: body fields or_magic controls, input no
JSON body can carry, and options that cannot go together with --schema."""

from __future__ import annotations

from typing import Any, Mapping

from ..core.coerce import unsendable
from ..core.errors import InvalidOption
from ..core.params import PARAMS
from ..run.call import CallOptions
from ..run.schema import SchemaSpec, resolve_schema

# Body fields or_magic fills itself: a --param for one would send what .df and the history do not
# show (or break the run), so it is refused with the option that sets it.
CONTROLLED = {"model": "name the model on the line (%%openrouter MODEL) or with model=",
              "messages": "write the prompt in the cell, and use --system for a system message",
              "prompt": "write the prompt in the cell, and use --system for a system message",
              "stream": "use --stream / --no-stream (stream=True/False)"}


def check_extra(extra: Mapping[str, Any]) -> None:
    """Refuse `--param` keys that or_magic controls or that have an option of their own."""
    for name in extra:
        if name in CONTROLLED:
            raise InvalidOption(f"--param {name}: or_magic sets this field itself; {CONTROLLED[name]}")
        if name in PARAMS:
            raise InvalidOption(f"--param {name}: use {PARAMS[name].flag} (the Python API: {name}=) so the "
                                "result and the history show the value sent")


def check_sendable(prompt: str | None, options: CallOptions, var_items: Mapping[str, Any]) -> None:
    """Refuse, before sending, input that no JSON body can carry (a lone surrogate, NaN)."""
    inputs: list[tuple[str, Any]] = [("the cell text", prompt), ("--system", options.system),
                                     *((f"--{n.replace('_', '-')}", v) for n, v in options.params.items()),
                                     *((f"--param {n}", v) for n, v in options.extra.items()),
                                     *((f"{{{n}}}" if n != "the prompt" else n, v) for n, v in var_items.items())]
    for where, value in inputs:
        why = unsendable(value)
        if why:
            raise InvalidOption(f"{where} {why}")


def checked_schema(options: CallOptions, params: Mapping[str, Any],
                   variables: Mapping[str, Any]) -> SchemaSpec | None:
    """The resolved --schema, after refusing what cannot go with it."""
    if options.schema is None:
        return None
    flag = "--schema-multi" if options.schema_multi else "--schema"
    if options.choices:
        raise InvalidOption(f"--choices and {flag} together: --choices reads one token's probabilities, "
                            f"{flag} asks for a JSON answer; give one")
    if "response_format" in params or "response_format" in options.extra:
        raise InvalidOption(f"--response-format and {flag} together: {flag} sets response_format; give one")
    return resolve_schema(options.schema, variables, multi=options.schema_multi)


def routed_fields(options: CallOptions) -> dict[str, Any]:
    """The body fields of the routing and reasoning options; refuses the same field given twice."""
    fields = dict(options.routing.body_fields())
    if options.reasoning:
        fields["reasoning"] = options.reasoning
    for name in fields:
        if name in options.extra:
            raise InvalidOption(f"--param {name}=... and a routing or reasoning option together both set "
                                f"`{name}`: give one")
    return fields
