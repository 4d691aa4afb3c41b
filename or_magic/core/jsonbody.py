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
# A `\uD8xx`-`\uDFxx` escape may be a lone surrogate, which no UTF-8 text (history, display) can hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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
    return valid_strings(data) if _SURROGATE_ESCAPE.search(raw) else data


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
