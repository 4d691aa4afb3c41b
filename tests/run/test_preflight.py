"""The capability preflight: notes before sending, --require-parameters, --strict, and one catalogue request
per server (not per cell)."""

import pytest
from IPython.core.error import UsageError

from or_magic.api import complete
from or_magic.core.errors import InvalidOption
from or_magic.run.preflight import preflight_notes, used_parameters
from or_magic.run.runner import plan_runs
from or_magic.wire import catalogue

OLD = "cohere/command-r-08-2024"  # lists logprobs but not top_logprobs
LLAMA = "meta-llama/llama-3.1-8b-instruct"  # DeepInfra, Together (no seed, no logprobs), Lambda
NOTE = (f"{OLD}: no provider lists top_logprobs; add --require-parameters to route only to providers that do")


@pytest.fixture(autouse=True)
def fresh_catalogue():
    catalogue.forget()
    yield
    catalogue.forget()


def catalogue_requests(server):
    return [r.path for r in server.requests if r.method == "GET"]


def test_used_parameters_name_the_catalogue_words():
    body = {"model": "m", "messages": [], "temperature": 0, "logprobs": True, "top_logprobs": 3, "stream": True,
            "provider": {"order": ["a"]}, "response_format": {"type": "json_schema", "json_schema": {}}}
    assert used_parameters(body) == ["temperature", "logprobs", "top_logprobs", "response_format",
                                     "structured_outputs"]


def test_notes_once_per_model_and_parameter():
    plan = plan_runs("hi", [OLD, "x/unknown"], {"top_logprobs": [1, 2], "temperature": [0, 1]})
    listed = {OLD: ["temperature", "logprobs", "max_tokens"], "x/unknown": None}
    assert preflight_notes(plan.runs, listed) == [NOTE]


def test_note_before_sending_and_no_extra_request_once_cached(shell, server, capsys):
    server.fail_next(400)  # the answer fails: the note was out before the request
    with pytest.raises(Exception):
        shell.run(f"%%openrouter {OLD} --top-logprobs 3\nhi")
    assert capsys.readouterr().err.count(NOTE) == 1
    # /models, and (for logprobs, which it lists) the per-provider lists: once each
    fetched = ["/api/v1/models", f"/api/v1/models/{OLD}/endpoints"]
    assert catalogue_requests(server) == fetched
    for _ in range(3):
        shell.run(f"%%openrouter {OLD} --top-logprobs 3\nhi")
        assert NOTE in capsys.readouterr().err  # said on every cell, fetched once
    assert catalogue_requests(server) == fetched
    assert [r.path for r in server.requests].count("/api/v1/chat/completions") == 4


def test_strict_refuses_before_anything_is_sent(shell, server):
    with pytest.raises(UsageError, match=rf"--strict: {OLD}: no provider lists top_logprobs"):
        shell.run(f"%%openrouter {OLD} --top-logprobs 3 --strict\nhi")
    assert {r.method for r in server.requests} == {"GET"}  # the catalogue only: no completion was sent
    with pytest.raises(InvalidOption, match="--strict"):
        complete("hi", OLD, top_logprobs=3, strict=True)


def test_require_parameters_is_sent_and_changes_the_note(shell, server, capsys):
    shell.run(f"%%openrouter {OLD} --logprobs --require-parameters\nhi")
    assert server.last.body["provider"] == {"require_parameters": True}
    assert capsys.readouterr().err == ""  # logprobs is listed
    with pytest.raises(Exception):  # nothing fits: OpenRouter's 404
        shell.run(f"%%openrouter {OLD} --top-logprobs 2 --require-parameters\nhi")
    assert "so --require-parameters leaves none to route to" in capsys.readouterr().err


def test_providers_that_lack_a_watched_parameter_are_named(shell, server, capsys):
    shell.run(f"%%openrouter {LLAMA} --seed 1\nhi")
    assert (f"{LLAMA}: seed is not listed by Together; add --require-parameters to route only to providers "
            "that do") in capsys.readouterr().err
    shell.run(f"%%openrouter {LLAMA} --seed 1\nhi")
    assert catalogue_requests(server) == ["/api/v1/models", f"/api/v1/models/{LLAMA}/endpoints"]
    shell.run(f"%%openrouter {LLAMA} --seed 1 --provider Together\nhi")
    assert f"{LLAMA}: pinned provider Together does not list seed: it will be ignored there" in capsys.readouterr().err
    with pytest.raises(Exception):  # OpenRouter's 404: nothing pinned fits
        shell.run(f"%%openrouter {LLAMA} --seed 1 --provider Together --require-parameters\nhi")
    assert "pinned provider Together does not list seed, so --require-parameters rules it out" in capsys.readouterr().err
    shell.run(f"%%openrouter {LLAMA} --temperature 0.5\nhi")  # nothing watched: no per-provider note
    assert capsys.readouterr().err == ""


def test_a_server_without_models_is_skipped_silently():
    class NoCatalogue:
        base_url = "http://127.0.0.1:9/llama.cpp"

        def get(self, path):
            raise OSError("404 Not Found")

    assert catalogue.supported_parameters(NoCatalogue()) == {}
    assert catalogue.provider_parameters(NoCatalogue(), LLAMA) is None


def test_the_schema_note_uses_the_same_preflight(shell, server, capsys):
    shell.run("%%openrouter mistralai/mistral-7b-instruct:free --schema 'name'\nhi")
    assert "mistral-7b-instruct:free does not list structured_outputs" in capsys.readouterr().err
    shell.run(f"%%openrouter {OLD} --schema 'name'\nhi")
    assert catalogue_requests(server) == ["/api/v1/models"]
