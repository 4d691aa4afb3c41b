import json

import pytest

from or_magic.core.errors import InvalidOption
from or_magic.core.params import PARAMS, check_params


@pytest.mark.parametrize("name,good,bad", [
    ("temperature", ["0", "2", "0.7"], ["-0.1", "2.01", "hot", "nan"]),
    ("top_p", ["1", "0.01"], ["0", "1.5"]),
    ("top_k", ["0", "40"], ["-1", "2.5"]),
    ("min_p", ["0", "1"], ["1.1"]),
    ("top_a", ["0.5"], ["-0.5"]),
    ("seed", ["-3", "42"], ["4.5", "x"]),
    ("max_tokens", ["1"], ["0"]),
    ("max_completion_tokens", ["16"], ["0"]),
    ("frequency_penalty", ["-2", "2"], ["-2.5", "3"]),
    ("presence_penalty", ["0"], ["2.1"]),
    ("repetition_penalty", ["2", "0.1"], ["0", "2.5"]),
    ("top_logprobs", ["0", "20"], ["21", "-1"]),
])
def test_numeric_ranges(name, good, bad):
    param = PARAMS[name]
    for value in good:
        param.check(value)
    for value in bad:
        with pytest.raises(InvalidOption) as err:
            param.check(value)
        message = str(err.value)
        assert param.flag in message and "\n" not in message
        assert "must be" in message


def test_range_text_names_the_bounds():
    assert PARAMS["temperature"].range_text() == "[0, 2]"
    assert PARAMS["top_p"].range_text() == "(0, 1]"
    assert PARAMS["max_tokens"].range_text() == "≥ 1"


def test_logit_bias_checked():
    assert check_params({"logit_bias": '{"50256": -100}'}) == {"logit_bias": {"50256": -100}}
    for bad in ['{"1": 101}', "[1]", '{"1": "x"}', "{oops"]:
        with pytest.raises(InvalidOption, match="--logit-bias"):
            check_params({"logit_bias": bad})


def test_response_format_shapes(tmp_path):
    check = PARAMS["response_format"].check
    assert check("json") == {"type": "json_object"}
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    wrapped = check(json.dumps(schema))
    assert wrapped["type"] == "json_schema" and wrapped["json_schema"]["schema"] == schema
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}))
    assert check(f"@{path}")["json_schema"]["name"] == "x"
    with pytest.raises(InvalidOption, match="cannot read"):
        check("@/no/such/file.json")


def test_tool_choice_and_tools():
    assert PARAMS["tool_choice"].check("auto") == "auto"
    assert PARAMS["tool_choice"].check("get_weather") == {"type": "function", "function": {"name": "get_weather"}}
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    assert PARAMS["tools"].check(json.dumps(tool)) == [tool]
    with pytest.raises(InvalidOption):
        PARAMS["tools"].check('"nope"')


def test_stop_at_most_four():
    assert check_params({"stop": ["a", "b"]}) == {"stop": ["a", "b"]}
    with pytest.raises(InvalidOption, match="at most 4"):
        check_params({"stop": list("abcde")})


def test_unknown_parameter():
    with pytest.raises(InvalidOption, match="unknown parameter 'temprature'"):
        check_params({"temprature": 1})
