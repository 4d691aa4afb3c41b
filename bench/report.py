"""Turns Rows into the printed table, bench/results/latest.json and latest.md.

Ratios and deltas are computed here, from each row's baseline row in the
same measurement, so every module reports them the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.core import Row

COLUMNS = ["measurement", "subject", "median", "p25-p75", "ratio", "delta", "goal", "met"]


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_start": _loadavg()}


def _loadavg() -> str:
    # Other jobs share this machine: the load average says how noisy a run was.
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def summarize(rows: list[Row]) -> list[dict[str, Any]]:
    """One dict per row with median, quartiles, ratio, delta and goal status."""
    medians = {(r.measurement, r.subject): r.median for r in rows}
    out = []
    for r in rows:
        base = medians.get((r.measurement, r.baseline)) if r.baseline else None
        med, q = r.median, r.quartiles()
        d: dict[str, Any] = {
            "measurement": r.measurement, "subject": r.subject, "unit": r.unit,
            "median": med, "p25": q[0] if q else None, "p75": q[1] if q else None,
            "n": len(r.samples), "baseline": r.baseline, "baseline_median": base,
            "ratio": med / base if med is not None and base else None,
            "delta": med - base if med is not None and base is not None else None,
            "goal": r.goal.describe(r.unit, r.baseline) if r.goal else None,
            "met": None, "note": r.note, "error": r.error}
        if r.goal and med is not None:
            d["met"] = r.goal.met(med, base)
        out.append(d)
    return out


def _num(x: float | None, unit: str = "", sign: bool = False) -> str:
    if x is None:
        return ""
    s = f"{x:+.3g}" if sign else f"{x:.3g}"
    return f"{s} {unit}".strip()


def _cells(d: dict[str, Any]) -> list[str]:
    unit = d["unit"]
    met = {True: "yes", False: "NO", None: ""}[d["met"]]
    if d["error"]:
        met = "n/a" if d["goal"] else ""
    spread = f"{d['p25']:.3g}-{d['p75']:.3g}" if d["p25"] is not None else ""
    return [d["measurement"], d["subject"],
            "unavailable" if d["median"] is None else _num(d["median"], unit), spread,
            f"{d['ratio']:.2f}x" if d["ratio"] is not None else ("baseline" if not d["baseline"] else ""),
            _num(d["delta"], unit, sign=True), d["goal"] or "", met]


def text_table(summary: list[dict[str, Any]]) -> str:
    body = [COLUMNS] + [_cells(d) for d in summary]
    widths = [max(len(r[i]) for r in body) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {d['measurement']} / {d['subject']}: {d['error'] or d['note']}"
             for d in summary if d["error"] or d["note"]]
    return "\n".join(lines + (["", "notes:"] + notes if notes else []))


def markdown(summary: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    head = [f"# or_magic benchmark — {meta['date']}", "",
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}",
            f"- Python {m['python']}; load average {m['loadavg_start']} at start, "
            f"{m.get('loadavg_end', '?')} at end (shared machine: figures are noisy)",
            f"- Peers: {', '.join(f'{k} {v}' for k, v in meta['peers'].items()) or 'unavailable'}",
            f"- Command: `{meta['command']}` at commit {meta.get('commit', '?')}", "",
            "Ratio and delta are median / and − the baseline's median in the same measurement.", "",
            "| " + " | ".join(COLUMNS + ["note"]) + " |",
            "|" + "---|" * (len(COLUMNS) + 1)]
    rows = ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(d) + [d["error"] or d["note"]])
            + " |" for d in summary]
    return "\n".join(head + rows) + "\n"


def write(results_dir: Path, summary: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Write latest.json and latest.md atomically (a .tmp file, then rename)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    meta["machine"]["loadavg_end"] = _loadavg()
    files = {"latest.json": json.dumps({**meta, "rows": summary}, indent=1) + "\n",
             "latest.md": markdown(summary, meta)}
    for name, text in files.items():
        tmp = results_dir / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(results_dir / name)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def command_line() -> str:
    return " ".join(["python"] + [a for a in sys.argv])


def git_commit(repo: Path) -> str:
    """The measured code's commit, with "+dirty" if the work tree differs."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
