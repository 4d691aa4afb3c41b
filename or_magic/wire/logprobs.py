"""Both logprob wire formats, normalised into one columnar shape.

- chat:   ``{"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}``
- legacy: ``{"tokens": [...], "token_logprobs": [...], "top_logprobs": [{token: logprob}], "text_offset": [...]}``

Either may arrive on either endpoint (OpenRouter and llama.cpp answer ``/completions`` in the
chat shape).  The result is kept as parallel lists, not per-token objects, because the tables
are built column-wise: a 4,096-token answer with 20 alternatives each is 81,920 rows.
Anything malformed (null bytes, empty alternatives, missing fields, non-numbers) becomes
None/NaN instead of an exception.
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass, field
from typing import Any

from ..core.coerce import to_float

NAN = float("nan")
# Attribute holding (length, alt_position, alt_rank) as int64 arrays when the parser made them.
ALT_INDEX = "_alt_index_arrays"
ALT_LOGPROB = "_alt_logprob_array"  # alt_logprob as a float array, when the parser made it


@dataclass
class TokenLogprobs:
    """Per-token logprobs of one completion, plus the alternatives in long form."""

    token: list[str] = field(default_factory=list)
    logprob: list[float] = field(default_factory=list)
    bytes: list[list[int] | None] = field(default_factory=list)
    offset: list[int | None] = field(default_factory=list)
    # alternatives: one entry per (position, rank)
    alt_position: list[int] = field(default_factory=list)
    alt_rank: list[int] = field(default_factory=list)
    alt_token: list[str] = field(default_factory=list)
    alt_logprob: list[float] = field(default_factory=list)
    alt_bytes: list[list[int] | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.token)

    def __getattr__(self, name: str) -> Any:
        # Reached only for an attribute that is not set: the fast parser leaves alt_position and
        # alt_rank as int64 arrays (ALT_INDEX) and makes the lists on first use, since the tables
        # read the arrays and 2 x 80,000 ints as Python lists cost a fifth of the parse.
        made = self.__dict__.get(ALT_INDEX)
        if made is not None and name in ("alt_position", "alt_rank"):
            values = made[1 if name == "alt_position" else 2].tolist()
            self.__dict__[name] = values
            return values
        if name == "alt_logprob" and ALT_LOGPROB in self.__dict__:
            values = self.__dict__[ALT_LOGPROB].tolist()
            self.__dict__[name] = values
            return values
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def alternatives_at(self, position: int) -> list[tuple[int, str, float]]:
        """(rank, token, logprob) of the alternatives returned for one position, best first."""
        found = [(rank, token, logprob) for p, rank, token, logprob
                 in zip(self.alt_position, self.alt_rank, self.alt_token, self.alt_logprob) if p == position]
        return sorted(found, key=lambda alt: alt[0])

    def extend(self, other: "TokenLogprobs") -> None:
        """Append another piece (a stream chunk's logprobs) after this one."""
        shift = len(self.token)
        self.token += other.token
        self.logprob += other.logprob
        self.bytes += other.bytes
        self.offset += other.offset
        self.alt_position += [p + shift for p in other.alt_position]
        self.alt_rank += other.alt_rank
        self.alt_token += other.alt_token
        self.alt_logprob += other.alt_logprob
        self.alt_bytes += other.alt_bytes


def parse_logprobs(obj: Any) -> TokenLogprobs | None:
    """Normalise a choice's `logprobs` object; None when the server sent none."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("content"), list):
        return _parse_chat(obj["content"])
    if isinstance(obj.get("tokens"), list):
        return _parse_legacy(obj)
    return None


def _float(value: Any) -> float:
    return to_float(value, NAN)


def _bytes(value: Any) -> list[int] | None:
    return value if isinstance(value, list) else None


def _parse_chat(content: list[Any]) -> TokenLogprobs:
    try:
        return _parse_chat_well_formed(content)
    except (KeyError, TypeError, AttributeError, ValueError):
        return parse_chat_tolerant(content)


_TOPS, _TOKEN, _LOGPROB, _BYTES = map(operator.itemgetter, ("top_logprobs", "token", "logprob", "bytes"))
_chain = itertools.chain.from_iterable


def _parse_chat_well_formed(content: list[Any]) -> TokenLogprobs:
    """The fast path: one C-speed pass per column, for answers that follow the schema.

    Anything off (a missing key, a non-dict entry, a logprob that is not a number) raises, and
    the tolerant per-entry path takes over.  Alternatives' bytes are kept as sent (no table
    uses them) and alternatives' tokens are not type-checked (their consumers call str()), which
    saves two passes over 80,000 values.
    """
    import numpy as np

    # map(itemgetter) over the entries, and over the alternatives chained, is the cheapest way to a
    # column at C speed (measured: 2-3x a comprehension over the 4,096 entries); itemgetter raises
    # KeyError/TypeError where subscription would.
    tops = list(map(_TOPS, content))
    counts = np.fromiter(map(len, tops), dtype=np.int64, count=len(tops))
    position = np.repeat(np.arange(len(tops), dtype=np.int64), counts)
    rank = np.arange(len(position), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    out = TokenLogprobs(
        token=list(map(_TOKEN, content)), logprob=list(map(_LOGPROB, content)),
        bytes=[entry.get("bytes") for entry in content], offset=[None] * len(content),
        alt_token=list(map(_TOKEN, _chain(tops))), alt_bytes=_alt_bytes(tops))
    # The alternatives' logprobs go straight into the float array the tables use (the list is made
    # on first use); fromiter raises on None or non-numeric text, as to_float's path expects.
    alt_logprob = np.fromiter(map(_LOGPROB, _chain(tops)), dtype=float, count=len(position))
    # Cheap whole-column checks at C speed: sum() raises on None or text, join() on non-strings.
    sum(out.logprob)
    "".join(out.token)
    if not set(map(type, out.bytes)) <= {list, type(None)}:
        raise ValueError("bytes are not a list")
    out.__dict__[ALT_INDEX] = (len(position), position, rank)  # spares metrics.py converting the lists back
    out.__dict__[ALT_LOGPROB] = alt_logprob
    del out.alt_position, out.alt_rank, out.alt_logprob  # made from the arrays when first asked for (__getattr__)
    return out


def _alt_bytes(tops: list[list[dict[str, Any]]]) -> list[Any]:
    """Every alternative's bytes (None where absent); subscription is faster than .get()."""
    try:
        return list(map(_BYTES, _chain(tops)))
    except KeyError:
        return [alt.get("bytes") for top in tops for alt in top]


def parse_chat_tolerant(content: list[Any]) -> TokenLogprobs:
    out = TokenLogprobs()
    for position, entry in enumerate(content):
        entry = entry if isinstance(entry, dict) else {}
        out.token.append(str(entry.get("token", "")))
        out.logprob.append(_float(entry.get("logprob")))
        out.bytes.append(_bytes(entry.get("bytes")))
        out.offset.append(None)
        alternatives = entry.get("top_logprobs")
        for rank, alt in enumerate(alternatives if isinstance(alternatives, list) else [], start=1):
            alt = alt if isinstance(alt, dict) else {}
            out.alt_position.append(position)
            out.alt_rank.append(rank)
            out.alt_token.append(str(alt.get("token", "")))
            out.alt_logprob.append(_float(alt.get("logprob")))
            out.alt_bytes.append(_bytes(alt.get("bytes")))
    return out


def _parse_legacy(obj: dict[str, Any]) -> TokenLogprobs:
    tokens = obj["tokens"]
    n = len(tokens)
    logprobs = _padded(obj.get("token_logprobs"), n)
    offsets = _padded(obj.get("text_offset"), n)
    tops = _padded(obj.get("top_logprobs"), n)
    out = TokenLogprobs(
        token=[str(t) for t in tokens],
        logprob=[_float(v) for v in logprobs],
        bytes=[None] * n,
        offset=[v if isinstance(v, int) and not isinstance(v, bool) else None for v in offsets],
    )
    for position, top in enumerate(tops):
        if not isinstance(top, dict):
            continue
        # The legacy format gives a dict in no guaranteed order; rank by logprob.
        ranked = sorted(((str(t), _float(lp)) for t, lp in top.items()), key=_rank_key)
        for rank, (token, logprob) in enumerate(ranked, start=1):
            out.alt_position.append(position)
            out.alt_rank.append(rank)
            out.alt_token.append(token)
            out.alt_logprob.append(logprob)
            out.alt_bytes.append(None)
    return out


def _rank_key(item: tuple[str, float]) -> float:
    logprob = item[1]
    return math.inf if math.isnan(logprob) else -logprob


def _padded(values: Any, n: int) -> list[Any]:
    values = list(values) if isinstance(values, list) else []
    return (values + [None] * n)[:n]
