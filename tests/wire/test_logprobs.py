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


def test_fast_parse_keeps_the_alternatives_as_arrays_until_a_list_is_asked_for():
    from or_magic.wire.logprobs import ALT_ARRAYS

    lp = parse_logprobs(CHAT)
    assert ALT_ARRAYS in vars(lp) and lp.alt_count() == 2 and "alt_token" not in vars(lp)
    assert lp.alt_array("alt_token").tolist() == ["Yes", "No"] and "alt_token" not in vars(lp)
    lp.alt_token[1] = "Nope"  # makes the list: from now on the column is read from it
    assert lp.alt_array("alt_token").tolist() == ["Yes", "Nope"]
    assert lp.alt_array("alt_logprob").tolist() == [-0.0009, -7.1] and "alt_logprob" not in vars(lp)
    assert lp.alt_bytes == [[89, 101, 115], [78, 111]]


def test_entries_and_alternatives_without_bytes_stay_on_the_fast_path():
    from or_magic.wire.logprobs import ALT_ARRAYS

    content = [{"token": "a", "logprob": -1.0, "top_logprobs": [
        {"token": "a", "logprob": -1.0}, {"token": "b", "logprob": "-2.5", "bytes": [98]}]}]
    lp = parse_logprobs({"content": content})
    assert ALT_ARRAYS in vars(lp)
    assert lp.bytes == [None] and lp.alt_bytes == [None, [98]] and lp.alt_logprob == [-1.0, -2.5]
