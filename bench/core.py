"""Shared types for the benchmark harness: what a measurement module receives
(BenchContext) and what it returns (Row), plus small helpers they all need.

A measurement module is any ``bench/bench_<name>.py`` exposing::

    NAME: str                                   # optional, defaults to <name>
    def measure(ctx: BenchContext) -> list[Row]

run.py discovers, runs and reports them; modules never print tables themselves.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# A fake key in OpenRouter's format: the local server accepts any key, and a
# real-looking one keeps clients' key-format checks (if any) on the happy path.
FAKE_KEY = "sk-or-v1-" + "0" * 64


@dataclass
class Goal:
    """A target for a row's median; every limit given must hold.

    max_delta: median - baseline median <= this (row's unit).
    max_ratio: median / baseline median <= this.
    max_value: median <= this (row's unit): an absolute goal, no baseline needed.
    """

    max_delta: float | None = None
    max_ratio: float | None = None
    max_value: float | None = None

    def describe(self, unit: str, baseline: str | None) -> str:
        parts = []
        if self.max_value is not None:
            parts.append(f"<= {self.max_value:g} {unit}")
        relative = []
        if self.max_delta is not None:
            relative.append(f"<= +{self.max_delta:g} {unit}")
        if self.max_ratio is not None:
            relative.append(f"<= {self.max_ratio:g}x")
        if relative:
            parts.append(" and ".join(relative) + f" vs {baseline or '?'}")
        return " and ".join(parts)

    def met(self, median: float, base: float | None) -> bool | None:
        """None when a relative limit has no baseline median to compare with."""
        ok = self.max_value is None or median <= self.max_value
        if self.max_delta is not None or self.max_ratio is not None:
            if base is None:
                return None
            if self.max_delta is not None:
                ok &= (median - base) <= self.max_delta
            if self.max_ratio is not None:
                ok &= base > 0 and (median / base) <= self.max_ratio
        return ok


@dataclass
class Row:
    """One subject's result in one measurement.

    ``samples`` are raw observations in ``unit``; the harness derives the
    median, quartiles, ratio and delta vs ``baseline`` (the ``subject`` of
    another Row of the same measurement) and checks ``goal``. A subject that
    could not run has no samples and says why in ``error``: it is reported as
    unavailable, never silently dropped or faked.
    """

    measurement: str
    subject: str
    unit: str
    samples: list[float] = field(default_factory=list)
    baseline: str | None = None
    goal: Goal | None = None
    note: str = ""
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    def quartiles(self) -> tuple[float, float] | None:
        if len(self.samples) < 2:
            return None
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[0], q[2]


@dataclass
class PeersEnv:
    """The peers' virtualenv: ``python`` is None when it could not be made."""

    python: str | None
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchContext:
    """Everything a measurement module may use; built once per run by run.py.

    ``base_url(latency)`` starts (once per latency) a local fake OpenRouter
    server and returns its ``.../api/v1`` URL; ``latency=None`` means the
    run's ``--latency``. ``repeats(default)`` is ``--repeat`` if given, else the
    module's own default (scaled down in ``--quick`` mode).
    """

    main_python: str
    peers: PeersEnv
    latency: float
    repeat: int | None
    quick: bool
    base_url: Callable[[float | None], str]
    log: Callable[[str], None]
    # Per-run scratch folder for the subjects' state (IPython profile,
    # or_magic's run history): the run starts from the same empty state each
    # time and never writes into the developer's own ~/.ipython or history.
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="or_magic_bench_")))

    def repeats(self, default: int, quick: int = 2) -> int:
        if self.repeat is not None:
            return self.repeat
        return quick if self.quick else default

    def env(self, base_url: str | None = None) -> dict[str, str]:
        """Environment for subject subprocesses: offline guard, fake keys,
        every client pointed at the local server, no user IPython config."""
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy") and not k.startswith("OPENAI")
               and k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join([str(BENCH_DIR / "_offline"), str(REPO)])
        env.update(OPENROUTER_API_KEY=FAKE_KEY, OPENAI_API_KEY=FAKE_KEY,
                   IPYTHONDIR=str(self.scratch / "ipython"),
                   # or_magic records every run in a sqlite history by default;
                   # that cost is kept, only the file moves to the scratch folder.
                   OR_MAGIC_HOME=str(self.scratch / "or_magic_home"),
                   HF_HUB_OFFLINE="1", LANGCHAIN_TRACING_V2="false")
        if base_url:
            # or_magic reads OPENROUTER_BASE_URL; langchain-openai (%%ai) reads
            # OPENAI_API_BASE; the openai SDK reads OPENAI_BASE_URL.
            env.update(OPENROUTER_BASE_URL=base_url, OPENAI_API_BASE=base_url,
                       OPENAI_BASE_URL=base_url)
        return env


def run_json(cmd: Sequence[str], env: dict[str, str], timeout: float = 600) -> dict:
    """Run a subprocess that prints one JSON object as its last stdout line.

    Returns the object, or ``{"ok": False, "error": ...}`` when the process
    fails, so one broken subject cannot abort the whole run.
    """
    try:
        p = subprocess.run(list(cmd), env=env, capture_output=True, text=True,
                           timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"ok": False, "error": f"exit {p.returncode}: {tail[:300]}"}
    return json.loads(lines[-1])


def timed_process(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """Wall-clock and CPU (user+sys) seconds of a whole process, and its JSON.

    CPU time is reported beside wall time because this machine's 2 cores are
    shared: time spent descheduled inflates wall time but not CPU time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = run_json(cmd, env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def log(msg: str) -> None:
    """Progress goes to stderr so stdout stays the table."""
    print(msg, file=sys.stderr, flush=True)


Item = TypeVar("Item")


def rotated(subjects: Sequence[Item], round_: int) -> list[Item]:
    """The subjects in the order for round `round_`: each round starts one later, so over the
    rounds every subject runs after every other equally often and slow drift on this shared
    machine (or a cache another subject emptied) hits them all alike."""
    k = round_ % len(subjects) if subjects else 0
    return [*subjects[k:], *subjects[:k]]
