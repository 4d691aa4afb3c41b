"""The fake server continues an assistant prefill and a prompt that extends an earlier one."""

import json
import urllib.request

from tests.fakeserver.continuation import PromptMemory
from tests.fakeserver.textgen import UNITS, segment


def post(server, path, body):
    req = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as answer:
        return json.loads(answer.read())


def test_segment_reads_vocabulary_text_and_refuses_the_rest():
    units = segment(" the cat sat.")
    assert ["".join(t.text for t in UNITS[u]) for u in units] == [" the", " cat", " sat", "."]
    assert segment(" the zebra") is None and segment("") is None


def test_prompt_memory_finds_the_longest_served_base():
    memory = PromptMemory()
    memory.remember("m", "Hi")
    memory.remember("m", "Hi the")
    assert memory.base_of("m", "Hi the cat") == ("Hi the", segment(" cat"))
    assert memory.base_of("m", "Hi zebra") is None and memory.base_of("other", "Hi the cat") is None


def test_chat_prefill_of_an_answer_head_regenerates_its_tail(server):
    messages = [{"role": "user", "content": "Tell me"}]
    full = post(server, "/chat/completions", {"model": "openai/gpt-4o-mini", "messages": messages,
                                              "temperature": 0, "max_tokens": 6, "logprobs": True})
    tokens = [e["token"] for e in full["choices"][0]["logprobs"]["content"]]
    text = full["choices"][0]["message"]["content"]
    head = "".join(tokens[:2])
    assert text.startswith(head) and segment(head) is not None
    cont = post(server, "/chat/completions", {"model": "openai/gpt-4o-mini", "temperature": 0, "max_tokens": 4,
                                              "messages": messages + [{"role": "assistant", "content": head}]})
    assert head + cont["choices"][0]["message"]["content"] == text
    server.prefill_style = "echo"
    echoed = post(server, "/chat/completions", {"model": "openai/gpt-4o-mini", "temperature": 0, "max_tokens": 4,
                                                "messages": messages + [{"role": "assistant", "content": head}]})
    assert echoed["choices"][0]["message"]["content"] == text


def test_completions_prompt_continuation(server):
    body = {"model": "openai/gpt-3.5-turbo-instruct", "prompt": "Once", "temperature": 0, "max_tokens": 6}
    text = post(server, "/completions", body)["choices"][0]["text"]
    first = segment(text)
    head = "".join(t.text for t in UNITS[first[0]])
    cont = post(server, "/completions", {**body, "prompt": "Once" + head, "max_tokens": 5})
    assert head + cont["choices"][0]["text"] == text
