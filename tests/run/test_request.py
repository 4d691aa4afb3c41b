import pytest

from or_magic.core.errors import InvalidOption
from or_magic.core.params import DEFAULT_COMPLETIONS_MODELS
from or_magic.run.request import RunSpec, choose_endpoint


@pytest.mark.parametrize("model,endpoint", [
    ("openai/gpt-3.5-turbo-instruct", "completions"),
    ("openai/davinci-002", "completions"),
    ("meta-llama/llama-3.1-8b-instruct", "chat"),  # chat-tuned despite the name
    ("openai/gpt-4o-mini", "chat"),
])
def test_default_endpoint(model, endpoint):
    assert choose_endpoint(model, None, DEFAULT_COMPLETIONS_MODELS) == endpoint


def test_endpoint_override_and_bad_value():
    assert choose_endpoint("openai/gpt-4o-mini", "completions", DEFAULT_COMPLETIONS_MODELS) == "completions"
    with pytest.raises(InvalidOption, match="--endpoint 'x'"):
        choose_endpoint("m", "x", ())


def test_legacy_logprobs_capped_and_both_sent():
    body = RunSpec("m", "p", "completions", params={"top_logprobs": 12}).body()
    assert body == {"model": "m", "prompt": "p", "top_logprobs": 12, "logprobs": 5}
    assert RunSpec("m", "p", "completions", params={"logprobs": True}).body()["logprobs"] == 1


def test_chat_body_system_extra_and_stream():
    body = RunSpec("m", "p", "chat", system="s", params={"seed": 1}, extra={"user": "u"}, stream=True).body()
    assert body == {"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "p"}],
                    "seed": 1, "user": "u", "stream": True, "stream_options": {"include_usage": True}}
    assert "logprobs" not in RunSpec("m", "p", params={"logprobs": False}).body()
