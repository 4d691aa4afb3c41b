"""Conversations across cells through the magic, against the local server: the exact `messages`
of every request for each scenario of issue 16 (three turns, a re-run cell, --continue in a new
kernel, context overflow, a sweep, the panel), and what the history keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.error import UsageError

from or_magic.run.conversation import SESSION
from or_magic.store.history_query import history

CHAT = "openai/gpt-4o-mini"
SHORT = "test/short-context"  # the fake catalogue's 300-token model
ROOT = Path(__file__).resolve().parents[2]


class FakeKernel:
    """What ipykernel offers the magic: the parent message, whose metadata carries the cell id
    that JupyterLab / Notebook 7 / VS Code send with each execute request."""

    def __init__(self) -> None:
        self.cell: str | None = None

    def get_parent(self, channel: str = "shell") -> dict[str, Any]:
        return {"header": {"msg_type": "execute_request"}, "metadata": {"cellId": self.cell} if self.cell else {}}


@pytest.fixture(autouse=True)
def fresh_session() -> Iterator[None]:
    SESSION.chats.clear()  # a new kernel: no conversations yet
    yield
    SESSION.chats.clear()


@pytest.fixture
def kernel(shell: Any) -> Iterator[FakeKernel]:
    fake = FakeKernel()
    shell.ip.kernel = fake
    yield fake
    del shell.ip.kernel


def cell(shell: Any, kernel: FakeKernel | None, cell_id: str, source: str) -> Any:
    if kernel is not None:
        kernel.cell = cell_id
    return shell.run(source)


def chat_bodies(server: Any) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path.endswith("/chat/completions")]


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def test_three_turns_in_a_row(shell, server):
    a = shell.run(f"%%openrouter {CHAT} --chat trip --system 'Be brief.' --seed 1\nPlan a day in Rome.")
    b = shell.run(f"%%openrouter {CHAT} --chat trip --seed 1\nAnd the evening?")
    c = shell.run("%%openrouter anthropic/claude-3.5-haiku --chat trip\nSummarise.")
    system = {"role": "system", "content": "Be brief."}
    assert [body["messages"] for body in chat_bodies(server)] == [
        [system, user("Plan a day in Rome.")],
        [system, user("Plan a day in Rome."), assistant(a.text), user("And the evening?")],
        [system, user("Plan a day in Rome."), assistant(a.text), user("And the evening?"), assistant(b.text),
         user("Summarise.")],
    ]
    assert chat_bodies(server)[2]["model"] == "anthropic/claude-3.5-haiku"  # the model may change per turn
    transcript = shell.run("%openrouter chat trip")
    assert list(transcript.columns) == ["turn", "role", "content", "model", "tokens", "cost", "run_id", "branch"]
    assert list(transcript.role) == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert list(transcript.content)[-1] == c.text and list(transcript.turn) == [0, 1, 1, 2, 2, 3, 3]
    assert transcript.model.iloc[-1] == "anthropic/claude-3.5-haiku" and transcript.model.iloc[1] == CHAT
    # the messages sent are exactly the transcript's (nothing else is injected)
    assert [{"role": r, "content": t} for r, t in zip(transcript.role, transcript.content)][:-1] == \
        chat_bodies(server)[2]["messages"]
    recorded = history(full=True, limit=3).iloc[::-1]  # oldest first
    assert list(recorded.conversation) == ["trip"] * 3 and list(recorded.turn) == [1, 2, 3]
    assert list(recorded.id) == list(transcript.run_id.dropna().unique())
    assert recorded.parent_run.iloc[0] is None or recorded.parent_run.isna().iloc[0]
    assert list(recorded.parent_run.iloc[1:]) == list(recorded.id.iloc[:2])


def test_chat_alone_is_the_default_conversation(shell, server):
    first = shell.run(f"%%openrouter {CHAT} --chat\nhello")
    shell.run(f"%%openrouter {CHAT} --chat default\nagain")
    assert chat_bodies(server)[1]["messages"] == [user("hello"), assistant(first.text), user("again")]
    chats = shell.run("%openrouter chats")
    assert list(chats.name) == ["default"] and list(chats.turns) == [2]
    assert chats.tokens.iloc[0] > 0 and chats.cost.iloc[0] > 0


def test_rerunning_turn_two_replaces_it_and_keeps_turn_three_as_a_branch(shell, server, kernel):
    one = cell(shell, kernel, "c1", f"%%openrouter {CHAT} --chat\nName a fruit.")
    cell(shell, kernel, "c2", f"%%openrouter {CHAT} --chat\nIts colour?")
    three = cell(shell, kernel, "c3", f"%%openrouter {CHAT} --chat\nA recipe with it?")
    two_again = cell(shell, kernel, "c2", f"%%openrouter {CHAT} --chat\nIts colour, in French?")  # edited, re-run
    four = cell(shell, kernel, "c4", f"%%openrouter {CHAT} --chat\nThanks.")
    sent = [body["messages"] for body in chat_bodies(server)]
    assert sent[3] == [user("Name a fruit."), assistant(one.text), user("Its colour, in French?")]
    assert sent[4] == [user("Name a fruit."), assistant(one.text), user("Its colour, in French?"),
                       assistant(two_again.text), user("Thanks.")]
    assert all(three.text != m["content"] for m in sent[4])  # turn 3 is not sent again
    transcript = shell.run("%openrouter chat")
    assert list(transcript.content[transcript.role == "user"]) == ["Name a fruit.", "Its colour, in French?", "Thanks."]
    assert list(transcript.content)[-1] == four.text
    assert list(transcript.branch[transcript.role == "user"]) == [0, 1, 1]
    recorded = history(full=True, limit=5).iloc[::-1]
    assert list(recorded.turn) == [1, 2, 3, 2, 3] and list(recorded.branch) == [0, 0, 0, 1, 1]
    assert recorded.text.iloc[2] == three.text  # the old branch is kept in the history
    assert recorded.parent_run.iloc[3] == recorded.id.iloc[0]  # the new turn 2 answers after turn 1


def test_rerunning_the_first_turn_with_a_new_system_message(shell, server, kernel):
    cell(shell, kernel, "a", f"%%openrouter {CHAT} --chat t\nhi")
    cell(shell, kernel, "b", f"%%openrouter {CHAT} --chat t\nmore")
    cell(shell, kernel, "a", f"%%openrouter {CHAT} --chat t --system 'Answer in French.'\nhi")
    assert chat_bodies(server)[2]["messages"] == [{"role": "system", "content": "Answer in French."}, user("hi")]
    assert len(SESSION.chats["t"]) == 1


def test_without_a_cell_id_every_execution_is_a_new_turn(shell, server):
    first = shell.run(f"%%openrouter {CHAT} --chat\nsame words")
    second = shell.run(f"%%openrouter {CHAT} --chat\nsame words")
    assert chat_bodies(server)[1]["messages"] == [user("same words"), assistant(first.text), user("same words")]
    assert len(SESSION.chats["default"]) == 2 and second.text


def test_continue_from_a_recorded_run_in_a_new_kernel(shell, server):
    earlier = textwrap.dedent("""
        import or_magic
        c = or_magic.chat("yesterday", "openai/gpt-4o-mini", system="You plan trips.")
        a = c.send("Three cities in Italy?", stream=False)
        b = c.send("Which is cheapest?", stream=False)
        import json
        print(json.dumps([b.runs[0].record_id, a.text, b.text]))
    """)
    done = subprocess.run([sys.executable, "-c", earlier], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    run_id, a_text, b_text = json.loads(done.stdout.strip().splitlines()[-1])  # texts may end in a newline
    server.clear()
    shell.run(f"%%openrouter {CHAT} --continue {run_id}\nBook it.")
    expected = [{"role": "system", "content": "You plan trips."}, user("Three cities in Italy?"), assistant(a_text),
                user("Which is cheapest?"), assistant(b_text), user("Book it.")]
    assert chat_bodies(server)[0]["messages"] == expected
    transcript = shell.run("%openrouter chat")
    assert list(transcript.turn) == [0, 1, 1, 2, 2, 3, 3]
    assert int(transcript.run_id.iloc[3]) == int(run_id)  # earlier turns keep their run ids
    assert history(full=True, limit=1).parent_run.iloc[0] == int(run_id)
    # forking from turn 1 of the same recorded chat: the first answer's run id
    first_id = int(transcript.run_id.iloc[1])
    shell.run(f"%%openrouter {CHAT} --chat alt --continue {first_id}\nWhich is warmest?")
    assert chat_bodies(server)[-1]["messages"] == expected[:3] + [user("Which is warmest?")]


def test_continue_names_a_missing_or_failed_run(shell, server):
    with pytest.raises(UsageError, match=r"--continue 999999: no run 999999 in the history"):
        shell.run(f"%%openrouter {CHAT} --continue 999999\nhi")
    assert chat_bodies(server) == []


def test_context_overflow_drops_the_oldest_turns_with_a_note(shell, server):
    words = " ".join(["word"] * 60)
    results = [shell.run(f"%%openrouter {SHORT} --chat long --system 'Be brief.' --seed {i} --max-tokens 20\n"
                         f"Turn {i}: {words}") for i in range(1, 5)]
    sent = [body["messages"] for body in chat_bodies(server)]
    system = {"role": "system", "content": "Be brief."}
    assert sent[0] == [system, user(f"Turn 1: {words}")]
    assert all(m[0] == system and m[-1] == user(f"Turn {i}: {words}") for i, m in enumerate(sent, 1))
    last = sent[-1]
    full = [system] + [m for i, r in enumerate(results[:3], 1) for m in (user(f"Turn {i}: {words}"),
                                                                          assistant(r.text))] + [last[-1]]
    assert sum(len(m["content"].split()) + 4 for m in full) + 20 > 300  # all of it would be refused
    kept = (len(last) - 2) // 2
    assert 0 < kept < 3  # the oldest turns went, the latest stayed
    assert last[1:-1] == [m for i in range(4 - kept, 4) for m in (user(f"Turn {i}: {words}"),
                                                                    assistant(results[i - 1].text))]
    assert any(f"dropped the oldest {3 - kept} turn" in note and "300 tokens" in note for note in results[-1].notes)
    assert all(r.runs[0].error is None for r in results)  # never a server 400 as the first sign


def test_max_history_sends_the_last_n_turns(shell, server):
    a = shell.run(f"%%openrouter {CHAT} --chat\none")
    b = shell.run(f"%%openrouter {CHAT} --chat\ntwo")
    r = shell.run(f"%%openrouter {CHAT} --chat --max-history 1\nthree")
    assert chat_bodies(server)[2]["messages"] == [user("two"), assistant(b.text), user("three")]
    assert a.text and any("dropped the oldest 1 turn (--max-history 1)" in n for n in r.notes)
    assert len(SESSION.chats["default"]) == 3  # the transcript keeps every turn


def test_a_sweep_in_a_conversation_sends_the_same_history_and_appends_none(shell, server):
    first = shell.run(f"%%openrouter {CHAT} --chat\nName a colour.")
    r = shell.run(f"%%openrouter {CHAT} --chat -t 0,1 --seed 3\nAnother one?")
    bodies = chat_bodies(server)[1:]
    assert len(bodies) == 2
    assert all(b["messages"] == [user("Name a colour."), assistant(first.text), user("Another one?")] for b in bodies)
    assert len(SESSION.chats["default"]) == 1 and any("none was appended" in n for n in r.notes)
    r.keep(1)
    shell.run(f"%%openrouter {CHAT} --chat\nAnd a third?")
    assert chat_bodies(server)[-1]["messages"] == [user("Name a colour."), assistant(first.text),
                                                   user("Another one?"), assistant(r.runs[1].text),
                                                   user("And a third?")]


def test_the_panel_in_a_conversation_replaces_its_turn(shell, server):
    first = shell.run(f"%%openrouter {CHAT} --chat\nName a colour.")
    panel = shell.run(f"%%openrouter {CHAT} --chat --widgets --seed 1 -t 0.2\nA poem about it.")
    panel.wait()
    panel.set(temperature=0.9)
    again = panel.run()
    shell.run(f"%%openrouter {CHAT} --chat\nShorter.")
    history_part = [user("Name a colour."), assistant(first.text), user("A poem about it.")]
    bodies = chat_bodies(server)
    assert [b["messages"] for b in bodies[1:3]] == [history_part, history_part]
    assert [b["temperature"] for b in bodies[1:3]] == [0.2, 0.9]
    assert bodies[3]["messages"] == history_part + [assistant(again.text), user("Shorter.")]
    assert len(SESSION.chats["default"]) == 3


def test_streaming_choices_and_out_in_a_conversation(shell, server):
    shell.run(f"%%openrouter {CHAT} --chat c --stream -o first\nIs the sky blue?")
    first = shell.ns["first"]
    assert chat_bodies(server)[0]["stream"] is True
    r = shell.run(f"%%openrouter {CHAT} --chat c --choices yes,no --logprobs\nAnswer yes or no.")
    body = chat_bodies(server)[1]
    assert body["messages"] == [user("Is the sky blue?"), assistant(first.text), user("Answer yes or no.")]
    assert body["logprobs"] is True and not r.logprobs.empty  # logprobs per turn
    assert SESSION.chats["c"].turns[-1].answer == r.text


def test_bad_conversation_input_is_one_line(shell, server):
    with pytest.raises(UsageError, match="--max-history -1: must be an integer ≥ 0"):
        shell.run(f"%%openrouter {CHAT} --chat --max-history -1\nhi")
    with pytest.raises(UsageError, match="/completions, which has no turns"):
        shell.run("%%openrouter openai/gpt-3.5-turbo-instruct --chat\nhi")
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        shell.run("%openrouter chat --bogus")
    assert chat_bodies(server) == [] and not [r for r in server.requests if "completions" in r.path]


def test_reset_empties_the_transcript_and_the_history_keeps_it(shell, server, capsys):
    shell.run(f"%%openrouter {CHAT} --chat t\nhi")
    shell.run("%openrouter chat t --reset")
    assert "emptied (1 turns" in capsys.readouterr().out
    shell.run(f"%%openrouter {CHAT} --chat t\nfresh start")
    assert chat_bodies(server)[-1]["messages"] == [user("fresh start")]
    assert list(history(full=True, limit=2).conversation) == ["t", "t"]
    assert shell.run("%openrouter chat nothing-here") is None
    assert "has no turns" in capsys.readouterr().out


def test_history_request_holds_the_messages_sent(shell, server):
    a = shell.run(f"%%openrouter {CHAT} --chat\nfirst")
    shell.run(f"%%openrouter {CHAT} --chat\nsecond")
    request = json.loads(history(full=True, limit=1).request.iloc[0])
    assert request["messages"] == [user("first"), assistant(a.text), user("second")]


def test_restart_and_run_all_with_the_cache_reproduces_the_conversation_for_free(shell, server):
    cells = [f"%%openrouter {CHAT} --chat --cache --seed 4\nName a river.",
             f"%%openrouter {CHAT} --chat --cache --seed 4\nWhere does it flow?"]
    first = [shell.run(c).text for c in cells]
    transcript = shell.run("%openrouter chat")
    SESSION.chats.clear()  # the kernel restarts
    server.clear()
    again = [shell.run(c) for c in cells]
    assert [r.text for r in again] == first and all(r.runs[0].cached for r in again)
    assert chat_bodies(server) == []  # nothing was sent: the same requests were answered from the history
    assert shell.run("%openrouter chat")[["turn", "role", "content"]].equals(transcript[["turn", "role", "content"]])


def test_a_model_id_given_as_the_chat_name_is_caught(shell, server):
    with pytest.raises(UsageError, match="looks like a model id; the model goes first"):
        shell.run(f"%%openrouter --chat {CHAT}\nhi")
    shell.run(f"%%openrouter --chat plans {CHAT}\nhi")  # a name, then the model, is fine
    assert chat_bodies(server)[0]["model"] == CHAT and "plans" in SESSION.chats


def test_keeping_the_turn_a_single_run_made_changes_nothing(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --chat\nhi")
    r.keep(0)
    conversation = SESSION.chats["default"]
    assert len(conversation) == 1 and conversation.older == [] and conversation.branch == 0


def test_history_filters_by_conversation_on_every_branch(shell, server, kernel):
    cell(shell, kernel, "x1", f"%%openrouter {CHAT} --chat mine\none")
    cell(shell, kernel, "x2", f"%%openrouter {CHAT}\nnot in a conversation")
    cell(shell, kernel, "x1", f"%%openrouter {CHAT} --chat mine\none, again")
    turns = shell.run("%openrouter history --chat mine")
    assert len(turns) == 2 and list(turns.branch) == [1, 0] and list(turns.turn) == [1, 1]
    assert len(history(chat="mine", model="gpt")) == 2 and history(chat="nobody").empty


def test_a_context_refusal_the_estimate_missed_is_retried_with_fewer_turns(shell, server):
    """One-letter words cost the fake server a token each, more than the estimate expects: the
    server refuses turn 3 (HTTP 400, as OpenRouter words it) and the turn goes again without the
    oldest turn; the refusal is a note, not the cell's error."""
    words = " ".join(["a"] * 100)
    answers = [shell.run(f"%%openrouter {SHORT} --chat tight --seed 1 --max-tokens 5\n{i}: {words}").text
               for i in (1, 2)]
    r = shell.run(f"%%openrouter {SHORT} --chat tight --seed 1 --max-tokens 5\n3: {words}")
    sent = [body["messages"] for body in chat_bodies(server)]
    assert len(sent) == 4
    assert sent[2] == [user(f"1: {words}"), assistant(answers[0]), user(f"2: {words}"), assistant(answers[1]),
                       user(f"3: {words}")]
    assert sent[3] == [user(f"2: {words}"), assistant(answers[1]), user(f"3: {words}")]
    assert r.runs[0].error is None and any("sent again without the oldest 1 turn" in n for n in r.notes)
    assert len(SESSION.chats["tight"]) == 3
    refused = history(full=True, limit=2).iloc[1]
    assert refused.status == 400 and "maximum context length is 300 tokens" in refused.error
