"""Both logprob wire formats, normalised into one columnar shape.

- chat:   ``{"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}``
- legacy: ``{"tokens": [...], "token_logprobs": [...], "top_logprobs": [{token: logprob}], "text_offset": [...]}``

Either may arrive on either endpoint (OpenRouter and llama.cpp answer ``/completions`` in the
chat shape).  The result is kept as parallel lists, not per-token objects, because the tables
are built column-wise: a 4,096-token answer with 20 alternatives each is 81,920 rows.  The fast
parser keeps the alternatives as numpy arrays instead (AltArrays), which is what the tables
read; the alt_* lists are made from them on first use.
Anything malformed (null bytes, empty alternatives, missing fields, non-numbers) becomes
None/NaN instead of an exception.
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from ..core.coerce import to_float

if TYPE_CHECKING:
    import numpy as np

NAN = float("nan")
# Attribute holding the fast parser's arrays of the alternatives (an AltArrays), when it made them.
ALT_ARRAYS = "_alt_arrays"
# TokenLogprobs list field -> the AltArrays array it is made from on first use
_ALT_FIELDS = {"alt_position": "position", "alt_rank": "rank", "alt_token": "token", "alt_logprob": "logprob",
               "alt_bytes": "bytes"}


def object_array(values: Sequence[Any]) -> "np.ndarray":
    """A 1-d object array of `values` as they are (np.asarray would make a list of lists 2-d)."""
    import numpy as np

    return np.fromiter(values, dtype=object, count=len(values))


class AltArrays(NamedTuple):
    """The alternatives as numpy arrays: position and rank int64, token and bytes object, logprob float."""

    position: Any
    rank: Any
    token: Any
    logprob: Any
    bytes: Any


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
        # Reached only for an attribute that is not set: the fast parser leaves the alt_* fields as
        # arrays (set_alternatives) and makes each list on first use, since the tables read the
        # arrays and 5 x 80,000 values as Python lists would double the cost of the parse.
        made = self.__dict__.get(ALT_ARRAYS)
        if made is not None and name in _ALT_FIELDS:
            values = getattr(made, _ALT_FIELDS[name]).tolist()
            self.__dict__[name] = values
            return values
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def set_alternatives(self, arrays: AltArrays) -> None:
        """Hold the alternatives as `arrays` instead of lists (which are made on first use)."""
        self.__dict__[ALT_ARRAYS] = arrays
        for name in _ALT_FIELDS:
            self.__dict__.pop(name, None)

    def alt_array(self, name: str) -> "np.ndarray":
        """One alternatives' column (`alt_position`, ...) as an array: the parser's own while its list
        is not made (never written to: the tables copy), else converted from the list, which may
        have been edited or extended since."""
        import numpy as np

        made = self.__dict__.get(ALT_ARRAYS)
        if made is not None and name not in self.__dict__:
            return getattr(made, _ALT_FIELDS[name])
        values = getattr(self, name)
        if name in ("alt_token", "alt_bytes"):
            return object_array(values)
        return np.asarray(values, dtype=float if name == "alt_logprob" else np.int64)

    def alt_count(self) -> int:
        """How many alternatives there are, without making the lists."""
        made = self.__dict__.get(ALT_ARRAYS)
        return len(made.token) if made is not None and "alt_token" not in self.__dict__ else len(self.alt_token)

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


_TOPS, _TOKEN, _LOGPROB = map(operator.itemgetter, ("top_logprobs", "token", "logprob"))
_ALTERNATIVE = operator.itemgetter("token", "logprob", "bytes")
_chain = itertools.chain.from_iterable


def _parse_chat_well_formed(content: list[Any]) -> TokenLogprobs:
    """The fast path: C-speed passes over the entries and one over the alternatives, for answers
    that follow the schema.

    Anything off (a missing key, a non-dict entry, a logprob that is not a number) raises, and
    the tolerant per-entry path takes over.  Alternatives' bytes are kept as sent (no table
    uses them) and alternatives' tokens are not type-checked (their consumers call str()), which
    saves two passes over 80,000 values.
    """
    import numpy as np

    # map(itemgetter) over the entries is the cheapest way to a column at C speed (measured: 2-3x a
    # comprehension over the 4,096 entries); itemgetter raises KeyError/TypeError where subscription would.
    tops = list(map(_TOPS, content))
    counts = np.fromiter(map(len, tops), dtype=np.int64, count=len(tops))
    position = np.repeat(np.arange(len(tops), dtype=np.int64), counts)
    rank = np.arange(len(position), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    out = TokenLogprobs(
        token=list(map(_TOKEN, content)), logprob=list(map(_LOGPROB, content)),
        bytes=_optional(content, "bytes"), offset=[None] * len(content))
    # Cheap whole-column checks at C speed: sum() raises on None or text, join() on non-strings.
    sum(out.logprob)
    "".join(out.token)
    if not set(map(type, out.bytes)) <= {list, type(None)}:
        raise ValueError("bytes are not a list")
    alternatives = _alternatives(tops, len(position))
    out.set_alternatives(AltArrays(position=position, rank=rank, token=alternatives["token"],
                                   logprob=alternatives["logprob"], bytes=alternatives["bytes"]))
    return out


def _optional(entries: list[dict[str, Any]], key: str) -> list[Any]:
    """One optional field of every entry, None where absent: subscription at C speed, and .get()
    only when some entry lacks it."""
    try:
        return list(map(operator.itemgetter(key), entries))
    except KeyError:
        return [entry.get(key) for entry in entries]


def _alternatives(tops: list[list[dict[str, Any]]], count: int) -> "np.ndarray":
    """token, logprob and bytes of every alternative, as one record array (the columns are views of it).

    One pass reads all three from each of the 80,000 dicts: they lie scattered in memory, so every
    further pass pays the cache misses again (measured: 15 ms for this pass, 24 for one per column).
    The logprob is stored as a float at once (numpy converts numeric text and None as
    float(x) and NaN would, and raises on other values), so no float object outlives the body.
    """
    import numpy as np

    dtype = np.dtype([("token", object), ("logprob", float), ("bytes", object)])
    try:
        return np.fromiter(map(_ALTERNATIVE, _chain(tops)), dtype=dtype, count=count)
    except KeyError:  # an alternative without bytes (or without token or logprob: raised again below)
        out = np.empty(count, dtype=dtype)
        out["token"] = object_array(list(map(_TOKEN, _chain(tops))))
        out["logprob"] = np.fromiter(map(_LOGPROB, _chain(tops)), dtype=float, count=count)
        out["bytes"] = object_array(_optional(list(_chain(tops)), "bytes"))
        return out


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
