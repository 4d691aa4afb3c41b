"""Starting, waiting for and always stopping the local OpenAI-compatible server.

By default the server is llama.cpp's C++ server from the prebuilt ``xllamacpp`` wheel, run in a
child process (``python -m or_magic.local.xserver``) so it never shares a kernel's GIL and a
test or the demo can stop it with a signal. ``OR_MAGIC_LLAMA_SERVER=/path/to/llama-server``
runs that binary instead, with the equivalent flags. Either way the child gets the machine's
cores (``OR_MAGIC_THREADS`` or ``threads=``; fewer when other work holds them) and several
parallel slots (``OR_MAGIC_PARALLEL`` or ``slots=``, default 4) so a sweep's concurrent requests
are decoded together.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from .model import MODEL_ALIAS, LocalModelError, cache_dir, fetch_model, log

SERVER_ENV = "OR_MAGIC_LLAMA_SERVER"
CTX_PER_SLOT = 2048  # a 135M model's answers are short; each slot gets this many tokens
DEFAULT_SLOTS = 4


def pick_port(port: int | None = None) -> int:
    """`port` if it is free on 127.0.0.1, else any free port the OS gives."""
    for candidate in ([port] if port else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise LocalModelError("no free TCP port on 127.0.0.1")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        raise LocalModelError(f"${name} must be a whole number, not {value!r}") from None


def default_threads(threads: int | None = None) -> int:
    """`threads`, else $OR_MAGIC_THREADS, else the cores this process may run on that other work
    leaves free (1-minute load average), at least one.

    llama.cpp's threads wait for each other at every step: on 2 idle cores 2 threads decode 83
    tokens/s, but with the cores busy (load ~4) 2 threads fell to 2.5-15 tokens/s while 1 thread
    kept 36-58 (measured). Outputs do not depend on the thread count, only speed does.
    """
    if threads:
        return threads
    if env := _env_int("OR_MAGIC_THREADS"):
        return env
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(cores - load + 0.5)))


def default_slots(slots: int | None = None) -> int:
    """`slots`, else $OR_MAGIC_PARALLEL, else 4 requests decoded side by side."""
    return slots or _env_int("OR_MAGIC_PARALLEL") or DEFAULT_SLOTS


def user_binary() -> Path | None:
    """The user's own llama-server named by $OR_MAGIC_LLAMA_SERVER, checked; None when unset."""
    value = os.environ.get(SERVER_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise LocalModelError(f"${SERVER_ENV}={value} is not an executable file "
                              f"(unset it to use the xllamacpp server)")
    return path


def server_command(model: Path, port: int, threads: int | None = None, slots: int | None = None,
                   binary: Path | None = None) -> list[str]:
    """The child's argv: the xllamacpp runner, or `binary` (a llama-server) with the same settings."""
    n, np = str(default_threads(threads)), default_slots(slots)
    ctx = str(CTX_PER_SLOT * np)  # llama.cpp splits n_ctx among the slots
    if binary is None:
        return [sys.executable, "-m", "or_magic.local.xserver", "--model", str(model), "--port", str(port),
                "--threads", n, "--slots", str(np), "--ctx", ctx, "--alias", MODEL_ALIAS]
    return [str(binary), "-m", str(model), "--alias", MODEL_ALIAS, "--host", "127.0.0.1",
            "--port", str(port), "-t", n, "-tb", n, "-c", ctx, "-np", str(np),
            "--cache-ram", "256",  # prompt cache default is 8 GiB; a 135M model needs little
            "--no-webui", "--offline"]


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: if Python is SIGKILLed (CI timeout), the kernel stops the server too."""
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def health_ok(url: str) -> bool:
    """True when `url` (a /health URL) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as err:  # 503 while the model loads
        err.close()
        return False
    except (urllib.error.URLError, OSError):
        return False  # not listening yet


def log_tail(path: Path, lines: int = 3) -> str:
    """The last non-empty `lines` of a log file, joined on one line."""
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return " | ".join(line.strip() for line in text[-lines:])


def wait_ready(proc: subprocess.Popen[bytes], health_url: str, timeout: float, log_file: Path) -> None:
    """Poll `/health` until 200; on exit or timeout raise an error with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalModelError(f"server exited with code {proc.returncode} before answering "
                                  f"{health_url}: {log_tail(log_file)} (log: {log_file})")
        if health_ok(health_url):
            return
        time.sleep(0.1)
    raise LocalModelError(f"server did not answer {health_url} within {timeout:g} s "
                          f"(log: {log_file}): {log_tail(log_file)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def run_server(cmd: list[str], port: int, timeout: float = 120.0) -> Iterator[str]:
    """Start `cmd` (a server listening on `port`), yield its /v1 base URL, always stop it."""
    log_file = cache_dir() / "logs" / f"server-{port}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
    with log_file.open("wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, preexec_fn=_parent_death_signal())
    clean = False
    try:  # covers errors, KeyboardInterrupt and GeneratorExit alike
        wait_ready(proc, f"{base}/health", timeout, log_file)
        try:
            yield f"{base}/v1"
        except KeyboardInterrupt:  # Ctrl-C is how `serve` normally ends
            clean = True
            raise
        clean = True
    finally:
        _stop(proc)
        if clean:  # keep the log only when something went wrong
            log_file.unlink(missing_ok=True)


def server_name(binary: Path | None = None) -> str:
    """What serves: the user's binary, else the xllamacpp wheel and its version."""
    if binary is not None:
        return str(binary)
    try:
        from importlib.metadata import version

        return f"xllamacpp {version('xllamacpp')}"
    except Exception:  # PackageNotFoundError: reported by the child's own error
        return "xllamacpp (not installed: pip install 'or_magic[local]')"


@contextlib.contextmanager
def local_server(port: int | None = None, timeout: float = 120.0, threads: int | None = None,
                 slots: int | None = None, model: Path | None = None) -> Iterator[str]:
    """Fetch the model if needed, start the server on it, yield "http://127.0.0.1:PORT/v1", stop it."""
    binary = user_binary()
    model = model or fetch_model()
    chosen = pick_port(port)
    if port and chosen != port:
        log(f"port {port} is busy, using {chosen}")
    threads, slots = default_threads(threads), default_slots(slots)
    started = time.monotonic()
    log(f"starting {server_name(binary)} on {model.name} ({threads} threads, {slots} slots)")
    with run_server(server_command(model, chosen, threads, slots, binary), chosen, timeout) as url:
        log(f"local server ready at {url} in {time.monotonic() - started:.1f} s")
        yield url
