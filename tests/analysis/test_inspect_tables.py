"""Derived per-token columns and per-run metrics: exact numbers on hand-made answers."""

import math

import numpy as np
import pytest

from or_magic.analysis.metrics import METRIC_COLUMNS
from tests.inspect_helpers import HI, LN, chat_raw, entry, legacy_raw, result_of

H0 = -(0.5 * LN(0.5) + 0.25 * LN(0.25))
H1 = -(0.6 * LN(0.6) + 0.2 * LN(0.2) + 0.1 * LN(0.1))


def test_chat_derived_columns_exact():
    lp = result_of(chat_raw(HI)).logprobs
    assert list(lp.token) == ["Hi", " there", "!"] and list(lp.text) == ["Hi", " there", "!"]
    assert list(lp.offset) == [0, 2, 8]  # computed from the decoded texts
    np.testing.assert_allclose(lp.prob, [0.5, 0.2, 1.0])
    np.testing.assert_array_equal(lp["rank"].to_numpy()[:2], [1, 2])
    np.testing.assert_allclose(lp.margin[:2], [0.25, 0.2 - 0.6])
    np.testing.assert_allclose(lp.entropy[:2], [H0, H1])
    np.testing.assert_allclose(lp.tail_mass[:2], [0.25, 0.1], atol=1e-12)
    assert lp.loc[2, ["rank", "margin", "entropy", "tail_mass"]].isna().all()  # empty top_logprobs
    np.testing.assert_allclose(lp.cumulative_logprob, [LN(0.5), LN(0.1), LN(0.1)])


def test_run_metrics_exact():
    result = result_of(chat_raw(HI))
    row = result.df.iloc[0]
    assert row.mean_logprob == pytest.approx(LN(0.1) / 3)
    assert row.perplexity == pytest.approx(10 ** (1 / 3))
    assert row.joint_prob == pytest.approx(0.1)
    assert row.min_logprob_token == " there" and row.min_logprob_position == 1
    assert row.not_top_share == pytest.approx(0.5)  # rank 1 and rank 2; "!" has no alternatives
    assert any("1 of 3 tokens came without alternatives" in n for n in result.notes)


def test_chosen_token_absent_from_alternatives():
    result = result_of(chat_raw([entry("x", 0.05, [("a", 0.7), ("b", 0.2)])]))
    lp = result.logprobs
    assert math.isnan(lp["rank"][0])
    assert lp.margin[0] == pytest.approx(0.05 - 0.7)
    assert result.df.not_top_share[0] == 1.0
    assert not result.top_logprobs.chosen.any()


def test_only_the_chosen_alternative_means_no_margin():
    lp = result_of(chat_raw([entry("x", 0.9, [("x", 0.9)])])).logprobs
    assert lp["rank"][0] == 1 and math.isnan(lp.margin[0]) and lp.tail_mass[0] == pytest.approx(0.1)
    assert lp.entropy[0] == pytest.approx(-0.9 * LN(0.9))


LEGACY = {"tokens": ["\n\n", "I"], "token_logprobs": [LN(0.8), LN(0.5)],
          "top_logprobs": [{"\n": LN(0.15), "\n\n": LN(0.8)}, {"The": LN(0.3), "I": LN(0.5), "A": LN(0.1)}],
          "text_offset": [36, 38]}


def test_legacy_format_same_columns_exact():
    result = result_of(legacy_raw(LEGACY, "\n\nI"), params={"logprobs": True})
    lp = result.logprobs
    assert list(lp.offset) == [36, 38]  # the server's offsets (counted from the prompt start)
    assert list(lp.text) == ["\n\n", "I"] and lp.bytes.isna().all()
    np.testing.assert_array_equal(lp["rank"], [1, 1])
    np.testing.assert_allclose(lp.margin, [0.8 - 0.15, 0.5 - 0.3])
    np.testing.assert_allclose(lp.entropy, [-(0.8 * LN(0.8) + 0.15 * LN(0.15)),
                                            -(0.5 * LN(0.5) + 0.3 * LN(0.3) + 0.1 * LN(0.1))])
    np.testing.assert_allclose(lp.tail_mass, [0.05, 0.1], atol=1e-12)
    row = result.df.iloc[0]
    assert row.joint_prob == pytest.approx(0.4) and row.not_top_share == 0.0
    assert row.min_logprob_token == "I" and row.min_logprob_position == 1
    top = result.top_logprobs
    assert list(top.token) == ["\n\n", "\n", "I", "The", "A"] and list(top.chosen) == [True, False, True, False, False]


EMOJI = "🙂".encode()  # f0 9f 99 82


def test_emoji_split_over_tokens_decodes_on_the_completing_token():
    content = [entry("A", 0.9, []), entry("\\xf0\\x9f", 0.8, [], bytes=list(EMOJI[:2])),
               entry("\\x99\\x82", 0.99, [], bytes=list(EMOJI[2:])), entry("B", 0.7, [])]
    result = result_of(chat_raw(content, text="A🙂B"))
    lp = result.logprobs
    assert list(lp.text) == ["A", "", "🙂", "B"] and "".join(lp.text) == result.text
    assert list(lp.offset) == [0, 1, 1, 2]
    assert not any("UTF-8" in n for n in result.notes)


def test_legacy_bytes_spelling_is_decoded():
    legacy = {"tokens": ["A", "bytes:\\xf0\\x9f", "bytes:\\x99\\x82"], "token_logprobs": [-0.1, -0.2, -0.3],
              "top_logprobs": None, "text_offset": [0, 1, 1]}
    lp = result_of(legacy_raw(legacy, "A🙂"), params={"logprobs": True}).logprobs
    assert list(lp.text) == ["A", "", "🙂"]


def test_invalid_utf8_and_truncated_sequences_become_replacement_chars_with_a_note():
    content = [entry("?", 0.5, [], bytes=[255]), entry("x", 0.5, []), entry("?", 0.5, [], bytes=[240, 159])]
    result = result_of(chat_raw(content))
    assert list(result.logprobs.text) == ["\ufffd", "x", "\ufffd"]
    assert any("2 byte sequence(s) are not valid UTF-8" in n for n in result.notes)


def test_null_bytes_use_the_token_string_with_a_note():
    content = [entry("a", 0.5, []), entry("b", 0.5, [], bytes=None), entry("c", 0.5, [])]
    result = result_of(chat_raw(content))
    assert list(result.logprobs.text) == ["a", "b", "c"] and result.logprobs.bytes[1] is None
    assert any("1 of 3 tokens came without bytes" in n for n in result.notes)


def test_nan_and_minus_inf_logprobs():
    content = [entry("a", 0.5, [("a", 0.5)]), entry("b", 0.5, [("b", 0.5)], logprob=None),
               entry("c", 0.25, [("c", 0.25)])]
    result = result_of(chat_raw(content))
    lp, row = result.logprobs, result.df.iloc[0]
    assert math.isnan(lp.logprob[1]) and math.isnan(lp.prob[1])
    assert lp.cumulative_logprob[0] == pytest.approx(LN(0.5)) and lp.cumulative_logprob[1:].isna().all()
    assert row.mean_logprob == pytest.approx((LN(0.5) + LN(0.25)) / 2)  # over the known ones
    assert row.min_logprob_token == "c" and row.min_logprob_position == 2
    assert any("1 of 3 token logprobs are missing" in n for n in result.notes)

    content = [entry("a", 0.5, [("a", 0.5), ("z", 0.0)]), entry("b", 0.0, [("q", 1.0), ("b", 0.0)])]
    result = result_of(chat_raw(content))
    lp, row = result.logprobs, result.df.iloc[0]
    assert lp.logprob[1] == -math.inf and lp.prob[1] == 0 and lp.cumulative_logprob[1] == -math.inf
    assert lp.entropy[0] == pytest.approx(-0.5 * LN(0.5))  # 0·ln 0 counts as 0
    assert row.perplexity == math.inf and row.joint_prob == 0 and row.min_logprob_position == 1
    assert any("-inf" in n for n in result.notes)


def test_positive_and_absurd_logprobs_never_raise():
    content = [entry("a", 0.5, [("a", 0.5)], logprob=1e6), entry("b", 0.5, [], logprob="junk")]
    result = result_of(chat_raw(content))
    row = result.df.iloc[0]
    assert row.perplexity == 0.0 and row.joint_prob == math.inf  # garbage in, numbers out, no exception
    assert math.isnan(result.logprobs.logprob[1])
    result.tokens()._repr_html_()


def test_no_logprobs_gives_empty_tables_nan_metrics_and_a_note():
    result = result_of(chat_raw(None, text="hello"))
    assert result.logprobs.empty and result.top_logprobs.empty and result.wide().empty
    row = result.df.iloc[0]
    assert all(name in result.df.columns for name in METRIC_COLUMNS)
    assert math.isnan(row.mean_logprob) and row.min_logprob_token is None
    assert any("no logprobs returned" in n for n in result.notes)
    assert "no logprobs returned" in result.tokens()._repr_html_()


def test_metric_columns_only_when_logprobs_were_asked_for():
    assert "mean_logprob" not in result_of(chat_raw(None, text="x"), params={}).df.columns


def test_malformed_entries_take_the_tolerant_path():
    content = [entry("a", 0.5, [("a", 0.5)]), "junk", {"token": "c", "logprob": -1.0, "top_logprobs": None}]
    lp = result_of(chat_raw(content, text="ac")).logprobs
    assert list(lp.token) == ["a", "", "c"] and math.isnan(lp.logprob[1]) and lp["rank"][0] == 1


def test_sweep_tables_carry_keys_and_one_metric_row_per_run():
    other = [entry("Hi", 0.5, [("Hi", 0.5)]), entry(" you", 0.6, [(" you", 0.6)])]
    result = result_of(chat_raw(HI), chat_raw(other), axis="seed")
    assert list(result.logprobs.seed) == [0, 0, 0, 1, 1] and list(result.logprobs.position) == [0, 1, 2, 0, 1]
    assert list(result.top_logprobs.seed) == [0] * 5 + [1] * 2
    np.testing.assert_allclose(result.df.joint_prob, [0.1, 0.3])
    assert list(result.df.min_logprob_position) == [1, 0]


def test_fast_parse_matches_the_tolerant_one_and_survives_extend():
    from or_magic.analysis.metrics import token_stats
    from or_magic.wire.logprobs import parse_chat_tolerant, parse_logprobs

    content = [{k: v for k, v in e.items()} for e in HI]
    for e in content:  # alternatives without a bytes key are still well-formed
        e["top_logprobs"] = [{"token": a["token"], "logprob": a["logprob"]} for a in e["top_logprobs"]]
    fast, slow = parse_logprobs({"content": content}), parse_chat_tolerant(content)
    assert fast == slow and fast.alt_bytes == [None] * 5
    assert fast.alt_position == [0, 0, 1, 1, 1] and fast.alt_rank == [1, 2, 1, 2, 3]
    assert list(token_stats(fast).alt_position) == fast.alt_position
    fast.extend(parse_logprobs({"content": content}))
    stats = token_stats(fast)
    assert list(stats.alt_position) == [0, 0, 1, 1, 1, 3, 3, 4, 4, 4] and list(stats.alt_rank) == fast.alt_rank
    np.testing.assert_array_equal(stats.rank, [1, 2, np.nan, 1, 2, np.nan])
