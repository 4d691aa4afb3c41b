"""The magic end to end: a real IPython shell talking to the local OpenRouter-compatible server."""

import pytest
from IPython.core.error import UsageError
from IPython.lib.pretty import pretty

from or_magic.analysis.result import Result
from tests.constants import FAKE_KEY, default_stream_fields

INSTRUCT = "openai/gpt-3.5-turbo-instruct"
CHAT = "openai/gpt-4o-mini"


def test_issue_example_on_the_completions_endpoint(shell, server):
    value = shell.run(f"%%openrouter {INSTRUCT} --temperature 0.7 --top-p 0.9 --seed 42 --max-tokens 32 "
                      "--top-logprobs 5 -o r\nComplete this: The capital of France is")
    assert isinstance(value, Result) and shell.ns["r"] is value
    request = server.last
    assert request.path == "/api/v1/completions"
    assert request.body == {"model": INSTRUCT, "prompt": "Complete this: The capital of France is",
                            "temperature": 0.7, "top_p": 0.9, "seed": 42, "max_tokens": 32,
                            "top_logprobs": 5, "logprobs": 5, **default_stream_fields()}
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert value.text and value.text == value.raw["choices"][0]["text"]
    footer = value.footer()
    assert INSTRUCT in footer and "tokens" in footer and "$" in footer and footer.endswith(" s")
    assert list(value.logprobs.columns)[:6] == ["run", "position", "token", "logprob", "prob", "offset"]
    assert "".join(value.logprobs.token) == value.text
    top = value.top_logprobs
    assert set(top.groupby("position").size()) == {5}
    assert top["chosen"].sum() <= len(value.logprobs)
    row = value.df.iloc[0]
    assert row.model == INSTRUCT and row.seed == 42 and row.temperature == 0.7
    assert row.completion_tokens == len(value.logprobs) and row.cost > 0 and row.generation_id.startswith("gen-")


def test_chat_endpoint_with_system_and_every_option(shell, server):
    shell.run(f"%%openrouter {CHAT} -t 0 --top-k 40 --min-p 0.05 --top-a 0.1 --max-completion-tokens 20 "
              "--stop END --stop '###' --frequency-penalty 0.5 --presence-penalty -0.5 --repetition-penalty 1.1 "
              "--logit-bias '{\"50256\": -100}' --logprobs --response-format json "
              "--tools '[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}]' --tool-choice f "
              "--system 'Be brief.' --param 'provider={\"sort\":\"price\"}'\nSay hi")
    body = server.last.body
    assert server.last.path == "/api/v1/chat/completions"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]
    assert body["temperature"] == 0.0 and body["top_k"] == 40 and body["min_p"] == 0.05 and body["top_a"] == 0.1
    assert body["max_completion_tokens"] == 20 and body["stop"] == ["END", "###"]
    assert body["frequency_penalty"] == 0.5 and body["presence_penalty"] == -0.5 and body["repetition_penalty"] == 1.1
    assert body["logit_bias"] == {"50256": -100} and body["logprobs"] is True and "top_logprobs" not in body
    assert body["response_format"] == {"type": "json_object"}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert body["provider"] == {"sort": "price"} and body["tools"][0]["function"]["name"] == "f"


def test_options_not_given_are_left_out(shell, server):
    shell.run(f"%%openrouter {CHAT} --no-stream\nhello")
    assert server.last.body == {"model": CHAT, "messages": [{"role": "user", "content": "hello"}]}


def test_chat_logprobs_land_in_same_tables(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --seed 1 --top-logprobs 3\nhello")
    assert server.last.body["logprobs"] is True and server.last.body["top_logprobs"] == 3
    assert "".join(r.logprobs.token) == r.text
    # chat has no text_offset on the wire: offsets are computed from the decoded token texts
    assert list(r.logprobs["offset"]) == [sum(map(len, r.logprobs.token[:i])) for i in range(len(r.logprobs))]
    chosen = r.top_logprobs[r.top_logprobs.chosen]
    merged = chosen.merge(r.logprobs, on=["run", "position"], suffixes=("_alt", ""))
    assert (merged.logprob_alt == merged.logprob).all()


@pytest.mark.parametrize("style", ["chat", "legacy"])
def test_completions_endpoint_in_either_logprob_shape(shell, server, style):
    server.completions_logprobs_style = style
    try:
        r = shell.run(f"%%openrouter {INSTRUCT} --seed 3 --top-logprobs 2\nhello")
    finally:
        server.completions_logprobs_style = "legacy"
    assert len(r.logprobs) == r.df.completion_tokens[0] and set(r.top_logprobs.groupby("position").size()) == {2}


def test_no_logprobs_from_provider_gives_empty_tables_and_a_note(shell, server):
    r = shell.run("%%openrouter test/nologprobs --top-logprobs 5\nhello")
    assert r.logprobs.empty and r.top_logprobs.empty
    assert list(r.logprobs.columns) == ["run", "position", "token", "logprob", "prob", "offset", "bytes", "text",
                                        "rank", "margin", "entropy", "tail_mass", "cumulative_logprob"]
    assert any("no logprobs" in n for n in r.notes) and "no logprobs" in r._repr_html_()


def test_template_fields_from_namespace_and_json_untouched(shell, server):
    shell.ns["topic"] = "autumn"
    shell.run(f'%%openrouter {CHAT}\nA haiku about {{topic}}. Reply as {{"haiku": "..."}} not {{{{topic}}}}.')
    assert server.last.body["messages"][0]["content"] == 'A haiku about autumn. Reply as {"haiku": "..."} not {topic}.'


def test_rendering(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --seed 5\n<b>hi</b>")
    html = r._repr_html_()
    assert r.text.replace("&", "&amp;")[:5] in html or r.text[:5] in html
    assert CHAT in html and "tokens" in html
    assert any(line.startswith("— " + CHAT) for line in pretty(r).splitlines())  # notes may follow


@pytest.mark.parametrize("line,needle", [
    ("--temperature 3", "--temperature 3: must be [0, 2]"),
    ("--top-logprobs 25", "--top-logprobs 25: must be [0, 20]"),
    ("--logit-bias '{oops'", "--logit-bias {oops: is not valid JSON"),
    ("--bogus 1", "unrecognized arguments: --bogus"),
])
def test_bad_input_is_a_usage_error_before_sending(shell, server, line, needle):
    with pytest.raises(UsageError) as err:
        shell.run(f"%%openrouter {CHAT} {line}\nhello")
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert server.requests == []


def test_empty_cell_and_no_model(shell, server):
    with pytest.raises(UsageError, match="the prompt is empty"):
        shell.run(f"%%openrouter {CHAT}\n   \n")
    shell.run("%config OpenRouterMagics.model = ''")
    with pytest.raises(UsageError, match="no model"):
        shell.run("%%openrouter\nhello")
    assert server.requests == []


def test_default_model_from_config(shell, server):
    shell.run(f"%config OpenRouterMagics.model = '{INSTRUCT}'")
    shell.run("%%openrouter\nhello")
    assert server.last.body["model"] == INSTRUCT and server.last.path.endswith("/completions")


def test_no_key_for_openrouter_is_a_usage_error(shell, server, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    shell.run("%config OpenRouterMagics.base_url = 'https://openrouter.ai/api/v1'")
    with pytest.raises(UsageError, match="set the OPENROUTER_API_KEY environment variable"):
        shell.run(f"%%openrouter {CHAT}\nhello")


@pytest.mark.parametrize("status,needle", [
    (400, "model id"), (401, "OPENROUTER_API_KEY"), (402, "credits"), (403, "moderation"),
    (404, "another model"), (408, "timed out"), (429, "rate limited"), (500, "internal"),
    (502, "provider"), (503, "available"),
])
def test_api_errors_fail_the_cell(shell, server, status, needle):
    shell.run("%config OpenRouterMagics.max_retries = 0")
    with pytest.raises(Exception) as err:
        shell.run(f"%%openrouter test/error-{status}\nhello")
    text = str(err.value)
    assert f"HTTP {status}" in text and needle in text and FAKE_KEY not in text


def test_retry_then_success(shell, server, capsys):
    server.fail_next(503)
    r = shell.run(f"%%openrouter {CHAT} --seed 1\nhello")
    assert r.text and len(server.requests) == 2
    assert "retrying" in capsys.readouterr().err


def test_app_attribution_headers(shell, server):
    shell.run("%config OpenRouterMagics.app_url = 'https://example.org'")
    shell.run("%config OpenRouterMagics.app_title = 'Course notebook'")
    shell.run(f"%%openrouter {CHAT}\nhello")
    assert server.last.headers["http-referer"] == "https://example.org"
    assert server.last.headers["x-title"] == "Course notebook"


def test_models_and_key_subcommands(shell, server, capsys):
    df = shell.run("%openrouter models gpt")
    assert list(df.columns) == ["id", "name", "context_length", "prompt_per_m", "completion_per_m",
                                "supported_parameters"]
    assert INSTRUCT in set(df.id) and all("gpt" in (i + n).lower() for i, n in zip(df.id, df.name))
    everything = shell.run("%openrouter models")
    capsys.readouterr()
    assert shell.run("%openrouter models no-such-model-xyz") is None
    said = capsys.readouterr().out.strip()
    assert said.startswith("no model matches 'no-such-model-xyz' among the ")
    assert f" {len(everything)} models of " in said and "%openrouter models for all" in said
    key = shell.run("%openrouter key")
    assert "usage" in key.index and "limit" in key.index
    assert FAKE_KEY not in repr(key)
    with pytest.raises(UsageError, match="use one of models"):
        shell.run("%openrouter frobnicate")


def test_help_lists_options(shell):
    doc = shell.ip.find_cell_magic("openrouter").__doc__
    assert "--top-logprobs" in doc and "[0, 20]" in doc and "--param" in doc


def test_python_api(server):
    from or_magic import complete

    r = complete("hello", model=CHAT, seed=7, top_logprobs=2)
    assert r.text and server.last.body["seed"] == 7 and len(r.top_logprobs) == 2 * len(r.logprobs)
    with pytest.raises(ValueError, match="--temperature 5: must be"):
        complete("hello", model=CHAT, temperature=5)


def test_key_on_a_server_without_key_endpoint(shell, server, monkeypatch):
    shell.run(f"%config OpenRouterMagics.base_url = '{server.base_url.replace('/api/v1', '/nokey')}'")
    with pytest.raises(Exception, match="has no /key endpoint: key limits and usage exist only on OpenRouter"):
        shell.run("%openrouter key")


def test_a_result_is_shown_as_before_by_printers_found_in_one_lookup(shell, server):
    """notebook/printers.py registers Result with every formatter: each lookup hits Result itself
    (not a walk over its MRO), and what is shown is what IPython's own fallback shows."""
    from IPython.core.formatters import DisplayFormatter

    value = shell.run(f"%%openrouter {CHAT} --no-stream --max-tokens 8\nhello")
    formatter = shell.ip.display_formatter
    shown, _ = formatter.format(value)
    unregistered, _ = DisplayFormatter().format(value)  # a formatter that knows nothing of or_magic
    assert shown == unregistered and set(shown) == {"text/plain", "text/html"}
    assert value.text in shown["text/plain"] and value.footer() in shown["text/plain"]
    for each in formatter.formatters.values():
        assert Result in each.type_printers  # the deferred entry moved to the type on first use
    assert formatter.formatters["text/plain"].lookup_by_type(Result) is not None


def test_the_line_is_expanded_as_ipython_expands_it(shell, server):
    """The magic opts out of IPython's expansion and does it itself, only for a line with $, { or }:
    `$name` and `{expression}` behave as before, in a cell and in a function's locals."""
    shell.ns["chosen_model"] = CHAT
    shell.ns["budget"] = 4
    shell.run("%%openrouter $chosen_model --max-tokens {budget * 2} --no-stream\nhello")
    assert server.last.body["model"] == CHAT and server.last.body["max_tokens"] == 8
    # IPython reads locals two frames above run_cell_magic (here: outer's n, not inner's m)
    shell.run("def outer(n):\n    def inner(m):\n        return get_ipython().run_cell_magic('openrouter', "
              "'$chosen_model --max-tokens {n} --no-stream', 'hi')\n    return inner(7)\nouter(3)")
    assert server.last.body["max_tokens"] == 3
    shell.run("%%openrouter openai/gpt-4o-mini --max-tokens 5 --no-stream\nhi")  # nothing to expand
    assert server.last.body["max_tokens"] == 5
    listed = shell.run("%openrouter models {chosen_model.split('/')[1]}")
    assert list(listed["id"]) == [CHAT]
