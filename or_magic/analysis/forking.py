"""Fork a generation at a token: `r.fork(position, token)` and the branch table `r.branches(position)`.

The prefix of a fork is the run's *decoded* text before `position` (tokentext.py: a character
split over tokens belongs to the token that completes it) plus the new token's text.  The
requests are built in `run/fork.py` and sent by the executor the api layer injected into the
Result (see there for why).  Each answer is then spliced behind the original's tokens, so a
branch's `text` and logprob tables read as one generation: the original's tokens before
`position` (with their logprobs and alternatives), the forked token (its reported logprob, when
it was among the alternatives), then the tokens the server generated.  `or_magic.compare(r, f)`
and `f.diverge()` therefore line up with the original and find `position`.

Servers differ on assistant prefill (OPENROUTER.md §9): some answer with the continuation only,
llama.cpp repeats the prefix first (it is stripped here, from the text and the logprobs), and a
provider that ignores prefill starts the answer over; that last case gets a note.
"""

from __future__ import annotations

import codecs
import math
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import InvalidOption
from ..core.params import CHAT
from ..run.fork import fork_plan, merge_plans
from ..wire.logprobs import TokenLogprobs
from .tokentext import decode_tokens, token_bytes

if TYPE_CHECKING:
    import pandas as pd

    from ..run.fork import Executor
    from ..run.request import Run

FORK_AXES = ["fork_position", "fork_token"]
BRANCH_COLUMNS = ["rank", "token", "prob", "continuation", "mean_logprob", "tokens", "finish_reason", "error"]


def fork_points(run: "Run", position: int) -> list[tuple[int, str, float, bool]]:
    """(rank, token, logprob, chosen) of the alternatives returned at `position`, best first."""
    lp = _logprobs_of(run)
    _check_position(lp, position, run)
    if position == len(lp):
        return []
    chosen = lp.token[position]
    return [(rank, tok, logprob, tok == chosen) for rank, tok, logprob in lp.alternatives_at(position)]


def pick_token(run: "Run", position: int, token: str | int | None) -> tuple[str, float, list[int] | None]:
    """The forked token (its string, reported logprob or NaN, bytes): the most likely alternative
    that was not chosen by default; `token` may be an alternative's string, its rank, or any text."""
    lp = _logprobs_of(run)
    points = fork_points(run, position)
    if token is None:
        others = [p for p in points if not p[3]]
        if not others:
            raise InvalidOption(f"position {position} has no returned alternative besides the chosen token: "
                                "ask for alternatives (--top-logprobs 5) or give the token, e.g. r.fork(2, ' dog')")
        token = others[0][1]
    elif isinstance(token, int) and not isinstance(token, bool):
        ranked = {p[0]: p[1] for p in points}
        if token not in ranked:
            raise InvalidOption(f"no alternative of rank {token} at position {position}: "
                                f"the ranks returned there are {sorted(ranked) or 'none'}")
        token = ranked[token]
    if not isinstance(token, str) or token == "":
        raise InvalidOption(f"token={token!r}: give a non-empty string (an alternative or any text) or a rank")
    at = _alt_index(lp, position, token)
    return (token, lp.alt_logprob[at], lp.alt_bytes[at]) if at is not None else (token, math.nan, None)


def _alt_index(lp: TokenLogprobs, position: int, token: str) -> Any:
    """Where `token` is among the alternatives at `position` (None if it is not)."""
    return next((i for i, p in enumerate(lp.alt_position) if p == position and lp.alt_token[i] == token), None)


def _is_whole(token: str, raw: list[int] | None) -> bool:
    try:
        token_text(token, raw)
    except InvalidOption:
        return False
    return True


def token_text(token: str, raw: list[int] | None) -> str:
    """The text a forked token adds; a token that is only part of a character cannot be forked to."""
    data = token_bytes(token, raw)
    if data is None:
        return token
    try:
        return codecs.decode(data, "utf-8")
    except UnicodeDecodeError:
        raise InvalidOption(f"token {token!r} is only part of a character (its bytes are not valid UTF-8): "
                            "fork at the token that completes it, or give the whole character as text") from None


def prefix_before(run: "Run", position: int) -> str:
    """The decoded text of the run's tokens before `position`."""
    lp = _logprobs_of(run)
    texts, _ = decode_tokens(lp.token[:position], lp.bytes[:position])
    return "".join(texts)


def fork(result: Any, position: int, token: str | int | None = None, *, n: int = 1,
         max_tokens: int | None = None, run: int | None = None, **params: Any) -> Any:
    """`Result.fork`: see the Result method's docstring."""
    original = _source_run(result, run)
    return _forks(result, original, position, [token], n=n, max_tokens=max_tokens, params=params)


def branches(result: Any, position: int, k: int = 5, *, run: int | None = None,
             max_tokens: int | None = None, **params: Any) -> "pd.DataFrame":
    """`Result.branches`: one fork per top-k alternative at `position`, one row per branch."""
    import pandas as pd

    original = _source_run(result, run)
    points = fork_points(original, position)[:max(1, int(k))]
    lp = _logprobs_of(original)
    whole = [p for p in points if _is_whole(p[1], lp.alt_bytes[_alt_index(lp, position, p[1])])]
    if not whole:
        raise InvalidOption(f"position {position} has no returned alternatives that are whole characters: "
                            "ask for them (--top-logprobs 5), or fork at another position")
    forked = _forks(result, original, position, [p[1] for p in whole], n=1, max_tokens=max_tokens, params=params)
    if len(whole) < len(points):
        forked.notes.append(f"{len(points) - len(whole)} alternative(s) at position {position} are only part of a "
                            "character (their bytes are not valid UTF-8) and were not forked")
    ranks = {tok: rank for rank, tok, _, _ in points}
    rows = [_branch_row(ranks, branch, position) for branch in forked.runs]
    frame = pd.DataFrame(rows, columns=BRANCH_COLUMNS)
    frame.attrs["notes"] = list(forked.notes)
    frame.attrs["result"] = forked  # the branches as a Result: .tokens(), .diverge(), compare(r, ...)
    return frame


def _forks(result: Any, original: "Run", position: int, tokens: Sequence[str | int | None], *, n: int,
           max_tokens: int | None, params: dict[str, Any]) -> Any:
    executor = _executor_of(result)
    before = prefix_before(original, position)
    picked = [pick_token(original, position, t) for t in tokens]
    texts = [token_text(tok, raw) for tok, _, raw in picked]
    plans = [fork_plan(original, before + text, samples=n, max_tokens=max_tokens, overrides=params,
                       taken=position + 1) for text in texts]
    plan = merge_plans(plans, {i: {"fork_position": position, "fork_token": tok} for i, (tok, _, _) in
                               enumerate(picked)}, FORK_AXES)
    notes = executor(plan)
    for member in plan.runs:
        i = [tok for tok, _, _ in picked].index(member.axes["fork_token"])
        notes += splice(member, original, position, picked[i], before + texts[i])
    forked = type(result)(plan.runs, plan.axes, notes, executor=executor)
    failed = plan.runs[0].error if len(plan.runs) == 1 else None
    if failed is not None:  # as complete(): a single failed run raises, its partial result attached
        failed.result = forked
        raise failed
    return forked


def splice(branch: "Run", original: "Run", position: int, picked: tuple[str, float, list[int] | None],
           prefix: str) -> list[str]:
    """Put the original's tokens before `position` and the forked token in front of the answer (in
    place), after stripping a prefix the server repeated; returns notes (a server ignoring prefill)."""
    if branch.completion is None:
        return []
    answer, lp = branch.completion.text, branch.completion.logprobs
    notes: list[str] = []
    if answer.startswith(prefix) and prefix:
        answer = answer[len(prefix):]
        lp = _drop_echo(lp, prefix)
    elif branch.spec.endpoint == CHAT and _starts_over(answer, prefix_before(original, position)):
        notes.append(f"run {branch.index}: the answer does not continue the prefix (it starts over with "
                     f"{answer[:30]!r}): this server seems to ignore assistant prefill; fork on the completions "
                     "endpoint (--endpoint completions) or with a provider that supports prefill")
    source = _logprobs_of(original)
    head = _head(source, position)
    token, logprob, raw = picked
    head.token.append(token)
    head.logprob.append(logprob)
    head.bytes.append(raw if raw is not None else list(token.encode("utf-8", "surrogatepass")))
    head.offset.append(source.offset[position] if position < len(source) else None)  # where the original's began
    if lp is not None:
        head.extend(lp)
    branch.completion = replace(branch.completion, text=prefix + answer, logprobs=head)
    return notes


def _starts_over(answer: str, before: str) -> bool:
    """True when the answer repeats the original's opening instead of continuing after it."""
    opening, start = before.strip()[:20], answer.lstrip()
    if len(opening) < 4 or len(start) < 4:
        return False
    shared = len(os.path.commonprefix([opening, start]))
    return shared >= 4 and shared >= 0.6 * min(len(opening), len(start))


def _drop_echo(lp: TokenLogprobs | None, prefix: str) -> TokenLogprobs | None:
    """The answer's logprobs without the leading tokens that only spell the repeated prefix."""
    if lp is None or not len(lp):
        return lp
    texts, _ = decode_tokens(lp.token, lp.bytes)
    spelled, count = "", 0
    while count < len(texts) and len(spelled) < len(prefix):
        spelled += texts[count]
        count += 1
    if spelled != prefix:
        return lp  # the server returned logprobs of the generated tokens only
    return _tail(lp, count)


def _head(lp: TokenLogprobs, position: int) -> TokenLogprobs:
    """A copy of the first `position` tokens and their alternatives, plus the alternatives at `position`."""
    keep = [i for i, p in enumerate(lp.alt_position) if p <= position]
    alts = [(lp.alt_position[i], lp.alt_rank[i], lp.alt_token[i], lp.alt_logprob[i], lp.alt_bytes[i]) for i in keep]
    ap, ar, at, al, ab = (list(col) for col in zip(*alts)) if alts else ([], [], [], [], [])
    return TokenLogprobs(lp.token[:position], lp.logprob[:position], lp.bytes[:position], lp.offset[:position],
                         ap, ar, at, al, ab)


def _tail(lp: TokenLogprobs, start: int) -> TokenLogprobs:
    keep = [i for i, p in enumerate(lp.alt_position) if p >= start]
    return TokenLogprobs(lp.token[start:], lp.logprob[start:], lp.bytes[start:], lp.offset[start:],
                         [lp.alt_position[i] - start for i in keep], [lp.alt_rank[i] for i in keep],
                         [lp.alt_token[i] for i in keep], [lp.alt_logprob[i] for i in keep],
                         [lp.alt_bytes[i] for i in keep])


def _branch_row(ranks: dict[str, int], branch: "Run", position: int) -> dict[str, Any]:
    lp = branch.logprobs
    token = branch.axes["fork_token"]
    generated = [x for x in (lp.logprob[position + 1:] if lp is not None else []) if not math.isnan(x)]
    forked = lp.logprob[position] if lp is not None and len(lp) > position else math.nan
    before = len(prefix_text(branch, position))
    return {"rank": ranks.get(token), "token": token, "prob": math.exp(forked) if not math.isnan(forked) else math.nan,
            "continuation": branch.text[before:],
            "mean_logprob": sum(generated) / len(generated) if generated else math.nan,
            "tokens": len(generated), "finish_reason": branch.completion.finish_reason if branch.completion else None,
            "error": str(branch.error) if branch.error is not None else None}


def prefix_text(branch: "Run", position: int) -> str:
    """The branch's text before the forked token (what it shares with the original)."""
    return prefix_before(branch, position) if branch.logprobs is not None else ""


def _source_run(result: Any, index: int | None) -> "Run":
    if not result.runs:
        raise InvalidOption("this result has no runs to fork")
    if index is None:
        return result.runs[0]
    found = [r for r in result.runs if r.index == index]
    if not found:
        raise InvalidOption(f"run={index}: this result has runs {[r.index for r in result.runs]}")
    return found[0]


def _executor_of(result: Any) -> "Executor":
    if result.executor is None:
        raise InvalidOption("this result cannot send requests (it was not made by complete() or %%openrouter); "
                            "fork a result of complete(...) or of the magic")
    return result.executor


def _logprobs_of(run: "Run") -> TokenLogprobs:
    if run.logprobs is None or not len(run.logprobs):
        raise InvalidOption(f"run {run.index} has no logprobs to fork from: run it with --top-logprobs 5 "
                            "(or complete(..., top_logprobs=5))")
    return run.logprobs


def _check_position(lp: TokenLogprobs, position: int, run: "Run") -> None:
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= len(lp):
        raise InvalidOption(f"position={position!r}: run {run.index} has tokens at positions 0 to {len(lp) - 1}")
