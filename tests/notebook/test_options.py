import pytest

from or_magic.core.errors import InvalidOption
from or_magic.core.params import PARAMS
from or_magic.notebook.options import HELP, parse_line


def test_full_line():
    opts = parse_line("openai/gpt-3.5-turbo-instruct --temperature 0.7 --top-p 0.9 --seed 42 "
                      "--max-tokens 32 --top-logprobs 5 -o r --stop '\\n' --stop END "
                      "--system 'be brief' --param 'provider={\"sort\":\"price\"}' --param user=alice")
    assert opts.models == ["openai/gpt-3.5-turbo-instruct"]
    assert opts.params == {"temperature": [0.7], "top_p": [0.9], "seed": [42], "max_tokens": [32],
                           "stop": [["\n", "END"]], "top_logprobs": [5]}
    assert opts.out == "r" and opts.system == "be brief"
    assert opts.extra == {"provider": {"sort": "price"}, "user": "alice"}


def test_lists_make_sweep_axes():
    opts = parse_line("a/b,c/d -t 0,0.5,1 --seed 1,2")
    assert opts.models == ["a/b", "c/d"]
    assert opts.params == {"temperature": [0.0, 0.5, 1.0], "seed": [1, 2]}


@pytest.mark.parametrize("line,needle", [
    ("--temperature 3", "--temperature 3: must be [0, 2]"),
    ("--top-logprobs 25", "--top-logprobs 25: must be [0, 20]"),
    ("--logit-bias '{bad'", "--logit-bias"),
    ("--no-such-option 1", "unrecognized arguments"),
    ("--temperature 0,,1", "empty item"),
    ("-o 1abc", "--out"),
    ("--samples 0", "--samples"),
    ("--param novalue", "KEY=JSON"),
    ("--system 'unclosed", "quotes"),
])
def test_bad_lines_are_one_line_errors(line, needle):
    with pytest.raises(InvalidOption) as err:
        parse_line(line)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_help_lists_every_option_with_range():
    for param in PARAMS.values():
        assert param.flag in HELP
    assert "[0, 2]" in HELP and "(0, 1]" in HELP and "[0, 20]" in HELP
    assert "%%openrouter" in HELP
