"""Parsing answer bodies fast: a 6 MB logprob answer takes longer to parse than to tabulate.

Measured (bench/bench_logprobs.py, 4,096 tokens x 20 alternatives, 6.9 MB): `json.loads` spent
more than half its time in the cyclic garbage collector, which walks the ~500,000 new dicts and
lists again and again while they are being made.  Pausing the collector for the parse of a
large body makes `json.loads` ~2.4x faster; orjson, when installed (`pip install or_magic[fast]`),
is ~1.7x faster again.  orjson refuses NaN/Infinity, which Python-based servers emit for -inf
logprobs, so such bodies fall back to `json.loads` (which accepts them).
"""

from __future__ import annotations

import gc
import json
import re
from typing import Any

from .coerce import valid_unicode

try:
    import orjson
except ImportError:  # optional: the [fast] extra
    orjson = None

# Below this size the collector is left alone: the parse is microseconds either way.
PAUSE_GC_ABOVE = 256 * 1024
# A `\uD800`-`\uDFFF` escape that is not half of a pair is a lone surrogate, which no UTF-8 text
# (history, display) can hold.  A high escape followed by a low one is a pair (an emoji, as
# servers that escape non-ASCII send it), which json.loads joins by itself.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")  # a surrogate's own UTF-8 (surrogatepass) bytes
_HEX = frozenset(b"0123456789abcdefABCDEF")


def loads(content: bytes | str) -> Any:
    """Parse a JSON body (raises ValueError/UnicodeDecodeError like json.loads); lone surrogates
    in its strings become U+FFFD."""
    if len(content) < PAUSE_GC_ABOVE:
        data = _parse(content)
    else:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            data = _parse(content)
        finally:
            if was_enabled:
                gc.enable()
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    return valid_strings(data) if _lone_surrogate(raw) else data


def _lone_surrogate(raw: bytes) -> bool:
    """Whether the JSON text holds a surrogate that is not half of a pair.  Walking the parsed body
    for nothing made a 6.9 MB answer with escaped emoji parse 2x slower than json.loads."""
    if _RAW_SURROGATE.search(raw):  # not escaped at all (CESU-8 style): json.loads keeps it as is
        return True
    pair_end = -1
    for match in _SURROGATE_ESCAPE.finditer(raw):  # a fast literal search; the context is read here
        start = match.start()
        before = start
        while before > 0 and raw[before - 1] == 0x5C:  # backslashes before this one
            before -= 1
        if (start - before) % 2:  # an escaped backslash, then the text "u..."
            continue
        if raw[start + 3] in b"89abAB":  # a high half: a low escape must follow at once
            low = raw[start + 6:start + 12]
            if (len(low) == 6 and low[:2] == b"\\u" and low[2] in b"dD" and low[3] in b"cdefCDEF"
                    and low[4] in _HEX and low[5] in _HEX):
                pair_end = start + 12
                continue
            return True
        if start != pair_end - 6:  # a low half that is not the second half of the pair just seen
            return True
    return False


def valid_strings(value: Any) -> Any:
    """`value` with every string in it made valid Unicode (see coerce.valid_unicode)."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_strings(k): valid_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_strings(v) for v in value]
    return value


def _parse(content: bytes | str) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass  # NaN/Infinity, or truly invalid: json.loads decides (and raises the usual error)
    return json.loads(content)
