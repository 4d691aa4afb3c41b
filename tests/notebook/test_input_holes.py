"""Small input holes on the magic line: escapes in --stop, huge ints, keywords for -o, odd steps."""

from __future__ import annotations

import pytest

from or_magic.core.errors import InvalidOption
from or_magic.notebook.options import parse_line


@pytest.mark.parametrize("written, sent", [
    (r'"\n"', "\n"), (r'"\n\n"', "\n\n"), (r'"END\t"', "END\t"), (r"'\\n'", "\\n"),
    (r'"\u00e9"', "é"), (r'"a\x41"', "aA"), (r'"C:\path"', "C:\\path"),
])
def test_stop_understands_the_usual_escapes(written, sent):
    assert parse_line(f"m --stop {written}").params["stop"] == [[sent]]


@pytest.mark.parametrize("line, says", [
    ("m --seed 9223372036854775808", "64-bit"), ("m --seed -9223372036854775809", "64-bit"),
    ("m --max-tokens 99999999999999999999999", "64-bit"), ("m --stop ''", "empty"),
    ("m -o class", "keyword"), ("m -o None", "keyword"), ("m --out 1x", "variable name"),
    ("m --temperature 0:1:inf", "> 0 and finite"), ("m --temperature 0:1:1e-300", "larger step"),
    ("m --temperature 0:1:nan", "step"), ("m --seed 0:10:0", "step"),
])
def test_bad_values_are_one_line_errors(line, says):
    with pytest.raises(InvalidOption) as err:
        parse_line(line)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_largest_int64_seed_is_fine():
    assert parse_line("m --seed 9223372036854775807").params["seed"] == [2**63 - 1]


def test_a_two_billion_run_grid_with_yes_is_refused_before_planning(shell, server):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="more than or_magic ever runs"):
        shell.run("%%openrouter openai/gpt-4o-mini --seed 1:100000 --temperature 0:2:0.0001 --yes\nhi")
    assert not server.requests
