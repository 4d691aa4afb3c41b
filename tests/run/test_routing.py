"""Routing and reasoning options: exact request bodies, --sweep-providers as an axis, the provider, fallback
model and reasoning columns."""

import pytest
from IPython.core.error import UsageError

from or_magic.api import complete, sweep
from or_magic.core.errors import InvalidOption

LLAMA = "meta-llama/llama-3.1-8b-instruct"
R1 = "deepseek/deepseek-r1"
MESSAGES = [{"role": "user", "content": "hi"}]


def sent(shell, server, line):
    shell.run(f"%%openrouter {LLAMA} --no-stream {line}\nhi")
    return server.last.body


@pytest.mark.parametrize("line, fields", [
    ("--provider Together", {"provider": {"order": ["Together"], "allow_fallbacks": False}}),
    ("--provider Together,Lambda --fallbacks",
     {"provider": {"order": ["Together", "Lambda"], "allow_fallbacks": True}}),
    ("--provider-sort throughput", {"provider": {"sort": "throughput"}}),
    ("--ignore-providers DeepInfra,Lambda", {"provider": {"ignore": ["DeepInfra", "Lambda"]}}),
    ("--quantizations fp8,bf16", {"provider": {"quantizations": ["fp8", "bf16"]}}),
    ("--max-price 0.5,1.5", {"provider": {"max_price": {"prompt": 0.5, "completion": 1.5}}}),
    ("--max-price 0.5", {"provider": {"max_price": {"prompt": 0.5}}}),
    ("--data-collection deny", {"provider": {"data_collection": "deny"}}),
    ("--require-parameters", {"provider": {"require_parameters": True}}),
    ("--fallback-models openai/gpt-4o-mini,mistralai/mistral-7b-instruct:free",
     {"models": ["openai/gpt-4o-mini", "mistralai/mistral-7b-instruct:free"]}),
    ("--provider DeepInfra --require-parameters --data-collection deny",
     {"provider": {"order": ["DeepInfra"], "allow_fallbacks": False, "data_collection": "deny",
                   "require_parameters": True}}),
])
def test_routing_options_make_exact_bodies(shell, server, line, fields):
    assert sent(shell, server, line) == {"model": LLAMA, "messages": MESSAGES, **fields}


@pytest.mark.parametrize("line, reasoning", [
    ("--reasoning-effort low", {"effort": "low"}),
    ("--reasoning-max-tokens 200", {"max_tokens": 200}),
    ("--reasoning-effort high --reasoning-exclude", {"effort": "high", "exclude": True}),
])
def test_reasoning_options_make_exact_bodies(shell, server, line, reasoning):
    assert sent(shell, server, line) == {"model": LLAMA, "messages": MESSAGES, "reasoning": reasoning}


def test_python_api_takes_the_same_options(server):
    complete("hi", LLAMA, stream=False, provider=["Lambda"], max_price={"prompt": 1}, reasoning_effort="low",
             fallback_models="openai/gpt-4o-mini")
    assert server.last.body == {"model": LLAMA, "messages": MESSAGES, "reasoning": {"effort": "low"},
                                "provider": {"order": ["Lambda"], "allow_fallbacks": False,
                                             "max_price": {"prompt": 1.0}},
                                "models": ["openai/gpt-4o-mini"]}


@pytest.mark.parametrize("line, message", [
    ("--provider-sort fastest", "--provider-sort fastest: must be one of price, throughput, latency"),
    ("--quantizations fp9", "--quantizations fp9: must be one of int4"),
    ("--data-collection maybe", "--data-collection maybe: must be one of allow, deny"),
    ("--max-price cheap", "--max-price cheap: prices must be numbers"),
    ("--max-price 1,2,3", "--max-price 1,2,3: give PROMPT"),
    ("--reasoning-effort loud", "--reasoning-effort loud: must be one of"),
    ("--reasoning-max-tokens 0", "--reasoning-max-tokens 0: must be an integer ≥ 1"),
    ("--reasoning-effort low --reasoning-max-tokens 5", "together: OpenRouter takes one"),
    ("--sweep-providers", "--sweep-providers needs the providers to sweep"),
    ("--provider a --param 'provider={\"sort\":\"price\"}'", "both set `provider`"),
])
def test_bad_routing_options_are_one_line_errors_before_sending(shell, server, line, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        shell.run(f"%%openrouter {LLAMA} {line}\nhi")
    assert [r for r in server.requests if r.method == "POST"] == []


def test_sweep_providers_pins_one_provider_per_run(shell, server):
    r = shell.run(f"%%openrouter {LLAMA} --seed 1 -n 2 --provider DeepInfra,Together --sweep-providers\nhi")
    posts = [q.body for q in server.requests if q.method == "POST"]
    assert sorted(b["provider"]["order"][0] for b in posts) == ["DeepInfra", "DeepInfra", "Together", "Together"]
    assert all(b["provider"]["allow_fallbacks"] is False and len(b["provider"]["order"]) == 1 for b in posts)
    assert r.df[["provider", "sample"]].values.tolist() == [["DeepInfra", 0], ["DeepInfra", 1],
                                                            ["Together", 0], ["Together", 1]]
    assert r.key_columns() == ["provider", "sample"]


def test_rows_show_provider_and_native_finish_reason(server):
    r = sweep("hi", "anthropic/claude-3.5-haiku", samples=2, max_tokens=400)
    assert r.df["provider"].tolist() == ["Anthropic", "Anthropic"]
    native = {"stop": "end_turn", "length": "max_tokens"}  # Anthropic's own words, passed on
    assert r.df["native_finish_reason"].tolist() == [native[f] for f in r.df["finish_reason"]]


def test_fallback_model_column_shows_who_answered(server):
    r = complete("hi", "test/error-503", stream=False, fallback_models=["openai/gpt-4o-mini"])
    assert server.last.body["models"] == ["openai/gpt-4o-mini"]
    assert r.df["model"].tolist() == ["openai/gpt-4o-mini"]


@pytest.mark.parametrize("stream", [True, False])
def test_reasoning_in_streamed_and_whole_answers(server, stream):
    r = complete("hi", R1, stream=stream, reasoning_effort="low")
    assert r.reasoning == ["Let me think about what is asked. The "]  # 8 words: effort low
    assert r.df["reasoning_tokens"].tolist() == [8]
    assert not r.text.startswith("Let me think")
    hidden = complete("hi", R1, stream=stream, reasoning_effort="low", reasoning_exclude=True)
    assert hidden.reasoning == [None] and hidden.df["reasoning_tokens"].tolist() == [8]


def test_unknown_keyword_is_still_an_error(server):
    with pytest.raises(InvalidOption, match="unknown parameter 'providers'"):
        complete("hi", LLAMA, providers="a")


def test_help_lists_the_routing_options(shell):
    doc = shell.ip.find_cell_magic("openrouter").__doc__
    for flag in ("--provider NAME", "--sweep-providers", "--fallback-models", "--reasoning-effort", "--strict",
                 "--require-parameters", "--max-price PROMPT[,COMPLETION]"):
        assert flag in doc


def test_endpoints_line_magic_lists_each_provider(shell, server):
    table = shell.run(f"%openrouter endpoints {LLAMA}")
    assert server.last.path == f"/api/v1/models/{LLAMA}/endpoints"
    assert table["provider"].tolist() == ["DeepInfra", "Together", "Lambda"]
    assert table.loc[1, "quantization"] == "fp8" and table.loc[1, "prompt_per_m"] == 0.01
    assert "seed" not in table.loc[1, "supported_parameters"] and "seed" in table.loc[0, "supported_parameters"]
    with pytest.raises(UsageError, match="give a model id as author/slug"):
        shell.run("%openrouter endpoints llama")
