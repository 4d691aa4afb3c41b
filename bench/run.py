"""The benchmark harness: `python bench/run.py` (what `make bench` runs).

Discovers the measurement modules bench/bench_*.py, runs them against a local
fake OpenRouter server, prints one table of medians, ratios and goals, and
writes bench/results/latest.json and latest.md.

    python bench/run.py                          # everything, default repeats
    python bench/run.py --only load,request --latency 0 --repeat 7
    python bench/run.py --quick                  # smoke mode: few repeats
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import traceback
from pathlib import Path
from types import ModuleType

# Run as a script (`python bench/run.py`): make `bench` importable as a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report  # noqa: E402
from bench.core import BENCH_DIR, BenchContext, PeersEnv, Row, log  # noqa: E402
from bench.peers import ensure_peers  # noqa: E402
from bench.server import ServerPool, check_server_source  # noqa: E402


def discover() -> dict[str, ModuleType]:
    """name -> module for every bench/bench_<name>.py with a measure()."""
    mods = {}
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        mod = importlib.import_module(f"bench.{path.stem}")
        if callable(getattr(mod, "measure", None)):
            mods[getattr(mod, "NAME", path.stem.removeprefix("bench_"))] = mod
    return mods


def parse_args(argv: list[str] | None, names: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(names),
                    help=f"comma-separated measurements (default: all of {','.join(names)})")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="fake server latency in seconds (default 0)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="repeats per subject (default: each measurement's own)")
    ap.add_argument("--quick", action="store_true", help="smoke mode: few, short repeats")
    ap.add_argument("--no-peers", action="store_true",
                    help="skip building/using the peers' venv (their rows say so)")
    ap.add_argument("--rebuild-peers", action="store_true", help="rebuild bench/.venv-peers")
    ap.add_argument("--results", type=Path, default=BENCH_DIR / "results",
                    help="where latest.json and latest.md go")
    args = ap.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(args.only) - set(names)
    if unknown:
        ap.error(f"unknown measurement(s) {sorted(unknown)}; known: {names}")
    return args


def run_module(name: str, mod: ModuleType, ctx: BenchContext) -> list[Row]:
    """One module's rows; a crash becomes an error row instead of ending the run."""
    log(f"== {name}")
    try:
        return list(mod.measure(ctx))
    except Exception as e:  # noqa: BLE001 - reported in the table
        traceback.print_exc()
        return [Row(name, "(harness)", "", error=f"{type(e).__name__}: {e}")]


def main(argv: list[str] | None = None) -> int:
    mods = discover()
    args = parse_args(argv, list(mods))
    check_server_source()

    peers = (PeersEnv(None, error="skipped (--no-peers)") if args.no_peers
             else ensure_peers(rebuild=args.rebuild_peers, log=log))
    servers = ServerPool(args.latency)
    ctx = BenchContext(main_python=sys.executable, peers=peers, latency=args.latency,
                       repeat=args.repeat, quick=args.quick, base_url=servers.base_url,
                       log=log)
    meta = {"date": report.now(), "machine": report.machine_info(),
            "command": report.command_line(), "commit": report.git_commit(BENCH_DIR.parent),
            "peers": peers.versions,
            "args": {k: str(v) for k, v in vars(args).items() if k != "results"}}
    rows: list[Row] = []
    try:
        for name in args.only:
            rows += run_module(name, mods[name], ctx)
    finally:
        servers.close()
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    summary = report.summarize(rows)
    print(report.text_table(summary))
    report.write(args.results, summary, meta)
    log(f"wrote {args.results / 'latest.json'} and latest.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
