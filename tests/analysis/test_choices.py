"""--choices: label probabilities from the first token's alternatives."""

import math

import pytest
from IPython.lib.pretty import pretty

from or_magic.analysis.choices import match_label, parse_labels
from or_magic.core.errors import InvalidOption
from or_magic.notebook.options import parse_line
from tests.inspect_helpers import chat_raw, entry, result_of

FIRST = [entry(" Yes", 0.6, [(" Yes", 0.6), ("No", 0.2), ("yes", 0.1), ("May", 0.05), ("Ma", 0.01)])]


def test_label_probabilities_normalised_with_raw_mass():
    result = result_of(chat_raw(FIRST), choices=["yes", "no", "maybe"])
    table = result.choices
    assert list(table.columns) == ["run", "label", "prob", "raw_mass", "coverage", "tokens", "chosen"]
    assert list(table.label) == ["yes", "no", "maybe"]
    assert list(table.raw_mass) == pytest.approx([0.7, 0.2, 0.06])
    assert list(table.prob) == pytest.approx([0.7 / 0.96, 0.2 / 0.96, 0.06 / 0.96])
    assert list(table.tokens) == [[" Yes", "yes"], ["No"], ["May", "Ma"]]
    assert list(table.chosen) == [True, False, False]
    assert list(table.coverage) == pytest.approx([0.96] * 3)
    assert table.attrs["notes"] == []  # 96 % covered and the sampled " Yes" is a label: no warning


def test_labels_covering_little_of_the_mass_and_an_unmatched_sample_are_warned_about():
    """The issue's case: yes at prob 1.0 while the labels held 1.2 % of the mass, no row chosen."""
    first = [entry("Sure", 0.9, [("Sure", 0.9), ("Of", 0.08), ("yes", 0.012)])]
    result = result_of(chat_raw(first), choices=["yes", "no"])
    assert list(result.choices.prob) == [1.0, 0.0] and not result.choices.chosen.any()
    assert list(result.choices.coverage) == pytest.approx([0.012, 0.012])
    low = [n for n in result.notes if "1.2% of the first token's probability" in n]
    assert len(low) == 1 and low[0].startswith("warning:")
    assert "warning: the sampled first token 'Sure' matches no label" in result.notes
    assert "warning:" in pretty(result) and "coverage" in result._repr_html_()


def test_missing_label_gets_zero_and_a_note():
    result = result_of(chat_raw(FIRST), choices=["yes", "unsure"])
    assert list(result.choices.prob) == [1.0, 0.0] and result.choices.raw_mass[1] == 0.0
    assert any("probability 0): unsure" in n for n in result.notes)


def test_no_label_matched_gives_nan_and_a_note():
    result = result_of(chat_raw(FIRST), choices=["red", "blue"])
    assert result.choices.prob.isna().all() and list(result.choices.raw_mass) == [0.0, 0.0]
    assert any("none of the labels" in n for n in result.notes)


def test_ambiguous_prefix_counts_for_no_label():
    result = result_of(chat_raw(FIRST), choices=["mango", "maybe"])
    assert list(result.choices.raw_mass) == [0.0, pytest.approx(0.05)]  # "May" → maybe; "Ma" → both
    assert any("'Ma'" in n for n in result.notes)


def test_sweep_gives_one_row_per_run_per_label_and_renders_the_table():
    other = [entry("No", 0.9, [("No", 0.9), ("Yes", 0.1)])]
    result = result_of(chat_raw(FIRST), chat_raw(other), axis="seed", choices=["yes", "no"])
    table = result.choices
    assert list(table.seed) == [0, 0, 1, 1] and list(table.label) == ["yes", "no"] * 2
    assert list(table.prob[2:]) == pytest.approx([0.1, 0.9])
    assert "raw_mass" in result._repr_html_() and "raw_mass" in pretty(result)


def test_run_without_logprobs_is_nan_with_a_note():
    result = result_of(chat_raw(None, text="yes"), choices=["yes", "no"])
    assert result.choices.prob.isna().all() and any("returned no logprobs" in n for n in result.notes)


def test_matching_rules():
    labels = ["yes", "no", "maybe"]
    assert match_label("  YES ", labels) == (0, False) and match_label("may", labels) == (2, False)
    assert match_label("yes!", labels) == (None, False) and match_label(" ", labels) == (None, False)
    assert match_label("n", ["no", "nope"]) == (None, True) and match_label("no", ["no", "nope"]) == (0, False)


def test_labels_are_checked_before_sending():
    assert parse_line('m --choices "yes, no ,maybe"').choices == ["yes", "no", "maybe"]
    for bad in ['--choices yes', '--choices "yes,,no"', '--choices "Yes,yes"']:
        with pytest.raises(InvalidOption, match="--choices"):
            parse_line("m " + bad)
    assert parse_labels(["a", "b"]) == ["a", "b"]


def test_magic_asks_for_one_token_with_top_logprobs(shell, server):
    result = shell.run('%%openrouter test/m --choices "yes,no" --seed 3\nAnswer yes or no.')
    body = server.last.body
    assert body["max_tokens"] == 1 and body["top_logprobs"] == 20 and body["logprobs"] is True
    table = result.choices
    assert list(table.label) == ["yes", "no"]
    first = result.top_logprobs[result.top_logprobs.position == 0]
    for label, mass in zip(table.label, table.raw_mass):
        expected = first[first.token.str.strip().str.casefold() == label].prob.sum()
        assert mass == pytest.approx(expected)
    assert math.isclose(table.prob.sum(), 1.0) or table.prob.isna().all()


def test_user_top_logprobs_and_max_tokens_win(shell, server):
    shell.run('%%openrouter test/m --choices "yes,no" --top-logprobs 5 --max-tokens 3\nAnswer.')
    assert server.last.body["top_logprobs"] == 5 and server.last.body["max_tokens"] == 3


def test_complete_accepts_choices(server):
    from or_magic import complete

    result = complete("Answer.", "test/m", choices=["yes", "no"], seed=1)
    assert server.last.body["max_tokens"] == 1 and len(result.choices) == 2


def test_non_string_alternative_tokens_do_not_break_matching():
    content = [entry("yes", 0.5, [("yes", 0.5)])]
    content[0]["top_logprobs"].append({"token": 7, "logprob": -1.0, "bytes": None})
    result = result_of(chat_raw(content), choices=["yes", "no"])
    assert list(result.choices.prob) == [1.0, 0.0]
    result.tokens()._repr_html_()


def test_sweep_notes_are_grouped_and_missing_alternatives_are_noted():
    bare = [entry("yes", 0.7, [])]
    result = result_of(chat_raw(bare), chat_raw(bare), axis="seed", choices=["yes", "no"])
    assert list(result.choices.prob) == [1.0, 0.0, 1.0, 0.0]
    assert "runs 0, 1: the first token came without alternatives: only the sampled token counts " \
           "(ask for --top-logprobs)" in result.notes
    assert "runs 0, 1: not among the first token's 1 alternatives (probability 0): no" in result.notes


def test_max_completion_tokens_is_respected():
    from or_magic.analysis.choices import choice_params

    assert choice_params({"max_completion_tokens": [4]}) == {"max_completion_tokens": [4], "top_logprobs": [20]}
    assert choice_params({}) == {"max_tokens": [1], "top_logprobs": [20]}
