"""The `%%openrouter` line: an argparse parser derived from the parameter table.

Parsing is kept apart from execution: `parse_line` turns the line into `CallOptions` (checked
values, nothing sent), or raises `InvalidOption` with a one-line message naming the option and
what it accepts.  The parser's help text is the magic's docstring, so `%%openrouter?` lists
every option with its range.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from typing import Any

from ..analysis.choices import parse_labels
from ..core.errors import InvalidOption
from ..core.params import ENDPOINTS, PARAMS, Param, check_params
from ..core.routing import ROUTING_OPTIONS
from ..run.call import CALL_KEYWORDS, CallOptions, routing_options
from ..run.grid import param_values, parse_vars
from ..run.schema import STRUCTURED_OUTPUTS_HINT
from .lineparse import LineParser, split_line

USAGE = "%%%%openrouter [MODEL[,MODEL...]] [options]   (the cell text is the prompt)"


_METAVARS = {"json": "JSON", "format": "json|SCHEMA|@FILE", "tools": "JSON|@FILE", "tool_choice": "MODE|NAME",
             "str": "TEXT"}


def _add_param(parser: argparse.ArgumentParser, param: Param) -> None:
    flags = [param.flag] + ([param.short] if param.short else [])
    rng = param.range_text()
    if param.kind == "bool":
        parser.add_argument(*flags, dest=param.name, action="store_const", const=True, help=param.help)
        return
    if param.repeatable:
        parser.add_argument(*flags, dest=param.name, action="append", metavar="TEXT", help=param.help)
        return
    metavar = "X[,X...]" if param.sweepable else _METAVARS.get(param.kind, "VALUE")
    text = param.help + (f"; {rng}" if rng and param.kind in ("int", "float") else "")
    if param.sweepable:
        text += "; a comma list or a START:END[:STEP] range sweeps it"
    parser.add_argument(*flags, dest=param.name, metavar=metavar, help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = LineParser(prog="%%%%openrouter", usage=USAGE, hint="see %%openrouter? for every option",
                     description="Send the cell text to an OpenRouter model. Options not given are "
                                 "left out of the request, so the provider's defaults apply. "
                                 "{name} in the cell is filled from the notebook; {{name}} stays literal.")
    parser.add_argument("models", nargs="?", metavar="MODEL[,MODEL...]",
                        help="model id(s), e.g. openai/gpt-4o-mini; default: %%config OpenRouterMagics.model")
    sampling = parser.add_argument_group("request parameters (wire name = option name with _ for -)")
    for param in PARAMS.values():
        _add_param(sampling, param)
    call = parser.add_argument_group("call")
    call.add_argument("--system", metavar="TEXT", help="system message (chat) or prompt prefix (completions)")
    call.add_argument("--widgets", action="store_true",
                      help="show controls (model, temperature, top_p, seed, max_tokens, logprobs) that re-run the cell")
    call.add_argument("--endpoint", choices=ENDPOINTS,
                      help="chat or completions; default: completions for legacy instruct/base models, else chat")
    call.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                      help="stream tokens into the output as they arrive (default: on for a single run)")
    call.add_argument("--cache", action=argparse.BooleanOptionalAction, default=None,
                      help="answer a repeated request that has a seed or temperature 0 from the history, "
                           "at no cost (default: %%config OpenRouterMagics.cache); --no-cache forces a new call")
    call.add_argument("-n", "--samples", type=int, default=1, metavar="N", help="repeat each run N times")
    sweep = parser.add_argument_group("sweeps (a comma list or START:END[:STEP] range on an option, "
                                      "several models, -n, or --vars make a grid)")
    sweep.add_argument("--vars", action="append", default=[], metavar="NAME=VARIABLE",
                       help="fill {NAME} from each item of the list/Series/column VARIABLE: one run per item "
                            "(repeatable; several multiply)")
    sweep.add_argument("--concurrency", type=int, metavar="N",
                       help="requests in flight at once; default: %%config OpenRouterMagics.concurrency")
    sweep.add_argument("--max-cost", type=float, metavar="USD",
                       help="refuse a sweep whose worst case costs more; stop launching runs once spent")
    sweep.add_argument("--rate", metavar="N/min|N/s",
                       help="start requests at most this often, evenly spaced, retries included, e.g. 20/min "
                            "(OpenRouter's free models) or 5/s; also /sec, /second, /minute")
    sweep.add_argument("--yes", action="store_true", help="run a grid larger than max_runs")
    sweep.add_argument("--resume", nargs="?", const=True, default=False, metavar="SWEEP_ID",
                       help="finish an interrupted sweep of this cell: send only the runs with no successful row "
                            "in the history (failed, cancelled and budget-skipped runs are sent again) and show "
                            "them all, old and new; alone, the newest sweep of the same runs; SWEEP_ID names "
                            "one (%%openrouter sweeps lists them); 'auto' resumes when there is one to resume "
                            "and runs the sweep afresh when there is none")
    call.add_argument("-o", "--out", metavar="NAME", help="also store the result in the variable NAME")
    call.add_argument("--param", action="append", default=[], metavar="KEY=JSON",
                      help="any other body field, e.g. --param 'provider={\"sort\":\"price\"}' (repeatable)")
    chat = parser.add_argument_group("conversations (%openrouter chat NAME shows one; %openrouter chats lists them)")
    chat.add_argument("--chat", nargs="?", const="default", metavar="NAME",
                      help="send the cell as the next turn of conversation NAME (default: 'default'), with its "
                           "earlier turns; re-running the cell replaces its turn")
    chat.add_argument("--continue", dest="continue_from", type=int, metavar="RUN_ID",
                      help="start the conversation from a recorded answer (an id of %%openrouter history), "
                           "of this session or an earlier one: resume or fork from any turn")
    chat.add_argument("--max-history", type=int, metavar="N",
                      help="send at most the last N earlier turns (the oldest are dropped, with a note)")
    call.add_argument("--choices", metavar="A,B,...",
                      help="classify: ask for one token with top logprobs (20 unless --top-logprobs) and show "
                           "each label's probability, normalised over the labels (result.choices)")
    structured = parser.add_argument_group("structured output (parsed into r.data and typed r.df columns)")
    structured.add_argument("--schema", metavar="SPEC",
                            help="ask for JSON fitting SPEC and parse it: fields like 'name, age int, score float, "
                                 "tags list, summary: one sentence' (type after the name, str when none; a description "
                                 "after a colon), an inline JSON schema, @file.json, or a notebook variable holding a "
                                 "JSON-schema dict or a pydantic model class; sent strict as response_format json_schema")
    structured.add_argument("--schema-multi", metavar="SPEC",
                            help="like --schema, for a list of such objects ({\"items\": [...]} on the wire); "
                                 "one row per item in r.items")
    _add_routing(parser)
    structured.add_argument("--structured-outputs", nargs="?", action=_Explain, metavar="TRUE",
                            help="not an option: " + STRUCTURED_OUTPUTS_HINT.split(": ", 1)[1].replace("%", "%%"))
    return parser


def _add_routing(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("OpenRouter routing and reasoning (the body's provider, models and "
                                      "reasoning fields; README \"OpenRouter routing\")")
    for flag, metavar, text in ROUTING_OPTIONS:
        if metavar is None:
            group.add_argument(flag, action="store_true", help=text)
        else:
            group.add_argument(flag, metavar=metavar, help=text)


class _Explain(argparse.Action):
    """An option users read about (the parameter table of a model lists it) that is not a request field."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        raise InvalidOption(STRUCTURED_OUTPUTS_HINT)


PARSER = build_parser()
HELP = PARSER.format_help()


_PARSED: dict[str, CallOptions] = {}  # line → its options, as parsed the first time
PARSED_KEPT = 256


def parse_line(line: str) -> CallOptions:
    """Parse a magic line into checked `CallOptions`; raises InvalidOption on bad input.

    A notebook re-runs the same lines, and splitting and argparse cost more than the rest of a
    cell's client work, so a line's options are kept and each call gets its own deep copy (the
    magic sets fields on them).  A line naming a file (`--tools @f.json`) is parsed every time:
    the file is read then."""
    kept = _PARSED.get(line)
    if kept is None:
        kept = _parse(line)
        if "@" not in line:
            if len(_PARSED) >= PARSED_KEPT:
                _PARSED.clear()
            _PARSED[line] = kept
    return _fresh(kept)


_SCALARS = (str, int, float, bool, type(None))


def _fresh(options: CallOptions) -> CallOptions:
    """A copy no change to which reaches the kept options: every list and dict is new (routing is
    frozen and shared).  Several times faster than copy.deepcopy."""
    fresh = copy.copy(options)
    for name in ("models", "params", "extra", "choices", "vars", "reasoning"):
        setattr(fresh, name, _copied(getattr(options, name)))
    return fresh


def _copied(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if type(value) is list:
        return [_copied(v) for v in value]
    if type(value) is dict:
        return {k: _copied(v) for k, v in value.items()}
    return copy.deepcopy(value)


def _parse(line: str) -> CallOptions:
    ns = PARSER.parse_args(_attach_negative_values(split_line(line)))
    if ns.schema is not None and ns.schema_multi is not None:
        raise InvalidOption("--schema and --schema-multi together: give one (--schema-multi asks for a list of objects)")
    if ns.max_history is not None and ns.max_history < 0:
        raise InvalidOption(f"--max-history {ns.max_history}: must be an integer ≥ 0 (earlier turns to send)")
    if ns.chat is not None and "/" in ns.chat and not ns.models:
        raise InvalidOption(f"--chat {ns.chat}: that looks like a model id; the model goes first: "
                            f"%%openrouter {ns.chat} --chat [NAME]")
    if ns.chat is not None and not ns.chat.strip():
        raise InvalidOption("--chat '': name the conversation, e.g. --chat plans, or give --chat alone for 'default'")
    if isinstance(ns.resume, str) and "/" in ns.resume and not ns.models:
        raise InvalidOption(f"--resume {ns.resume}: that looks like a model id; the model goes first: "
                            f"%%openrouter {ns.resume} ... --resume [SWEEP_ID]")
    models = [m.strip() for m in (ns.models or "").split(",") if m.strip()]
    routing, reasoning, strict = routing_options({k: v for k, v in vars(ns).items()
                                                  if k in CALL_KEYWORDS and v not in (None, False)})
    return CallOptions(models=models, widgets=ns.widgets, routing=routing, reasoning=reasoning, strict=strict,
                       params=_param_values(ns), system=ns.system, endpoint=ns.endpoint,
                       stream=ns.stream, samples=ns.samples, out=ns.out, extra=parse_extra(ns.param),
                       cache=ns.cache, choices=parse_labels(ns.choices) if ns.choices is not None else [],
                       vars=parse_vars(ns.vars), concurrency=ns.concurrency, max_cost=ns.max_cost, yes=ns.yes,
                       rate=ns.rate,
                       schema=ns.schema if ns.schema_multi is None else ns.schema_multi,
                       schema_multi=ns.schema_multi is not None,
                       chat=ns.chat, continue_from=ns.continue_from, max_history=ns.max_history,
                       resume=ns.resume).check()


_SWEEP_FLAGS = {flag: p.flag for p in PARAMS.values() if p.sweepable for flag in (p.flag, p.short) if flag}
_SWEEP_FLAGS["--rate"] = "--rate"  # so `--rate -2/s` says why a rate cannot be negative
_NEGATIVE = re.compile(r"-\.?\d")


def _attach_negative_values(words: list[str]) -> list[str]:
    """`--frequency-penalty -1:1:0.5` as `--frequency-penalty=-1:1:0.5`: argparse would take a
    list or range that starts with a minus for an option (it only knows plain negative numbers)."""
    out: list[str] = []
    for word in words:
        if out and out[-1] in _SWEEP_FLAGS and _NEGATIVE.match(word):
            out[-1] = f"{_SWEEP_FLAGS[out[-1]]}={word}"
        else:
            out.append(word)
    return out


def _param_values(ns: argparse.Namespace) -> dict[str, list[Any]]:
    given = {p.name: getattr(ns, p.name) for p in PARAMS.values() if getattr(ns, p.name) is not None}
    if "stop" in given:  # a magic line cannot hold a newline: --stop "\n" means one
        given["stop"] = [unescape(text) for text in given["stop"]]
    return {name: param_values(PARAMS[name], value) for name, value in given.items()}


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[ntr0\\'\"])")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def unescape(text: str) -> str:
    """The usual backslash escapes (\\n \\t \\r \\0 \\\\ \\' \\" \\xHH \\uHHHH) in a --stop text; any
    other backslash stays as written."""
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code[1:], 16)) if code[0] in "ux" else _SIMPLE[code]

    return _ESCAPE.sub(one, text)


def parse_extra(pairs: list[str]) -> dict[str, Any]:
    """`--param KEY=JSON` pairs as body fields; a value that is not JSON is taken as a string."""
    extra: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidOption(f"--param {pair!r}: must be KEY=JSON, e.g. --param 'reasoning={{\"effort\":\"low\"}}'")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            if text.lstrip().startswith(("{", "[")):
                raise InvalidOption(f"--param {key}: {text!r} is not valid JSON") from None
            value = text
        extra[key] = check_params({key: value})[key] if key in PARAMS else value
    return extra
