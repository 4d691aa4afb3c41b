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
from typing import Any

try:
    import orjson
except ImportError:  # optional: the [fast] extra
    orjson = None

# Below this size the collector is left alone: the parse is microseconds either way.
PAUSE_GC_ABOVE = 256 * 1024


def loads(content: bytes | str) -> Any:
    """Parse a JSON body (raises ValueError/UnicodeDecodeError like json.loads)."""
    if len(content) < PAUSE_GC_ABOVE:
        return _parse(content)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(content)
    finally:
        if was_enabled:
            gc.enable()


def _parse(content: bytes | str) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass  # NaN/Infinity, or truly invalid: json.loads decides (and raises the usual error)
    return json.loads(content)
