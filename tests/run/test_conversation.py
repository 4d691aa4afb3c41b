"""Conversations from Python (`or_magic.chat`, `Chat.send/transcript/fork`) and the transcript's
rules (slots, branches, trimming), against the local server."""

from __future__ import annotations

from typing import Iterator

import pytest

import or_magic
from or_magic.core.errors import InvalidOption
from or_magic.run.conversation import (
    SESSION,
    Conversation,
    Turn,
    estimate_tokens,
    fit_context,
)

CHAT = "openai/gpt-4o-mini"


@pytest.fixture(autouse=True)
def fresh_session() -> Iterator[None]:
    SESSION.chats.clear()
    yield
    SESSION.chats.clear()


def chat_messages(server):
    return [r.body["messages"] for r in server.requests if r.path.endswith("/chat/completions")]


def test_send_transcript_and_fork(server):
    c = or_magic.chat("py", CHAT, system="Be brief.", seed=5)
    one = c.send("Name a planet.")
    two = c.send("Its moons?", temperature=0)
    assert isinstance(one, or_magic.Result) and two.runs[0].spec.params == {"seed": 5, "temperature": 0.0}
    sent = chat_messages(server)
    system = {"role": "system", "content": "Be brief."}
    assert sent[1] == [system, {"role": "user", "content": "Name a planet."},
                       {"role": "assistant", "content": one.text}, {"role": "user", "content": "Its moons?"}]
    frame = c.transcript
    assert list(frame.role) == ["system", "user", "assistant", "user", "assistant"]
    assert frame.run_id.iloc[1] == one.runs[0].record_id
    assert frame.tokens.iloc[2] == one.runs[0].completion.completion_tokens
    fork = c.fork(1)
    assert fork.name == "py@1" and len(fork.conversation) == 1 and len(c.conversation) == 2
    fork.send("Its rings?")
    assert chat_messages(server)[-1] == sent[1][:3] + [{"role": "user", "content": "Its rings?"}]
    assert len(c.conversation) == 2  # the original is untouched
    assert set(or_magic.chats().name) == {"py", "py@1"}
    assert c.fork(1).name == "py@1'"  # a taken name is never overwritten


def test_complete_with_chat_and_a_failed_turn_appends_nothing(server):
    or_magic.complete("hello", CHAT, chat="k")
    server.fail_next(400)
    with pytest.raises(or_magic.APIError):
        or_magic.complete("this one fails", CHAT, chat="k")
    assert len(SESSION.chats["k"]) == 1
    or_magic.complete("next", CHAT, chat="k")
    assert [m["content"] for m in chat_messages(server)[-1]][::2] == ["hello", "next"]


def test_keep_needs_a_conversation_and_a_real_run(server):
    r = or_magic.complete("hi", CHAT)
    with pytest.raises(InvalidOption, match="not made in a conversation"):
        r.keep(0)
    r = or_magic.sweep("hi", CHAT, chat="s", temperature=[0, 1])
    with pytest.raises(InvalidOption, match=r"keep\(5\): the result has runs 0..1"):
        r.keep(5)
    r.keep(0)
    assert SESSION.chats["s"].turns[0].answer == r.runs[0].text


def test_slots_branches_and_fork_bounds():
    c = Conversation("x", "sys")
    for cell in ("a", "b", "c"):
        slot = c.slot(cell)
        c.commit(slot, Turn(user=cell, answer=cell.upper(), cell=cell, branch=slot.branch))
    again = c.slot("b")
    assert again.index == 1 and [t.user for t in again.context] == ["a"] and again.branch == 1
    c.commit(again, Turn(user="b2", answer="B2", cell="b", branch=again.branch))
    assert [t.user for t in c.turns] == ["a", "b2"] and [t.user for t in c.older[0]] == ["b", "c"]
    assert c.slot("a").branch == 2  # every re-run opens a new branch number
    assert c.messages() == [{"role": "system", "content": "sys"}, {"role": "user", "content": "a"},
                            {"role": "assistant", "content": "A"}, {"role": "user", "content": "b2"},
                            {"role": "assistant", "content": "B2"}]
    with pytest.raises(InvalidOption, match=r"fork\(3\): 'x' has turns 1..2"):
        c.fork(3)


def test_fit_context_keeps_the_system_message_and_the_newest_turns():
    c = Conversation("x", "s")
    for i in range(5):
        slot = c.slot()
        c.commit(slot, Turn(user="u" * 30, answer=f"{i}" * 30, branch=0))
    slot = c.slot()
    whole = estimate_tokens([{"role": "system", "content": "s"}] + slot.messages() + [{"role": "user", "content": "q"}])
    fit_context(slot, "s", "q", whole - 1)
    assert slot.dropped == 1 and slot.context == c.turns[1:]
    fit_context(slot, "s", "q", 1)  # nothing fits: every earlier turn goes, the new one is still sent
    assert slot.context == [] and slot.dropped == 5


def test_the_estimate_leans_high_for_every_script():
    """The fake server counts a token per word; real tokenizers about 4 English characters, or one
    CJK character, a token: the estimate is above all of these."""
    english = [{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 10}]
    chinese = [{"role": "user", "content": "我们今天去公园散步" * 10}]
    assert estimate_tokens(english) > max(len(english[0]["content"].split()), len(english[0]["content"]) / 4)
    assert estimate_tokens(chinese) >= len(chinese[0]["content"])
