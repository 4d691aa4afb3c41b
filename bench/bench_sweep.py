"""Sweep speed and memory, or_magic beside hand-written asyncio, in one run.

(1) 64 runs at 100 ms server latency, 16 in flight, four ways side by side: (a) a sequential
openai SDK loop, (b) AsyncOpenAI + asyncio.gather, (c) raw httpx.AsyncClient + gather (the floor
for an httpx-based client), (d) or_magic's sweep.  Goal: (d) within 1.15× of the ideal
ceil(64/16) × 0.1 s (its ratio to (c) is in the note).
(2) 1,000 runs at 0 ms latency: runs per second, seconds per 1,000 runs and client CPU per run.
Goals, as ratios to (c) in the same run: (d)'s seconds ≤ 1.0× (throughput ≥ httpx+gather) and
CPU per run ≤ 1.0×.
(3) 100,000 runs at 0 ms (`yes=True`, history on): or_magic's peak RSS growth over the RSS before
the sweep (goal < 300 MB), with the time and growth of building its `.df` in the note.

Every subject runs in its own process (bench/_sweep_worker.py) against the same local server
(its own process too, so it does not compete for the client's GIL); the openai SDK lives in the
peers' venv (bench/peers.py).  Timings are taken inside the worker around the sweep only, after
one warm-up sweep, so interpreter start and imports are not counted.

As a harness module: `measure(ctx)` (bench/core.py, `bench/run.py`).  Standalone:
`python -m bench.bench_sweep [--peers-python PATH] [--repeats N]` starts its own servers and
prints a table.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

NAME = "sweep"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKER = str(BENCH_DIR / "_sweep_worker.py")
RUNS, CONCURRENCY, LATENCY = 64, 16, 0.1
BIG_RUNS = 1000
HUGE_RUNS, HUGE_RUNS_QUICK = 100_000, 5_000  # the peak-RSS sweep (--quick: a smaller one, noted)
RSS_GOAL_MB = 300
IDEAL = math.ceil(RUNS / CONCURRENCY) * LATENCY
# label, worker subject, venv
SUBJECTS = [("(a) openai SDK, sequential", "openai-seq", "peers"),
            ("(b) AsyncOpenAI + gather", "openai-async", "peers"),
            ("(c) httpx.AsyncClient + gather", "httpx-async", "main"),
            ("(d) or_magic sweep", "or_magic", "main")]


def run_worker(python: str, subject: str, base_url: str, n: int, repeats: int, env: dict[str, str],
               memory: bool = False, rss: bool = False) -> dict[str, Any]:
    cmd = [python, WORKER, subject, "--base-url", base_url, "--n", str(n), "--concurrency", str(CONCURRENCY),
           "--repeats", str(repeats)] + (["--memory"] if memory else []) + (["--rss"] if rss else [])
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timed out"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode or not lines:
        return {"ok": False, "error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def collect(python_for: Callable[[str], str | None], url_for: Callable[[float], str], env: dict[str, str],
            repeats: int, big_repeats: int, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """{label: {"grid": worker answer at 100 ms, "big": worker answer for 1,000 runs at 0 ms}}.

    The 64-run grid goes in rounds that alternate the subjects (one timed sweep each, after a
    warm-up), so load from other jobs on this shared machine falls on all of them alike.
    """
    from bench.core import rotated

    available = [(label, subject, python_for(venv)) for label, subject, venv in SUBJECTS]
    results: dict[str, dict[str, Any]] = {
        label: {"grid": {"ok": True, "seconds": []} if python else {"ok": False, "error": "venv unavailable"},
                "big": {"ok": False, "error": "venv unavailable"}} for label, _, python in available}
    for round_ in range(repeats):
        for label, subject, python in rotated(available, round_):
            grid = results[label]["grid"]
            if python is None or not grid.get("ok"):
                continue
            log(f"sweep: round {round_ + 1}/{repeats} {label}: {RUNS} runs at {LATENCY * 1000:g} ms")
            answer = run_worker(python, subject, url_for(LATENCY), RUNS, 1, env)
            if answer.get("ok"):
                grid["seconds"] += answer["seconds"]
            else:
                results[label]["grid"] = answer
    for label, subject, python in available:
        if python is not None:
            log(f"sweep: {label}: {BIG_RUNS} runs at 0 ms")
            results[label]["big"] = run_worker(python, subject, url_for(0.0), BIG_RUNS, big_repeats, env,
                                               memory=True)
    return results


def measure(ctx: Any) -> list[Any]:
    """The harness entry point (bench/core.py): rows for the 64-run grid, the 1,000-run sweep and
    the 100,000-run peak RSS."""
    from bench.core import Goal, Row

    env = ctx.env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))  # this or_magic
    results = collect(lambda venv: ctx.main_python if venv == "main" else ctx.peers.python, ctx.base_url,
                      env, ctx.repeats(5, quick=2), ctx.repeats(3, quick=1), ctx.log)
    grid_name = f"sweep {RUNS} runs @{LATENCY * 1000:g} ms, {CONCURRENCY} in flight"
    rows = [Row(grid_name, "ideal ceil(64/16)×0.1 s", "s", samples=[IDEAL])]
    httpx_label = SUBJECTS[2][0]
    httpx_grid = results[httpx_label]["grid"].get("seconds")
    big_rows: list[Any] = []
    for label, answer in results.items():
        is_or_magic = label.startswith("(d)")
        seconds = answer["grid"].get("seconds", [])
        # The second goal, "no slower than (c)", goes in the note: a Row has one baseline.
        note = (f"{_median(seconds) / _median(httpx_grid):.2f}× (c) raw httpx"
                if is_or_magic and seconds and httpx_grid else "")
        rows.append(Row(grid_name, label, "s", samples=seconds,
                        baseline="ideal ceil(64/16)×0.1 s" if is_or_magic else None,
                        goal=Goal(max_ratio=1.15) if is_or_magic else None, note=note,
                        error=None if answer["grid"].get("ok") else answer["grid"].get("error")))
        big = answer["big"]
        error = None if big.get("ok") else big.get("error")
        vs_httpx = {"baseline": httpx_label if is_or_magic else None,
                    "goal": Goal(max_ratio=1.0) if is_or_magic else None}
        big_rows += [
            Row(f"sweep {BIG_RUNS} runs @0 ms", label, "runs/s", samples=[BIG_RUNS / s for s in big.get("seconds", [])],
                error=error),
            # Lower is better here, so "throughput ≥ httpx+gather" is a ratio ≤ 1 of these.
            Row(f"sweep {BIG_RUNS} runs @0 ms, s per {BIG_RUNS}", label, "s", samples=big.get("seconds", []),
                error=error, **vs_httpx),
            Row(f"sweep {BIG_RUNS} runs @0 ms cpu", label, "ms/run", samples=big.get("cpu_ms_per_run", []),
                note=f"peak Python allocations {big['peak_mb']:.1f} MB" if big.get("peak_mb") else "",
                error=error, **vs_httpx)]
    return rows + big_rows + [_rss_row(ctx, env, Row, Goal)]


def _rss_row(ctx: Any, env: dict[str, str], Row: Any, Goal: Any) -> Any:
    """Peak RSS growth of one big or_magic sweep (bench/_sweep_worker.py --rss)."""
    n = HUGE_RUNS_QUICK if ctx.quick else HUGE_RUNS
    ctx.log(f"sweep: or_magic: {n:,} runs at 0 ms, peak RSS")
    answer = run_worker(ctx.main_python, "or_magic", ctx.base_url(0.0), n, 1, env, rss=True)
    name = f"sweep {n:,} runs @0 ms, peak RSS growth"
    if not answer.get("ok"):
        return Row(name, SUBJECTS[3][0], "MB", error=answer.get("error"))
    return Row(name, SUBJECTS[3][0], "MB", samples=[answer["rss_growth_mb"]], goal=Goal(max_value=RSS_GOAL_MB),
               note=f"{n / answer['seconds']:.0f} runs/s; .df of {answer['rows']:,} rows in "
                    f"{answer['df_seconds']:.1f} s, peak then +{answer['df_rss_growth_mb']:.0f} MB over the start")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def report(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{RUNS} runs @ {LATENCY * 1000:g} ms, concurrency {CONCURRENCY} (ideal {IDEAL:.2f} s)",
             f"{'subject':34} {'median s':>9} {'× ideal':>8} {'× (c)':>7} | {BIG_RUNS} runs @0 ms: "
             "runs/s, client CPU ms/run, peak MB"]
    grid = {k: _median(v["grid"]["seconds"]) for k, v in results.items() if v["grid"].get("ok")}
    floor = grid.get(SUBJECTS[2][0])
    for label, answer in results.items():
        big = answer["big"]
        rate = f"{BIG_RUNS / _median(big['seconds']):7.0f}" if big.get("ok") else "    n/a"
        peak = f"{big['peak_mb']:6.1f}" if big.get("peak_mb") else "   n/a"
        cpu = f"{_median(big['cpu_ms_per_run']):6.2f}" if big.get("ok") else "   n/a"
        if label not in grid:
            lines.append(f"{label:34} unavailable: {answer['grid'].get('error')}")
            continue
        vs_c = f"{grid[label] / floor:7.2f}" if floor else "    n/a"
        lines.append(f"{label:34} {grid[label]:9.3f} {grid[label] / IDEAL:8.2f} {vs_c} | {rate} {cpu} {peak}")
    return "\n".join(lines)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.bench_sweep")
    ap.add_argument("--peers-python", default=str(BENCH_DIR / ".venv-peers" / "bin" / "python"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.fakeserver.server import FakeOpenRouter

    servers = {lat: FakeOpenRouter(latency=lat) for lat in (LATENCY, 0.0)}
    # The servers run in this process's threads while the subjects run in their own processes.
    for srv in servers.values():
        srv.start()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENROUTER_API_KEY": "sk-or-v1-bench"}
    peers = args.peers_python if Path(args.peers_python).exists() else None
    try:
        results = collect(lambda venv: sys.executable if venv == "main" else peers,
                          lambda lat: servers[lat].base_url, env, args.repeats, max(1, args.repeats // 2),
                          lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        for srv in servers.values():
            srv.stop()
    print(report(results))


if __name__ == "__main__":
    main()
