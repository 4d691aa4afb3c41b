"""Runs the project's fake OpenRouter server (tests/fakeserver/server.py) for a bench run.

It runs in its own process rather than a thread of the harness: a server
thread would compete for the GIL with whatever is being timed, and each
subject already runs in its own process, so the server must be reachable
from several interpreters (main venv and peers' venv) anyway.
"""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from bench.core import REPO


def _free_port() -> int:
    # Picking the port here (instead of --port 0) works with any server that
    # honours --port, and the race with another process is negligible.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pump(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
    """Forward a process's stdout lines to a queue, then "" at EOF."""
    for line in stream or ():
        lines.put(line)
    lines.put("")


class ServerProcess:
    """``python -m tests.fakeserver --port N --latency S`` as a context manager."""

    def __init__(self, latency: float, python: str = sys.executable) -> None:
        self.latency = latency
        self.python = python
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self, timeout: float = 20.0) -> ServerProcess:
        cmd = [self.python, "-m", "tests.fakeserver", "--port", str(_free_port()),
               "--latency", str(self.latency)]
        # stderr goes to a file and stdout is drained by a thread: a server
        # that logs every request into a pipe nobody reads would stall.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + timeout
        # The server announces itself with one line; anything before it is noise.
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith("OPENROUTER_BASE_URL="):
                self.base_url = line.split("=", 1)[1].strip()
                return self
            if line == "":  # EOF: the server exited
                break
        self.stop()
        self.stderr.seek(0)
        raise RuntimeError(f"fake server did not start: {' '.join(cmd)}\n"
                           f"{self.stderr.read()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerPool:
    """One server per distinct latency, started on first use, all stopped at the end."""

    def __init__(self, default_latency: float) -> None:
        self.default_latency = default_latency
        self.servers: dict[float, ServerProcess] = {}

    def base_url(self, latency: float | None = None) -> str:
        lat = self.default_latency if latency is None else float(latency)
        if lat not in self.servers:
            self.servers[lat] = ServerProcess(lat).start()
        return self.servers[lat].base_url

    def close(self) -> None:
        for srv in self.servers.values():
            srv.stop()
        self.servers.clear()


def check_server_source() -> Path:
    """Path of the fake server module, or a clear error if it is not on this branch."""
    path = REPO / "tests" / "fakeserver" / "server.py"
    if not path.exists():
        raise SystemExit(f"bench: {path} not found (the fake server lives in tests/)")
    return path
