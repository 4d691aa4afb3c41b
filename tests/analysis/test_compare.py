"""Where runs' token sequences diverge."""

import math

import pytest

import or_magic
from or_magic.analysis.divergence import first_divergence
from tests.inspect_helpers import chat_raw, entry, result_of

A = [entry("The", 0.9, [("The", 0.9)]), entry(" cat", 0.6, [(" cat", 0.6), (" dog", 0.3)]),
     entry(" sat", 0.8, [])]
B = [entry("The", 0.9, [("The", 0.9)]), entry(" dog", 0.3, [(" cat", 0.6), (" dog", 0.3)])]
C = [entry("The", 0.9, [("The", 0.9)]), entry(" bird", 0.1, [(" bird", 0.1)])]


def test_first_divergence():
    assert first_divergence([["a", "b"], ["a", "c"]]) == 1
    assert first_divergence([["a", "b"], ["a", "b"]]) is None
    assert first_divergence([["a"], ["a", "b"]]) == 1


def test_diverge_table_with_each_branch_probability():
    result = result_of(chat_raw(A), chat_raw(B), chat_raw(C), axis="seed")
    table = result.diverge()
    assert list(table.columns) == ["run", "position", "token", "prob", "rank", "prefix", "alternatives",
                                   "p(' cat')", "p(' dog')", "p(' bird')"]
    assert list(table.alternatives) == ["' cat' 60.0%, ' dog' 30.0%"] * 2 + ["' bird' 10.0%"]
    assert list(table.position) == [1, 1, 1] and list(table.token) == [" cat", " dog", " bird"]
    assert list(table.prefix) == ["The"] * 3 and list(table.run) == ["run 0 (seed=0)", "run 1 (seed=1)", "run 2 (seed=2)"]
    assert list(table["p(' cat')"][:2]) == pytest.approx([0.6, 0.6]) and math.isnan(table["p(' cat')"][2])
    assert list(table["p(' dog')"][:2]) == pytest.approx([0.3, 0.3])
    assert list(table["rank"][:2]) == [1, 2]
    assert list(result.diverge(0, 1).token) == [" cat", " dog"]


def test_identical_and_prefix_runs():
    same = result_of(chat_raw(A), chat_raw(A), axis="seed").diverge()
    assert same.position.isna().all() and "identical" in same.attrs["notes"][0]
    assert list(same.prefix) == ["The cat sat"] * 2
    longer = result_of(chat_raw(A), chat_raw(A[:2]), axis="seed").diverge()
    assert list(longer.position) == [2, 2] and longer.token[0] == " sat" and longer.token.isna()[1]


def test_compare_across_results_and_runs_without_logprobs():
    r1, r2, r3 = result_of(chat_raw(A)), result_of(chat_raw(B)), result_of(chat_raw(None, text="x"))
    table = or_magic.compare(r1, r2, r3)
    assert list(table.run) == ["#0", "#1"] and list(table.token) == [" cat", " dog"]
    assert "#2: no logprobs, left out" in table.attrs["notes"]
    table = or_magic.compare(r1.runs[0])
    assert table.position.isna().all() and "two or more" in table.attrs["notes"][-1]


def test_unknown_run_index_is_a_clear_error():
    with pytest.raises(IndexError, match="no run 5"):
        result_of(chat_raw(A)).diverge(0, 5)
