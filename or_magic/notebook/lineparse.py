"""Reading a magic line: one shlex rule and one argparse adapter for `%%openrouter` and every
`%openrouter` subcommand, so quoting and bad-input errors behave the same everywhere.

Bad input raises `InvalidOption` with one line naming the problem (the magic shows it as a
UsageError); argparse never prints or exits.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from ..core.errors import InvalidOption


class LineParser(argparse.ArgumentParser):
    """argparse that raises InvalidOption (one line, ending in `hint`) instead of printing and exiting."""

    def __init__(self, *args: Any, hint: str, **kwargs: Any) -> None:
        super().__init__(*args, add_help=False, allow_abbrev=False, **kwargs)
        self.hint = hint

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse quotes what it did not understand, which may hold newlines: keep one line.
        one_line = message.replace("\r", "\\r").replace("\n", "\\n")
        raise InvalidOption(f"{self.prog_prefix()}{one_line} ({self.hint})")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise InvalidOption(f"{self.prog_prefix()}{message or self.hint}")

    def prog_prefix(self) -> str:
        return "" if self.prog.startswith("%%") else f"{self.prog}: "


def split_line(line: str, prog: str = "") -> list[str]:
    """The words of a magic line, as a shell would split them."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        where = f"{prog}: " if prog else ""
        raise InvalidOption(f"{where}cannot split the line: {exc} (check the quotes)") from None


HISTORY_PROG = "%openrouter history"


def _history_parser() -> LineParser:
    from ..store.history_query import DEFAULT_LIMIT

    parser = LineParser(prog=HISTORY_PROG, hint="filters: --model TEXT --grep TEXT --since WHEN --until WHEN "
                                                "--errors --chat NAME --limit N --full")
    parser.add_argument("--model")
    parser.add_argument("--grep")
    parser.add_argument("--since")
    parser.add_argument("--until")
    parser.add_argument("--errors", action="store_true")
    parser.add_argument("--chat")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT)
    parser.add_argument("--full", action="store_true")
    return parser


def parse_filters(line: str) -> dict[str, Any]:
    """The `%openrouter history` line as keyword arguments for `or_magic.history()`."""
    return vars(_history_parser().parse_args(split_line(line, HISTORY_PROG)))
