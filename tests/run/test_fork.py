"""The requests of a fork: prompt + prefix on completions, an assistant prefill on chat."""

import pytest

from or_magic import complete
from or_magic.core.errors import InvalidOption

CHAT_MODEL, TEXT_MODEL = "openai/gpt-4o-mini", "openai/gpt-3.5-turbo-instruct"


def original(model: str, **params):
    return complete("Tell me a story", model=model, temperature=0, max_tokens=8, top_logprobs=5,
                    stream=False, progress=False, **params)


def test_chat_fork_sends_the_messages_and_an_assistant_prefill(server):
    r = original(CHAT_MODEL, system="Be brief.")
    server.clear()
    r.fork(4, " they")
    assert len(server.requests) == 1
    assert server.last.path == "/api/v1/chat/completions"
    before = "".join(r.logprobs.text[:4])
    assert server.last.body == {
        "model": CHAT_MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me a story"},
                     {"role": "assistant", "content": before + " they"}],
        "temperature": 0, "max_tokens": 3, "top_logprobs": 5, "logprobs": True}


def test_completions_fork_sends_prompt_plus_prefix(server):
    r = original(TEXT_MODEL)
    server.clear()
    r.fork(2, " rain", max_tokens=4, temperature=0.5, seed=3)
    before = "".join(r.logprobs.text[:2])
    assert server.last.path == "/api/v1/completions"
    assert server.last.body == {"model": TEXT_MODEL, "prompt": "Tell me a story" + before + " rain",
                                "temperature": 0.5, "max_tokens": 4, "top_logprobs": 5, "logprobs": 5, "seed": 3}


def test_samples_and_lists_make_a_sweep_of_the_fork(server):
    r = original(CHAT_MODEL)
    server.clear()
    f = r.fork(1, n=2, temperature=[0.5, 1.0])
    assert len(server.requests) == 4 and len(f.runs) == 4
    assert {req.body["temperature"] for req in server.requests} == {0.5, 1.0}
    assert list(f.df.columns[:5]) == ["run", "fork_position", "fork_token", "temperature", "sample"]
    assert set(f.df.fork_position) == {1}
    assert all(req.body["messages"][-1]["role"] == "assistant" for req in server.requests)


def test_bad_fork_input_is_refused_before_sending(server):
    r = original(CHAT_MODEL)
    server.clear()
    with pytest.raises(InvalidOption, match="position=99"):
        r.fork(99)
    with pytest.raises(InvalidOption, match="n=0"):
        r.fork(1, n=0)
    with pytest.raises(InvalidOption, match="unknown parameter 'temprature'"):
        r.fork(1, temprature=1)
    with pytest.raises(InvalidOption, match="no alternative of rank 9"):
        r.fork(1, 9)
    plain = complete("Tell me a story", model=CHAT_MODEL, max_tokens=3, stream=False)
    with pytest.raises(InvalidOption, match="no logprobs to fork from"):
        plain.fork(1)
    assert server.requests == [server.requests[0]]  # only the plain run was sent
