"""The magic's per-cell work that is kept between cells (options.parse_line, OpenRouterMagics.settings)
gives the same answers as doing it afresh, and never shares mutable state between cells."""

import json

from or_magic.notebook import options
from or_magic.notebook.options import parse_line

LINE = ("a/b,c/d -t 0,0.5 --seed 1 --stop '\\n' --param 'provider={\"sort\":\"price\"}' "
        "--choices yes,no --vars topic=topics --reasoning-effort low -o r")


def test_a_kept_line_gives_fresh_equal_options_each_time():
    first, second = parse_line(LINE), parse_line(LINE)
    assert first == second == options._parse(LINE)  # the same as parsing it afresh
    assert first is not second
    for name in ("models", "params", "extra", "choices", "vars", "reasoning"):
        assert getattr(first, name) is not getattr(second, name), name
    assert first.params["temperature"] is not second.params["temperature"]
    assert first.extra["provider"] is not second.extra["provider"]
    # what a cell (or the magic: options.cell) changes stays in that cell's options
    first.models.append("x/y")
    first.params["temperature"].append(1.0)
    first.extra["provider"]["sort"] = "latency"
    first.cell = "cell-1"
    third = parse_line(LINE)
    assert third == second and third.cell is None and third.extra["provider"] == {"sort": "price"}


def test_a_line_naming_a_file_is_read_again_every_time(tmp_path):
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"type": "function", "function": {"name": "one", "parameters": {}}}]))
    line = f"a/b --tools @{tools}"
    assert parse_line(line).params["tools"][0][0]["function"]["name"] == "one"
    tools.write_text(json.dumps([{"type": "function", "function": {"name": "two", "parameters": {}}}]))
    assert parse_line(line).params["tools"][0][0]["function"]["name"] == "two"
    assert line not in options._PARSED


def test_bad_lines_are_refused_every_time_and_not_kept():
    import pytest

    from or_magic.core.errors import InvalidOption

    for _ in range(2):
        with pytest.raises(InvalidOption):
            parse_line("a/b --temperature 9")
    assert "a/b --temperature 9" not in options._PARSED


def test_the_kept_lines_are_bounded(monkeypatch):
    monkeypatch.setattr(options, "_PARSED", {})
    for n in range(options.PARSED_KEPT + 5):
        parse_line(f"a/b --seed {n}")
    assert len(options._PARSED) <= options.PARSED_KEPT


def test_settings_follow_config_and_in_place_list_changes(shell):
    magics = shell.magics
    first = magics.settings()
    assert magics.settings() is first  # unchanged traits: the same Settings
    shell.run("%config OpenRouterMagics.timeout = 12.5")
    assert magics.settings().timeout == 12.5
    magics.completions_models.append("my/*-instruct")  # a list trait changed in place, no %config
    assert "my/*-instruct" in magics.settings().completions_models
    shell.run("%config OpenRouterMagics.timeout = 600.0")
    assert magics.settings().timeout == 600.0
