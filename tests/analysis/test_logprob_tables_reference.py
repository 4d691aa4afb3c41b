"""The logprob tables built column-wise (fast parse, arrays kept, lists made lazily) equal the same
tables built the slow way: per-entry parsing (parse_chat_tolerant) and plain loops over the wire
entries, on random answers."""

import math
import pickle

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from or_magic.analysis.result import Result
from or_magic.run.request import Run, RunSpec
from or_magic.wire.logprobs import parse_chat_tolerant, parse_logprobs
from or_magic.wire.response import Completion

WORDS = st.sampled_from([" the", "a", " café", " 東京", "🙂", ",", "\n", " über", "x"])
LOGPROB = st.one_of(st.floats(-30, 0), st.just(0), st.just(float("-inf")))


@st.composite
def answers(draw):
    content = []
    for _ in range(draw(st.integers(0, 12))):
        alts = [{"token": draw(WORDS), "logprob": draw(LOGPROB)} for _ in range(draw(st.integers(0, 5)))]
        for a in alts:
            if draw(st.booleans()):
                a["bytes"] = list(a["token"].encode())
        token = alts[draw(st.integers(0, len(alts) - 1))]["token"] if alts and draw(st.booleans()) else draw(WORDS)
        entry = {"token": token, "logprob": draw(LOGPROB), "top_logprobs": alts,
                 "bytes": draw(st.sampled_from([list(token.encode()), None]))}
        content.append(entry)
    return content


def _result(content, lp):
    raw = {"id": "g", "model": "m", "choices": [{"index": 0, "finish_reason": "stop", "logprobs": {"content": content},
                                                 "message": {"role": "assistant", "content": "".join(e["token"] for e in content)}}]}
    completion = Completion.from_response(raw)
    if lp is not None:
        completion.logprobs = lp
    return Result([Run(spec=RunSpec(model="m", prompt="p", params={"top_logprobs": 5}), raw=raw, completion=completion)])


@settings(max_examples=60, deadline=None)
@given(answers())
def test_tables_equal_the_slow_way(content):
    fast = _result(content, None)
    slow = _result(content, parse_chat_tolerant(content))
    pd.testing.assert_frame_equal(fast.logprobs, slow.logprobs)
    pd.testing.assert_frame_equal(fast.top_logprobs, slow.top_logprobs)
    pd.testing.assert_frame_equal(fast.df, slow.df)
    assert fast.notes == slow.notes
    # and the plain loop over the wire entries (what a user would write)
    rows = [(p, r, a["token"], float(a["logprob"]))
            for p, e in enumerate(content) for r, a in enumerate(e["top_logprobs"], start=1)]
    top = fast.top_logprobs
    assert list(zip(top["position"], top["rank"], top["token"], top["logprob"])) == rows
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(top.prob, [math.exp(r[3]) for r in rows])
    assert list(fast.logprobs.token) == [e["token"] for e in content]


@settings(max_examples=30, deadline=None)
@given(answers())
def test_the_lazily_made_lists_equal_the_slow_parse_and_survive_pickle_and_extend(content):
    fast, slow = parse_logprobs({"content": content}), parse_chat_tolerant(content)
    if fast is None:
        return
    again = pickle.loads(pickle.dumps(fast))
    assert fast == slow and again == slow  # equality reads the lists, made from the arrays on first use
    assert fast.alt_position == slow.alt_position and fast.alt_rank == slow.alt_rank
    assert fast.alt_logprob == slow.alt_logprob
    other = parse_logprobs({"content": content})
    other.extend(parse_logprobs({"content": content}))
    twice = parse_chat_tolerant(content)
    twice.extend(parse_chat_tolerant(content))
    assert other == twice
    from or_magic.analysis.metrics import token_stats

    a, b = token_stats(other), token_stats(twice)
    for name in ("alt_position", "alt_rank", "alt_logprob", "chosen", "rank", "margin", "entropy"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_editing_a_table_leaves_the_parsed_alternatives_alone():
    content = [{"token": "a", "logprob": -0.1, "bytes": [97],
                "top_logprobs": [{"token": "a", "logprob": -0.1, "bytes": [97]}, {"token": "b", "logprob": -2.0, "bytes": [98]}]}]
    first = _result(content, None)
    first.top_logprobs.loc[0, "token"] = "edited"
    first.top_logprobs.loc[1, "logprob"] = 0.0
    again = Result(first.runs)  # the same parsed logprobs, tables built afresh
    assert again.top_logprobs["token"].tolist() == ["a", "b"] and again.top_logprobs["logprob"].tolist() == [-0.1, -2.0]
    assert first.runs[0].logprobs.alt_token == ["a", "b"]
