"""Measurement 1: loading. A fresh `python -c` process creates an IPython
shell and runs `%load_ext <ext>` (or nothing, for the bare shell); the figure
is the whole process's wall-clock time, spawn to exit, as a user waiting for
a kernel would feel it.

Each extension is compared with the bare shell of its own venv (the peers'
venv has its own IPython), so the delta is what the extension adds. Rounds
alternate subjects to spread the noise of this shared machine; one warm-up
round is thrown away (cold page cache, first .pyc compile). The same
processes' user+sys CPU time is reported too ("load cpu"): on this shared
machine it moves much less than wall time when other jobs run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.core import BenchContext, Goal, Row, rotated, timed_process

NAME = "load"
NAME_CPU = "load cpu"

# The child prints how long %load_ext itself took, which goes into the note:
# the process wall time is the headline, this shows where it went.
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
cfg = Config(); cfg.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=cfg)
t1 = time.perf_counter()
ext = sys.argv[1]
if ext:
    shell.run_line_magic("load_ext", ext)
    assert ext in shell.extension_manager.loaded, f"{ext} did not load"
print(json.dumps({"ok": True, "shell_s": t1 - t0, "load_ext_s": time.perf_counter() - t1}))
"""


@dataclass(frozen=True)
class Subject:
    label: str
    ext: str  # "" = bare shell
    venv: str  # "main" or "peers"
    baseline: str | None = None
    goal: Goal | None = None


SUBJECTS = [
    Subject("bare shell", "", "main"),
    Subject("%load_ext or_magic", "or_magic", "main", "bare shell", Goal(max_delta=0.15)),
    Subject("bare shell (peers venv)", "", "peers"),
    Subject("%load_ext jupyter_ai_magics", "jupyter_ai_magics", "peers",
            "bare shell (peers venv)"),
]
SUBJECTS_BY_LABEL = {s.label: s for s in SUBJECTS}


def measure(ctx: BenchContext) -> list[Row]:
    repeats = ctx.repeats(default=7, quick=2)
    env = ctx.env()
    wall = {s.label: Row(NAME, s.label, "s", baseline=s.baseline, goal=s.goal) for s in SUBJECTS}
    cpu = {s.label: Row(NAME_CPU, s.label, "s", baseline=s.baseline, goal=s.goal)
           for s in SUBJECTS}
    inner: dict[str, list[float]] = {s.label: [] for s in SUBJECTS}
    for r in range(repeats + 1):  # round 0 is the warm-up
        for s in rotated(SUBJECTS, r):
            python = ctx.main_python if s.venv == "main" else ctx.peers.python
            if python is None:
                wall[s.label].error = cpu[s.label].error = f"peers venv: {ctx.peers.error}"
            if wall[s.label].error:
                continue
            ctx.log(f"load: round {r}/{repeats} {s.label}")
            secs, cpu_secs, out = timed_process([python, "-c", CHILD, s.ext], env)
            if not out.get("ok"):
                wall[s.label].error = cpu[s.label].error = out.get("error", "failed")
                wall[s.label].samples, cpu[s.label].samples = [], []
            elif r > 0:
                wall[s.label].samples.append(secs)
                cpu[s.label].samples.append(cpu_secs)
                inner[s.label].append(out["load_ext_s"] if s.ext else out["shell_s"])
    _notes(wall, cpu, inner, repeats)
    return list(wall.values()) + list(cpu.values())


def _notes(wall: dict[str, Row], cpu: dict[str, Row], inner: dict[str, list[float]],
           repeats: int) -> None:
    for label, times in inner.items():
        if times:
            what = "%load_ext alone" if SUBJECTS_BY_LABEL[label].ext else "shell creation alone"
            wall[label].note = f"{what}: {statistics.median(times):.3f} s (in-process)"
    wall["bare shell"].note += f"; {repeats} fresh processes per subject, alternating"
    cpu["bare shell"].note = ("user+sys CPU of the same processes: "
                              "less sensitive than wall time to other jobs on the machine")
