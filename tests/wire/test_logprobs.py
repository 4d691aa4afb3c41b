import math

from or_magic.wire.logprobs import parse_logprobs

CHAT = {"content": [
    {"token": "Yes", "logprob": -0.0009, "bytes": [89, 101, 115],
     "top_logprobs": [{"token": "Yes", "logprob": -0.0009, "bytes": [89, 101, 115]},
                      {"token": "No", "logprob": -7.1, "bytes": [78, 111]}]},
    {"token": "!", "logprob": -1.5, "bytes": None, "top_logprobs": []},
], "refusal": None}

LEGACY = {"tokens": ["\n\n", "I"], "token_logprobs": [-0.16865084, -0.51],
          "top_logprobs": [{"\n": -1.9655257, "\n\n": -0.16865084, "It": -6.465525}, {"I": -0.51, "The": -1.2}],
          "text_offset": [36, 38]}


def test_chat_format():
    lp = parse_logprobs(CHAT)
    assert lp.token == ["Yes", "!"] and lp.logprob == [-0.0009, -1.5]
    assert lp.bytes == [[89, 101, 115], None] and lp.offset == [None, None]
    assert lp.alt_position == [0, 0] and lp.alt_rank == [1, 2] and lp.alt_token == ["Yes", "No"]


def test_legacy_format_ranked_by_logprob():
    lp = parse_logprobs(LEGACY)
    assert lp.token == ["\n\n", "I"] and lp.offset == [36, 38]
    assert lp.alt_position == [0, 0, 0, 1, 1]
    assert lp.alt_token == ["\n\n", "\n", "It", "I", "The"]
    assert lp.alt_rank == [1, 2, 3, 1, 2]


def test_missing_or_broken_logprobs_never_raise():
    assert parse_logprobs(None) is None
    assert parse_logprobs({"content": None, "refusal": None}) is None
    lp = parse_logprobs({"content": [{"token": "a", "logprob": None}, "junk"]})
    assert lp.token == ["a", ""] and all(math.isnan(v) for v in lp.logprob)
    lp = parse_logprobs({"tokens": ["a", "b"], "token_logprobs": [None], "top_logprobs": None})
    assert len(lp) == 2 and math.isnan(lp.logprob[1]) and lp.alt_token == []


def test_extend_shifts_positions():
    first = parse_logprobs(CHAT)
    first.extend(parse_logprobs(CHAT))
    assert len(first) == 4 and first.alt_position == [0, 0, 2, 2]
