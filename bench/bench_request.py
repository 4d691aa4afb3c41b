"""Measurement 2: per-request overhead, N sequential non-streaming requests.

Every subject sends the same chat request (same model id, one user message,
max_tokens 16, temperature 0) to the same local server. Each round starts
one fresh worker process per subject (bench/_request_worker.py, in the main
or the peers' venv), which warms up and then times N requests one by one.
Rounds rotate the subject order so slow drift on this shared machine hits
every subject alike. Samples from all rounds are pooled: median in ms.

Baseline is raw httpx; goals are stated as "added ms" over it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.core import BENCH_DIR, BenchContext, Goal, Row, run_json

NAME = "request"
WORKER = str(BENCH_DIR / "_request_worker.py")
BASELINE = "raw httpx"


@dataclass(frozen=True)
class Subject:
    label: str  # what the table shows
    key: str  # the worker's --subject
    venv: str  # "main" or "peers"
    goal: Goal | None = None
    note: str = ""


SUBJECTS = [
    Subject(BASELINE, "httpx", "main", note="persistent httpx.Client, json in/out"),
    Subject("raw httpx (peers venv)", "httpx", "peers",
            note="control: same code in the peers' venv; its gap is cross-venv noise"),
    Subject("raw httpx in a cell", "httpx-cell", "main",
            note="reference: IPython run_cell + Out[] display around raw httpx"),
    Subject("openai SDK", "openai", "peers", note="OpenAI(base_url=...) client reused"),
    Subject("or_magic complete()", "complete", "main", Goal(max_delta=0.3)),
    Subject("%%openrouter", "openrouter-magic", "main", Goal(max_delta=1.0),
            note="run_cell of the cell magic, --no-stream"),
    Subject("jupyter-ai %%ai", "jupyter-ai", "peers",
            note="openai-chat-custom provider via OPENAI_API_BASE, max_history=0"),
]


def _python(ctx: BenchContext, venv: str) -> tuple[str | None, str | None]:
    if venv == "main":
        return ctx.main_python, None
    return ctx.peers.python, (None if ctx.peers.python else f"peers venv: {ctx.peers.error}")


def measure(ctx: BenchContext) -> list[Row]:
    n = 30 if ctx.quick else 200
    rounds = ctx.repeats(default=3, quick=1)
    base_url = ctx.base_url(None)
    env = ctx.env(base_url)
    rows = {s.label: Row(NAME, s.label, "ms", baseline=None if s.label == BASELINE else BASELINE,
                         goal=s.goal, note=s.note) for s in SUBJECTS}
    unverified: dict[str, str] = {}
    for r in range(rounds):
        k = r % len(SUBJECTS)
        for s in SUBJECTS[k:] + SUBJECTS[:k]:
            row = rows[s.label]
            python, why = _python(ctx, s.venv)
            if row.error or python is None:
                row.error = row.error or why
                continue
            ctx.log(f"request: round {r + 1}/{rounds} {s.label} x{n}")
            out = _run_worker(ctx, python, s.key, base_url, n, env)
            if not out.get("ok"):
                row.error, row.samples = out.get("error", "failed"), []
                continue
            row.samples += [t * 1000 for t in out["times_s"]]
            if out.get("unverified"):
                unverified[s.label] = out["unverified"]
    for label, why in unverified.items():  # figures kept, but flagged loudly
        rows[label].note = f"{rows[label].note}; NOT VERIFIED: {why}".lstrip("; ")
    # The run's configuration goes once, on the baseline row.
    rows[BASELINE].note += f"; {n} requests x {rounds} rounds, server latency {ctx.latency * 1000:g} ms"
    return list(rows.values())


def _run_worker(ctx: BenchContext, python: str, key: str, base_url: str, n: int,
                env: dict[str, str]) -> dict:
    cmd = [python, WORKER, "--subject", key, "--base-url", base_url, "--n", str(n),
           "--warmup", "5" if ctx.quick else "20"]
    return run_json(cmd, env, timeout=120 + n * (ctx.latency + 0.5))
