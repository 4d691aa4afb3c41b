"""One sweep subject in its own process: `python bench/_sweep_worker.py SUBJECT --base-url URL ...`.

Runs the same N chat requests (seed = 0..N-1, max_tokens 5) `--repeats` times after one warm-up
sweep and prints one JSON line: {"ok": true, "seconds": [...], "cpu_ms_per_run": [...], "errors": E,
"peak_mb": M} (CPU: this client process's user+sys time per request, all threads).
Subjects: openai-seq (sequential openai SDK loop), openai-async (AsyncOpenAI + gather with a
semaphore), httpx-async (raw httpx.AsyncClient + gather with a semaphore), or_magic (its sweep).
`--memory` traces Python allocations (tracemalloc) for one extra sweep and reports the peak.
`--rss` (or_magic only) instead runs one sweep of N runs after a 16-run warm-up and reports the
peak RSS growth over the RSS before it (/proc/self/status VmHWM − VmRSS, MB), the sweep's seconds
and the seconds and RSS growth of building its `.df`: {"ok": true, "rss_growth_mb": M, ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import tracemalloc

MODEL = "openai/gpt-4o-mini"
PROMPT = "Write one line about the sea."
KEY = os.environ.get("OPENROUTER_API_KEY", "sk-or-v1-bench")


def body(i: int) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "seed": i, "max_tokens": 5}


def openai_seq(base_url: str, n: int, concurrency: int) -> int:
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=KEY)
    errors = 0
    for i in range(n):
        try:
            client.chat.completions.create(**body(i))
        except Exception:
            errors += 1
    return errors


def openai_async(base_url: str, n: int, concurrency: int) -> int:
    from openai import AsyncOpenAI

    async def main() -> int:
        client = AsyncOpenAI(base_url=base_url, api_key=KEY)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await client.chat.completions.create(**body(i))

        results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
        await client.close()
        return sum(isinstance(r, Exception) for r in results)

    return asyncio.run(main())


def httpx_async(base_url: str, n: int, concurrency: int) -> int:
    import httpx

    async def main() -> int:
        limits = httpx.Limits(max_connections=concurrency)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=base_url, limits=limits, headers=headers, timeout=60) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with gate:
                    response = await client.post("/chat/completions", json=body(i))
                    response.raise_for_status()
                    response.json()

            results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
        return sum(isinstance(r, Exception) for r in results)

    return asyncio.run(main())


def or_magic_sweep(base_url: str, n: int, concurrency: int, keep: list | None = None) -> int:
    from or_magic import complete
    from or_magic.core.settings import Settings

    settings = Settings(base_url=base_url)
    result = complete(PROMPT, MODEL, seed=range(n), max_tokens=5, concurrency=concurrency,
                      settings=settings, progress=False, yes=True)
    if keep is not None:
        keep.append(result)
    return len(result.errors)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_growth(base_url: str, n: int, concurrency: int) -> dict:
    """Peak RSS growth of one n-run or_magic sweep, then of building its .df (Linux only)."""
    import gc

    warm: list = []
    or_magic_sweep(base_url, 16, concurrency, keep=warm)  # imports, catalogue, first connections
    warm[0].df  # pandas' import (~100 MB with pyarrow) is not the sweep's growth
    del warm
    gc.collect()
    before = _status_mb("VmRSS")
    if _status_mb("VmHWM") > before:  # the peak so far must not hide the sweep's: reset it
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    kept: list = []
    t0 = time.perf_counter()
    errors = or_magic_sweep(base_url, n, concurrency, keep=kept)
    seconds = time.perf_counter() - t0
    sweep_peak = _status_mb("VmHWM") - before
    t0 = time.perf_counter()
    rows = len(kept[0].df)
    df_seconds = time.perf_counter() - t0
    return {"ok": True, "rss_growth_mb": sweep_peak, "seconds": seconds, "errors": errors, "rows": rows,
            "df_seconds": df_seconds, "df_rss_growth_mb": _status_mb("VmHWM") - before}


SUBJECTS = {"openai-seq": openai_seq, "openai-async": openai_async, "httpx-async": httpx_async,
            "or_magic": or_magic_sweep}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("subject", choices=SUBJECTS)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--rss", action="store_true")
    args = ap.parse_args()
    if args.rss:
        print(json.dumps(rss_growth(args.base_url, args.n, args.concurrency)))
        return
    run = SUBJECTS[args.subject]
    run(args.base_url, args.n, args.concurrency)  # warm-up: imports, connections
    seconds, cpu_ms_per_run, errors = [], [], 0
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        errors += run(args.base_url, args.n, args.concurrency)
        seconds.append(time.perf_counter() - t0)
        cpu_ms_per_run.append((time.process_time() - c0) * 1000 / args.n)
    peak_mb = None
    if args.memory:
        tracemalloc.start()
        run(args.base_url, args.n, args.concurrency)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(json.dumps({"ok": True, "seconds": seconds, "cpu_ms_per_run": cpu_ms_per_run, "errors": errors,
                      "peak_mb": peak_mb}))


if __name__ == "__main__":
    main()
