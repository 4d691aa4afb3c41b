"""Measurement 2: per-request overhead, N sequential non-streaming requests.

Every subject sends the same chat request (same model id, one user message,
max_tokens 16, temperature 0) to the same local server. Each round starts
one fresh worker process per subject (bench/_request_worker.py, in the main
or the peers' venv), which warms up and then times N requests one by one.
Rounds rotate the subject order so slow drift on this shared machine hits
every subject alike. Samples from all rounds are pooled: median in ms.

Baseline is raw httpx, except for the magic, whose baseline is raw httpx run
in an IPython cell (what IPython itself costs per cell is not the magic's).
Goals are ratios within one run (issue 20: these machines differ by 2x from
day to day, so an absolute or "added ms" goal says more about the machine
than about the code): `complete()` <= 1.2x raw httpx, `%%openrouter` <= 1.2x
raw httpx in a cell. Each request's client-process CPU time is reported too
("request cpu", same goals): wall time on this shared 2-core machine swings
with other jobs, the client's own CPU much less.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.core import BENCH_DIR, BenchContext, Goal, Row, rotated, run_json

NAME = "request"
NAME_CPU = "request cpu"
WORKER = str(BENCH_DIR / "_request_worker.py")
BASELINE = "raw httpx"


@dataclass(frozen=True)
class Subject:
    label: str  # what the table shows
    key: str  # the worker's --subject
    venv: str  # "main" or "peers"
    goal: Goal | None = None
    note: str = ""
    baseline: str = BASELINE  # the row the ratio and the goal are taken against


SUBJECTS = [
    Subject(BASELINE, "httpx", "main", note="persistent httpx.Client, json in/out"),
    Subject("raw httpx (peers venv)", "httpx", "peers",
            note="control: same code in the peers' venv; its gap is cross-venv noise"),
    Subject("raw httpx in a cell", "httpx-cell", "main",
            note="reference: IPython run_cell + Out[] display around raw httpx"),
    Subject("openai SDK", "openai", "peers", note="OpenAI(base_url=...) client reused"),
    Subject("or_magic complete()", "complete", "main", Goal(max_ratio=1.2)),
    Subject("%%openrouter", "openrouter-magic", "main", Goal(max_ratio=1.2),
            note="run_cell of the cell magic, --no-stream; vs raw httpx in a cell",
            baseline="raw httpx in a cell"),
    Subject("jupyter-ai %%ai", "jupyter-ai", "peers",
            note="openai-chat-custom provider via OPENAI_API_BASE, max_history=0"),
]


def _python(ctx: BenchContext, venv: str) -> tuple[str | None, str | None]:
    if venv == "main":
        return ctx.main_python, None
    return ctx.peers.python, (None if ctx.peers.python else f"peers venv: {ctx.peers.error}")


def measure(ctx: BenchContext) -> list[Row]:
    n = 30 if ctx.quick else 200
    rounds = ctx.repeats(default=5, quick=1)
    base_url = ctx.base_url(None)
    env = ctx.env(base_url)
    wall = _rows(NAME)
    cpu = _rows(NAME_CPU)
    for r in range(rounds):
        for s in rotated(SUBJECTS, r):
            python, why = _python(ctx, s.venv)
            if python is None or wall[s.label].error:
                wall[s.label].error = cpu[s.label].error = wall[s.label].error or why
                continue
            ctx.log(f"request: round {r + 1}/{rounds} {s.label} x{n}")
            out = _run_worker(ctx, python, s.key, base_url, n, env)
            if not out.get("ok"):
                wall[s.label].error = cpu[s.label].error = out.get("error", "failed")
                wall[s.label].samples, cpu[s.label].samples = [], []
                continue
            wall[s.label].samples += [t * 1000 for t in out["times_s"]]
            cpu[s.label].samples += [t * 1000 for t in out["cpu_s"]]
            if out.get("unverified"):  # figures kept, but flagged loudly
                wall[s.label].note += f"; NOT VERIFIED: {out['unverified']}"
    # The run's configuration goes once, on the baseline row.
    wall[BASELINE].note += f"; {n} requests x {rounds} rounds, server latency {ctx.latency * 1000:g} ms"
    cpu[BASELINE].note = ("client process CPU per request (user+sys, all threads): "
                          "excludes waiting for the server and time taken by other jobs")
    for row in wall.values():
        row.note = row.note.lstrip("; ")
    return list(wall.values()) + list(cpu.values())


def _rows(measurement: str) -> dict[str, Row]:
    return {s.label: Row(measurement, s.label, "ms", goal=s.goal,
                         baseline=None if s.label == BASELINE else s.baseline,
                         note=s.note if measurement == NAME else "")
            for s in SUBJECTS}


def _run_worker(ctx: BenchContext, python: str, key: str, base_url: str, n: int,
                env: dict[str, str]) -> dict:
    cmd = [python, WORKER, "--subject", key, "--base-url", base_url, "--n", str(n),
           "--warmup", "5" if ctx.quick else "20"]
    return run_json(cmd, env, timeout=120 + n * (ctx.latency + 0.5))
