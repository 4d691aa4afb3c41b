"""r.fork and r.branches against the local server, which continues prefills exactly."""

import math

import pytest

import or_magic
from or_magic import complete
from or_magic.core.errors import InvalidOption
from tests.inspect_helpers import chat_raw, entry, result_of

MODELS = ["openai/gpt-4o-mini", "openai/gpt-3.5-turbo-instruct"]  # chat, completions


def original(model: str, max_tokens: int = 10):
    return complete("Write about the sea", model=model, temperature=0, max_tokens=max_tokens, top_logprobs=5,
                    stream=False, progress=False)


def whole_alternatives(r, position):
    top = r.top_logprobs[r.top_logprobs.position == position].sort_values("rank")
    return top[[not t.startswith(("\\x", "bytes:")) for t in top.token]]


@pytest.mark.parametrize("model", MODELS)
def test_default_token_is_the_best_alternative_not_chosen(server, model):
    r = original(model)
    top = r.top_logprobs[(r.top_logprobs.position == 3)].sort_values("rank")
    expected = top[~top.chosen].token.iloc[0]
    f = r.fork(3)
    assert list(f.df.fork_token) == [expected] and list(f.df.fork_position) == [3]
    assert f.logprobs.token[3] == expected
    assert math.isclose(f.logprobs.prob[3], top[~top.chosen].prob.iloc[0])


@pytest.mark.parametrize("model", MODELS)
def test_forking_at_the_chosen_token_regenerates_the_original(server, model):
    r = original(model)
    f = r.fork(2, r.logprobs.token[2], max_tokens=7)
    assert f.text == r.text
    assert list(f.logprobs.token) == list(r.logprobs.token)


@pytest.mark.parametrize("model", MODELS)
def test_a_fork_lines_up_with_the_original(server, model):
    r = original(model)
    f = r.fork(4)
    before = "".join(r.logprobs.text[:4])
    assert f.text.startswith(before + f.df.fork_token[0]) and f.text != r.text
    assert list(f.logprobs.token[:4]) == list(r.logprobs.token[:4])
    table = or_magic.compare(r, f)
    assert list(table.position) == [4, 4] and table.token[1] == f.df.fork_token[0]
    # what the server generated follows the forked token, logprobs included
    raw = f.raw["choices"][0]
    generated = raw["logprobs"]["content"] if "content" in (raw["logprobs"] or {}) else None
    answer = raw.get("text") if "text" in raw else raw["message"]["content"]
    assert f.text == before + f.df.fork_token[0] + answer
    if generated is not None:
        assert [e["token"] for e in generated] == list(f.logprobs.token[5:])


def test_branch_table_has_one_row_per_alternative(server):
    r = original("openai/gpt-4o-mini")
    server.clear()
    table = r.branches(4, k=3)
    alts = whole_alternatives(r, 4).head(3)
    assert list(table.columns) == ["rank", "token", "prob", "continuation", "mean_logprob", "tokens",
                                   "finish_reason", "error"]
    assert list(table.token) == list(alts.token) and list(table["rank"]) == list(alts["rank"])
    assert all(math.isclose(a, b) for a, b in zip(table.prob, alts.prob))
    assert len(server.requests) == len(table)
    branches = table.attrs["result"]
    for row, run in zip(table.itertuples(), branches.runs):
        assert row.continuation.startswith(row.token)
        generated = [e["logprob"] for e in run.raw["choices"][0]["logprobs"]["content"]]
        assert row.tokens == len(generated)
        assert math.isclose(row.mean_logprob, sum(generated) / len(generated))
        assert row.continuation == row.token + run.raw["choices"][0]["message"]["content"]
    chosen = r.logprobs.token[4]
    if chosen in list(table.token):  # the chosen token's branch is the original's own continuation
        assert table[table.token == chosen].continuation.iloc[0] == "".join(r.logprobs.text[4:])


def test_a_server_that_repeats_the_prefix_is_understood(server):
    r = original("openai/gpt-4o-mini")
    expected = r.fork(4).text
    server.prefill_style = "echo"
    echoed = r.fork(4)
    assert echoed.raw["choices"][0]["message"]["content"].startswith("".join(r.logprobs.text[:4]))
    assert echoed.text == expected and not [n for n in echoed.notes if "prefill" in n]


def test_a_server_that_ignores_prefill_gets_a_note(server):
    r = original("openai/gpt-4o-mini")
    server.prefill_style = "ignore"
    f = r.fork(4)
    assert any("ignore assistant prefill" in n for n in f.notes)


def test_fork_needs_a_result_that_can_send():
    made_by_hand = result_of(chat_raw([entry("The", 0.9, [("The", 0.9), ("A", 0.1)])]))
    with pytest.raises(InvalidOption, match="cannot send requests"):
        made_by_hand.fork(0)


def test_fork_of_a_partial_character_is_refused(server):
    r = original("openai/gpt-4o-mini", max_tokens=16)
    partial = [t for t in r.top_logprobs.token if t.startswith("\\x")]
    assert partial  # the fake splits emoji into partial UTF-8 tokens, and this answer has one
    position = int(r.top_logprobs[r.top_logprobs.token == partial[0]].position.iloc[0])
    with pytest.raises(InvalidOption, match="only part of a character"):
        r.fork(position, partial[0])


def test_token_view_can_show_the_fork_positions():
    r = result_of(chat_raw([entry("The", 0.9, [("The", 0.9), ("A", 0.1)]), entry(" cat", 0.6, [(" cat", 0.6)])]))
    plain, marked = r.tokens()._repr_html_(), r.tokens(positions=True)._repr_html_()
    assert "r.fork(" not in plain
    assert "position 0: r.fork(0, token)" in marked and "position 1: r.fork(1, token)" in marked


def test_a_failed_single_fork_raises_with_its_result_and_is_recorded(server):
    from or_magic.core.errors import APIError

    r = original("openai/gpt-4o-mini")
    server.fail_next(402)
    with pytest.raises(APIError) as caught:
        r.fork(2)
    assert caught.value.result is not None and caught.value.result.df.error.notna().all()
    assert list(caught.value.result.df.fork_position) == [2]
    history = or_magic.history(limit=1)
    assert history.error.notna().iloc[0]


def test_forks_use_the_cache_when_the_call_did(server):
    r = complete("Write about the sea", model="openai/gpt-4o-mini", temperature=0, max_tokens=8, top_logprobs=5,
                 stream=False, cache=True, progress=False)
    first = r.fork(3)
    server.clear()
    again = r.fork(3)
    assert server.requests == [] and again.text == first.text and again.runs[0].cached
