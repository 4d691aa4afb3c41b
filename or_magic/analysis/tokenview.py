"""An HTML token view: the completion with each token shaded by its probability.

Pure HTML with inline styles and the `title` attribute for the hover text, so it works in
JupyterLab, VS Code, classic Notebook and exported HTML with no JavaScript or extension (the
notebook sanitisers keep `title` and `style`).  Every token and alternative is HTML-escaped:
a token `<script>` shows as text and never runs.

Each token's text is its *decoded* text (tokentext.py): tokens that only begin a multi-byte
character are empty and the character is shown on the token that completes it.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any, Sequence

from .metrics import safe_prob

if TYPE_CHECKING:
    from ..run.request import Run

NEWLINE_MARK = "\u21b5"  # ↵ keeps newline tokens visible and hoverable
BOX_STYLE = "font-family: monospace; white-space: pre-wrap; line-height: 1.7; margin: 0.3em 0"
HEAD_STYLE = "color: #888; font-size: 85%; font-family: sans-serif"


def prob_color(prob: float) -> str:
    """CSS background for a probability: red (0) through yellow to green (1); none if unknown."""
    if prob is None or math.isnan(prob):
        return ""
    prob = min(max(prob, 0.0), 1.0)
    return f"background-color: hsla({round(120 * prob)}, 85%, 55%, 0.35)"


def percent(prob: float) -> str:
    return "n/a" if prob is None or math.isnan(prob) else f"{100 * prob:.2f}%"


class TokenView:
    """Rendered token view; displays itself in notebooks, `.html` is the markup."""

    def __init__(self, html_text: str, plain: str) -> None:
        self.html = html_text
        self._plain = plain

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self._plain


def render(runs: Sequence["Run"], labels: Sequence[str], top: int = 5, positions: bool = False) -> TokenView:
    """One block per run (with a header line when there are several)."""
    blocks, plain = [], []
    for run, label in zip(runs, labels):
        head = f'<div style="{HEAD_STYLE}">{html.escape(label)}</div>' if len(runs) > 1 else ""
        blocks.append(head + _run_block(run, top, positions))
        plain.append(f"{label}: {run.text}" if len(runs) > 1 else run.text)
    legend = (f'<div style="{HEAD_STYLE}">shade: probability of the token, '
              f'<span style="{prob_color(0.0)}">0%</span> <span style="{prob_color(0.5)}">50%</span> '
              f'<span style="{prob_color(1.0)}">100%</span>; hover a token for its top alternatives</div>')
    return TokenView("<div>" + "".join(blocks) + legend + "</div>", "\n".join(plain))


def _run_block(run: "Run", top: int, positions: bool = False) -> str:
    from .metrics import token_stats

    lp = run.logprobs
    if lp is None or not len(lp):
        why = "failed: " + str(run.error) if run.error is not None else "no logprobs returned"
        return f'<div style="{BOX_STYLE}">{html.escape(run.text)}</div><div style="{HEAD_STYLE}">({html.escape(why)})</div>'
    stats = token_stats(lp)
    alternatives = _alternatives_by_position(lp, top)
    spans = [_span(text, lp.token[i], float(stats.logprob[i]), stats.rank[i], alternatives.get(i, []),
                   i if positions else None) for i, text in enumerate(stats.text)]
    return f'<div style="{BOX_STYLE}">{"".join(spans)}</div>'


def _alternatives_by_position(lp: Any, top: int) -> dict[int, list[tuple[str, float]]]:
    out: dict[int, list[tuple[str, float]]] = {}
    for position, rank, token, logprob in zip(lp.alt_position, lp.alt_rank, lp.alt_token, lp.alt_logprob):
        if rank <= top:
            out.setdefault(position, []).append((token, logprob))
    return out


def _span(text: str, token: str, logprob: float, rank: float, alternatives: list[tuple[str, float]],
          position: int | None = None) -> str:
    prob = safe_prob(logprob)
    where = f", rank {int(rank)}" if not math.isnan(rank) else (", not among the alternatives" if alternatives else "")
    lines = [f"{token!r}: {percent(prob)}{where}"]
    lines += [f"{i}. {alt!r} {percent(safe_prob(lp))}"
              for i, (alt, lp) in enumerate(alternatives, start=1)]
    if not alternatives:
        lines.append("(no alternatives returned)")
    if position is not None:  # tokens(positions=True): the alternatives are fork points
        lines.append(f"position {position}: r.fork({position}, token)")
    title = html.escape("\n".join(lines), quote=True).replace("\n", "&#10;")
    shown = html.escape(text).replace("\n", f'<span style="color: #aaa">{NEWLINE_MARK}</span>\n')
    style = prob_color(prob) or "border-bottom: 1px dotted #999"
    return f'<span style="{style}" title="{title}">{shown}</span>'
