"""Measurement: building the logprob tables of a 4,096-token answer with 20 alternatives each.

Subjects, timed side by side in one process on the same parsed body (81,920 alternative rows):
- `or_magic`: `Completion.from_response` + `Result` + `.df`, `.logprobs`, `.top_logprobs` (all
  derived columns and per-run metrics included), fresh objects every repeat;
- `loop-and-append`: the obvious code, one dict per token and per alternative, then DataFrames;
- `pd.json_normalize`: pandas' own flattening of the same records.
And the parse of the ~6 MB body: `json.loads` vs `orjson.loads` (when installed), which is
what decides whether the client should parse with orjson.

Runs under bench/run.py (`measure(ctx)`) or alone: `python bench/bench_logprobs.py [repeats]`.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NAME = "logprobs"
TOKENS, TOP = 4096, 20
WORDS = [" the", " of", " and", " model", " token", " prob", "ability", " café", " 東京", ",", ".", "\n",
         " <b>", " zero", " one", " sampling", " temperature", " 🙂", " über", " naïve"]


def make_body(tokens: int = TOKENS, top: int = TOP, seed: int = 0) -> bytes:
    """A chat completion body with `tokens` tokens, each with `top` alternatives (bytes included)."""
    rng = random.Random(seed)
    content = []
    for _ in range(tokens):
        alts = sorted(((rng.choice(WORDS), round(-rng.expovariate(0.3), 6)) for _ in range(top)),
                      key=lambda a: -a[1])
        chosen = alts[rng.randrange(min(3, top))]
        entry = lambda t, lp: {"token": t, "logprob": lp, "bytes": list(t.encode())}  # noqa: E731
        content.append({**entry(*chosen), "top_logprobs": [entry(*a) for a in alts]})
    text = "".join(c["token"] for c in content)
    raw = {"id": "gen-bench", "model": "openai/gpt-4o", "object": "chat.completion", "created": 1,
           "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": text},
                        "logprobs": {"content": content, "refusal": None}}],
           "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": tokens + 10, "cost": 0.01}}
    return json.dumps(raw).encode()


def or_magic_tables(raw: dict[str, Any]) -> Any:
    from or_magic.analysis.result import Result
    from or_magic.run.request import Run, RunSpec
    from or_magic.wire.response import Completion

    spec = RunSpec(model="openai/gpt-4o", prompt="x", params={"top_logprobs": TOP})
    result = Result([Run(spec=spec, raw=raw, completion=Completion.from_response(raw))])
    return result.df, result.logprobs, result.top_logprobs


def loop_and_append(raw: dict[str, Any]) -> Any:
    import math

    import pandas as pd

    tokens, alts = [], []
    for position, entry in enumerate(raw["choices"][0]["logprobs"]["content"]):
        tokens.append({"position": position, "token": entry["token"], "logprob": entry["logprob"],
                       "prob": math.exp(entry["logprob"]), "bytes": entry["bytes"]})
        for rank, alt in enumerate(entry["top_logprobs"], start=1):
            alts.append({"position": position, "rank": rank, "token": alt["token"], "logprob": alt["logprob"],
                         "prob": math.exp(alt["logprob"]), "chosen": alt["token"] == entry["token"]})
    return pd.DataFrame(tokens), pd.DataFrame(alts)


def json_normalize(raw: dict[str, Any]) -> Any:
    import pandas as pd

    content = raw["choices"][0]["logprobs"]["content"]
    tokens = pd.json_normalize(content).drop(columns=["top_logprobs"])
    alts = pd.json_normalize(content, record_path="top_logprobs", meta=["token"], record_prefix="alt_")
    return tokens, alts


def _times(fn: Callable[[], Any], repeats: int) -> list[float]:
    """CPU ms per call.  CPU time, not wall time: the code is single-threaded, so on an idle
    machine they agree, and on this shared 2-core box wall time mostly measures the neighbours."""
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        out.append((time.process_time() - t0) * 1000)
    return out


def _gc_paused(parse: Callable[[bytes], Any], body: bytes) -> Any:
    import gc

    gc.disable()
    try:
        return parse(body)
    finally:
        gc.enable()


def measure_ms(repeats: int = 15) -> dict[str, list[float]]:
    """Samples in ms per subject, interleaved round by round so machine drift hits all alike."""
    from bench.core import rotated

    body = make_body()
    raw = json.loads(body)
    subjects: dict[str, Callable[[], Any]] = {
        "or_magic tables": lambda: or_magic_tables(raw), "loop-and-append": lambda: loop_and_append(raw),
        "pd.json_normalize": lambda: json_normalize(raw), "json.loads (6 MB body)": lambda: json.loads(body)}
    subjects["json.loads, GC paused"] = lambda: _gc_paused(json.loads, body)
    try:
        import orjson

        subjects["orjson.loads (6 MB body)"] = lambda: orjson.loads(body)
        subjects["orjson.loads, GC paused"] = lambda: _gc_paused(orjson.loads, body)
    except ImportError:
        pass
    from or_magic.core import jsonbody

    subjects["or_magic jsonbody.loads"] = lambda: jsonbody.loads(body)
    for fn in subjects.values():
        fn()  # warm-up: imports, caches
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    # The order rotates each round: with a fixed order, or_magic always ran right after the 6.9 MB
    # parses (which push the answer's dicts out of the CPU caches) and loop-and-append always right
    # after or_magic had walked them, a bias of ~20% in the ratio.
    for r in range(repeats):
        for name in rotated(list(subjects), r):
            samples[name] += _times(subjects[name], 1)
    samples["_body_mb"] = [len(body) / 1e6]
    return samples


def measure(ctx: Any) -> list[Any]:
    from bench.core import Goal, Row

    samples = measure_ms(ctx.repeats(default=15, quick=3))
    size = samples.pop("_body_mb")[0]
    rows = [Row(NAME, "loop-and-append", "CPU ms", samples["loop-and-append"], note="dict per row, then DataFrame")]
    rows.append(Row(NAME, "or_magic tables", "CPU ms", samples["or_magic tables"], baseline="loop-and-append",
                    goal=Goal(max_ratio=0.25), note=f"{TOKENS} tokens x {TOP} alternatives"))
    rows.append(Row(NAME, "pd.json_normalize", "CPU ms", samples["pd.json_normalize"], baseline="loop-and-append"))
    parse_base = "json.loads (6 MB body)"
    for name in [n for n in samples if "loads" in n]:
        rows.append(Row(NAME, name, "CPU ms", samples[name], baseline=None if name == parse_base else parse_base,
                        note=f"{size:.1f} MB body" if name == parse_base else ""))
    return rows


def main(repeats: int) -> None:
    samples = measure_ms(repeats)
    size = samples.pop("_body_mb")[0]
    medians = {name: statistics.median(v) for name, v in samples.items()}
    ours = medians["or_magic tables"]
    print(f"{TOKENS} tokens x {TOP} alternatives, body {size:.1f} MB, {repeats} repeats (median CPU ms, [quartiles])")
    for name, median in medians.items():
        q = statistics.quantiles(samples[name], n=4) if len(samples[name]) > 1 else [median, median, median]
        print(f"  {name:28s} {median:8.1f}   [{q[0]:.1f}-{q[2]:.1f}]   x{median / ours:5.2f} of or_magic")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
