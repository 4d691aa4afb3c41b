"""Measurement: streaming a 2,000-token answer — first text after first byte, and cost per chunk.

One local server (bench/_sse_server.py) sends every subject the same stream, byte for byte the
fake OpenRouter server's 2,000-token chat stream: a pause, the first token's chunk, a pause, then
the other 2,001 chunks in one burst.  It notes when it wrote the first chunk and the burst
(CLOCK_MONOTONIC, shared by all processes on the machine).  Each subject runs in a fresh worker
process (bench/_stream_worker.py) and shows the text as its users would see it.

- "stream first text": ms from the server writing the first chunk to the subject writing its
  first text.  Goal (absolute): under 5 ms for or_magic.
- "stream per chunk": µs of client time per chunk while it drains the burst (from the server
  writing the burst to the call returning, over 2,001 chunks: HTTP, SSE, JSON, assembly,
  display).  Goal: no higher than the openai SDK's streaming iterator.

Rounds rotate the subject order so drift on this shared machine hits every subject alike.

    python bench/run.py --only stream          # with the harness
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from bench.core import BENCH_DIR, REPO, BenchContext, Goal, Row, rotated, run_json

NAME = "stream"
WORKER = str(BENCH_DIR / "_stream_worker.py")
SERVER = str(BENCH_DIR / "_sse_server.py")
FIRST, PER_CHUNK = "stream first text", "stream per chunk"
BASELINE = "openai SDK stream"
FIRST_TEXT_GOAL_MS = 5.0


@dataclass(frozen=True)
class Subject:
    label: str
    key: str  # the worker's --subject
    venv: str  # "main" or "peers"
    ours: bool = False
    note: str = ""


SUBJECTS = [
    Subject(BASELINE, "openai", "peers", note="for chunk in client.chat.completions.create(stream=True): write"),
    Subject("raw httpx stream", "httpx", "main", note="floor: iter_lines + json.loads + write"),
    Subject("or_magic complete(on_text)", "complete", "main", ours=True),
    Subject("%%openrouter live", "openrouter-magic", "main", ours=True,
            note="run_cell of the magic; terminal live display, coalesced"),
]


def _python(ctx: BenchContext, venv: str) -> tuple[str | None, str | None]:
    if venv == "main":
        return ctx.main_python, None
    return ctx.peers.python, (None if ctx.peers.python else f"peers venv: {ctx.peers.error}")


def _rows() -> dict[tuple[str, str], Row]:
    rows = {}
    for s in SUBJECTS:
        first_note = f"goal: < {FIRST_TEXT_GOAL_MS:g} ms after the first byte" if s.ours else s.note
        rows[FIRST, s.label] = Row(FIRST, s.label, "ms", baseline=None if s.label == BASELINE else BASELINE,
                                   note=first_note)
        rows[PER_CHUNK, s.label] = Row(PER_CHUNK, s.label, "us", baseline=None if s.label == BASELINE else BASELINE,
                                       goal=Goal(max_ratio=1.0) if s.ours else None, note=s.note)
    return rows


def start_server(python: str, tokens: int = 2000) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([python, SERVER, "--tokens", str(tokens)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("URL="):
        proc.terminate()
        raise RuntimeError(f"bench/_sse_server.py did not start: {line!r}")
    return proc, line.split("=", 1)[1].strip()


def measure(ctx: BenchContext) -> list[Row]:
    n = 5 if ctx.quick else 20
    rounds = ctx.repeats(default=3, quick=1)
    rows = _rows()
    proc, base_url = start_server(ctx.main_python)
    try:
        for r in range(rounds):
            for s in rotated(SUBJECTS, r):
                ctx.log(f"stream: round {r + 1}/{rounds} {s.label} x{n}")
                _run(ctx, s, base_url, n, rows)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rows[FIRST, BASELINE].note += f"; 2,000-token stream, {n} streams x {rounds} rounds"
    return list(rows.values())


def _run(ctx: BenchContext, s: Subject, base_url: str, n: int, rows: dict[tuple[str, str], Row]) -> None:
    first, per_chunk = rows[FIRST, s.label], rows[PER_CHUNK, s.label]
    python, why = _python(ctx, s.venv)
    if first.error or python is None:
        first.error = per_chunk.error = first.error or why
        return
    cmd = [python, WORKER, "--subject", s.key, "--base-url", base_url, "--n", str(n)]
    out = run_json(cmd, ctx.env(base_url), timeout=300)
    if not out.get("ok"):
        first.error = per_chunk.error = out.get("error", "failed")
        first.samples, per_chunk.samples = [], []
        return
    first.samples += out["first_ms"]
    per_chunk.samples += out["per_chunk_us"]


if __name__ == "__main__":
    sys.exit("run it through the harness: python bench/run.py --only stream")
