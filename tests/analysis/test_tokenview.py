"""The HTML token view: structure, shading, hover text and escaping; wide view and heatmap."""

import math
from html.parser import HTMLParser

import numpy as np

from or_magic.analysis.tokenview import prob_color
from tests.inspect_helpers import HI, chat_raw, entry, result_of


class Spans(HTMLParser):
    """Collects every tag and the (style, title, text) of each span that has a title."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.spans: list[dict] = []
        self._open: list[dict | None] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        span = {"style": attrs.get("style", ""), "title": attrs["title"], "text": ""} if "title" in attrs else None
        self._open.append(span)
        if span is not None:
            self.spans.append(span)

    def handle_endtag(self, tag):
        self._open.pop()

    def handle_data(self, data):
        for span in self._open:
            if span is not None:
                span["text"] += data


def parsed(html: str) -> Spans:
    parser = Spans()
    parser.feed(html)
    return parser


def test_one_span_per_token_shaded_with_alternatives_on_hover():
    view = result_of(chat_raw(HI)).tokens()
    page = parsed(view._repr_html_())
    assert [s["text"] for s in page.spans] == ["Hi", " there", "!"]
    assert page.spans[0]["title"].splitlines() == ["'Hi': 50.00%, rank 1", "1. 'Hi' 50.00%", "2. 'Hello' 25.00%"]
    assert page.spans[1]["title"].splitlines()[1:] == ["1. ' you' 60.00%", "2. ' there' 20.00%", "3. ' all' 10.00%"]
    assert "(no alternatives returned)" in page.spans[2]["title"]
    assert page.spans[0]["style"] == prob_color(0.5) and page.spans[2]["style"] == prob_color(1.0)
    assert repr(view) == "Hi there!"


def test_top_limits_the_alternatives_shown():
    page = parsed(result_of(chat_raw(HI)).tokens(top=1)._repr_html_())
    assert page.spans[1]["title"].splitlines()[1:] == ["1. ' you' 60.00%"]


def test_html_in_tokens_is_escaped_and_inert():
    evil = "<script>alert(1)</script>"
    attr = '"><img src=x onerror=alert(2)>'
    content = [entry(evil, 0.5, [(evil, 0.5), (attr, 0.3)]), entry("&amp; <b>", 0.9, [])]
    html = result_of(chat_raw(content)).tokens()._repr_html_()
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html
    page = parsed(html)
    assert {tag for tag, _ in page.tags} <= {"div", "span"}
    assert all(set(attrs) <= {"style", "title"} for _, attrs in page.tags)
    assert [s["text"] for s in page.spans] == [evil, "&amp; <b>"]  # shown literally
    assert page.spans[0]["title"].splitlines()[2] == f"2. {attr!r} 30.00%"


def test_newlines_stay_visible_and_unknown_probs_are_unshaded():
    content = [entry("a\n", 0.5, []), entry("b", 0.5, [], logprob=None)]
    page = parsed(result_of(chat_raw(content)).tokens()._repr_html_())
    assert page.spans[0]["text"] == "a\u21b5\n"
    assert "background" not in page.spans[1]["style"] and "n/a" in page.spans[1]["title"]


def test_sweep_view_has_a_header_per_run_and_can_pick_runs():
    result = result_of(chat_raw(HI), chat_raw([entry("x", 0.5, [])]), axis="seed")
    html = result.tokens()._repr_html_()
    assert "run 0 (seed=0)" in html and "run 1 (seed=1)" in html
    assert "run 0 (seed=0)" not in result.tokens(1)._repr_html_()


def test_prob_color_scale():
    assert prob_color(0.0) == "background-color: hsla(0, 85%, 55%, 0.35)"
    assert prob_color(1.0) == "background-color: hsla(120, 85%, 55%, 0.35)"
    assert prob_color(math.nan) == "" and prob_color(2.0) == prob_color(1.0)


def test_wide_view_one_row_per_position():
    wide = result_of(chat_raw(HI)).wide(visible=False)
    assert list(wide.columns) == ["run", "position", "token", "prob", "alt_1", "alt_1_prob", "alt_2", "alt_2_prob",
                                  "alt_3", "alt_3_prob"]
    assert list(wide.alt_1) == ["Hi", " you", None] and list(wide.alt_3) == [None, " all", None]
    np.testing.assert_allclose(wide.alt_2_prob[:2], [0.25, 0.2])
    assert math.isnan(wide.alt_1_prob[2])
    assert list(result_of(chat_raw(HI)).wide(k=1).columns)[-2:] == ["alt_1", "alt_1_prob"]


def test_wide_view_of_a_sweep_keeps_runs_apart():
    result = result_of(chat_raw(HI), chat_raw([entry("x", 0.4, [("y", 0.5), ("x", 0.4)])]), axis="seed")
    wide = result.wide(visible=False)
    assert list(wide.seed) == [0, 0, 0, 1] and list(wide.alt_1) == ["Hi", " you", None, "y"]


SPACEY = [entry(" is", 0.5, [(" is", 0.5), ("is", 0.3), ("\n", 0.1), ("\t ", 0.05)]),
          entry("\n", 0.6, [("\n", 0.6), ("  ", 0.2)])]


def test_whitespace_is_visible_in_the_wide_view_and_heatmap_but_the_data_stays_exact():
    result = result_of(chat_raw(SPACEY))
    wide = result.wide()
    assert list(wide.token) == ["␣is", "↵"]
    assert list(wide.alt_1) == ["␣is", "↵"] and list(wide.alt_2) == ["is", "␣␣"]
    assert list(wide.alt_4) == ["⇥␣", ""]  # a missing alternative is an empty cell, not None
    assert list(result.logprobs.token) == [" is", "\n"]  # the tables keep the exact strings
    html = result.heatmap().to_html()
    assert "␣is" in html and "↵" in html and "⇥␣" in html and "None" not in html


def test_visible_marks_only_edge_spaces():
    from or_magic.analysis.whitespace import visible

    assert visible(" a b ") == "␣a b␣" and visible("a\r\nb\tc") == "a↵b⇥c" and visible("   ") == "␣␣␣"
    assert visible("") == "" and visible(None) is None


def test_heatmap_shades_probability_cells():
    html = result_of(chat_raw(HI)).heatmap().to_html()
    assert prob_color(0.6).split(": ")[1] in html and "60.0%" in html


def test_hover_says_when_the_chosen_token_is_not_among_the_alternatives():
    page = parsed(result_of(chat_raw([entry("x", 0.05, [("a", 0.7)])])).tokens()._repr_html_())
    assert page.spans[0]["title"].splitlines()[0] == "'x': 5.00%, not among the alternatives"
