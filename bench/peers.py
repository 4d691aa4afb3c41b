"""Creates and caches the peers' virtualenv (bench/.venv-peers).

jupyter-ai-magics pins openai<3 and langchain<0.4, which must not leak into
the project's own venv, so the peers get their own venv from the fully
pinned bench/requirements-peers.txt. It is rebuilt only when that file or the
Python version changes (a stamp file records both), so after the first
`make bench` the peers cost nothing and the run needs no network at all.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.core import BENCH_DIR, PeersEnv

VENV = BENCH_DIR / ".venv-peers"
REQUIREMENTS = BENCH_DIR / "requirements-peers.txt"
STAMP = VENV / "bench-stamp.json"
# Packages whose versions go into the report next to the figures.
REPORTED = ["jupyter-ai-magics", "langchain-openai", "openai", "ipython", "httpx"]


def _base_python() -> str:
    # The same base interpreter as the main venv, so the two venvs' bare
    # IPython shells (the loading baselines) run on the same Python.
    return getattr(sys, "_base_executable", None) or sys.executable


def _fingerprint(base: str) -> str:
    ver = subprocess.run([base, "-c", "import sys; print(sys.version)"],
                         capture_output=True, text=True, check=True).stdout
    return hashlib.sha256(REQUIREMENTS.read_bytes() + ver.encode()).hexdigest()


def _python_in(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _versions(python: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m; print(json.dumps("
            f"{{p: m.version(p) for p in {REPORTED!r}}}))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _build(base: str, log) -> str | None:
    """Make the venv from scratch; returns an error message or None."""
    shutil.rmtree(VENV, ignore_errors=True)
    steps = [
        [base, "-m", "venv", str(VENV)],
        [str(_python_in(VENV)), "-m", "pip", "install", "--disable-pip-version-check",
         "--quiet", "--no-input", "-r", str(REQUIREMENTS)],
    ]
    for cmd in steps:
        log(f"peers: {' '.join(cmd[-3:])}")
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            errs = [ln for ln in p.stderr.splitlines() if "ignored: it is neither" not in ln]
            return f"`{' '.join(cmd[-3:])}` failed: {' | '.join(errs[-3:])[:400]}"
        # A venv that ignores itself (as Python 3.13's venv does) cannot be
        # committed by a stray `git add bench/`, whatever the repo's .gitignore says.
        (VENV / ".gitignore").write_text("*\n")
    return None


def ensure_peers(rebuild: bool = False, log=print) -> PeersEnv:
    """Return the peers' venv, building it if missing or out of date.

    Failure is not fatal: the peers' rows then say why they are missing.
    """
    base = _base_python()
    want = _fingerprint(base)
    python = _python_in(VENV)
    if not rebuild and STAMP.exists() and python.exists():
        stamp = json.loads(STAMP.read_text())
        if stamp.get("fingerprint") == want:
            return PeersEnv(str(python), versions=stamp.get("versions", {}))
    log(f"peers: building {VENV} (pinned in {REQUIREMENTS.name}; needs PyPI once)")
    error = _build(base, log)
    if error:
        return PeersEnv(None, error=error)
    versions = _versions(python)
    STAMP.write_text(json.dumps({"fingerprint": want, "versions": versions}, indent=1))
    return PeersEnv(str(python), versions=versions)


if __name__ == "__main__":  # `python -m bench.peers [--rebuild]`
    env = ensure_peers(rebuild="--rebuild" in sys.argv)
    print(json.dumps(env.__dict__, indent=1))
    sys.exit(0 if env.python else 1)
