"""The streaming benchmark's pieces really stream: `pytest bench/test_stream_bench.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def sse_url():
    proc = subprocess.Popen([sys.executable, str(BENCH / "_sse_server.py"), "--tokens", "300", "--gap", "0.01"],
                            stdout=subprocess.PIPE, text=True, cwd=BENCH.parent)
    line = proc.stdout.readline()
    assert line.startswith("URL="), line
    yield line.split("=", 1)[1].strip()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("subject", ["httpx", "complete", "openrouter-magic"])
def test_stream_worker_times_real_streams(sse_url, subject):
    env = {**os.environ, "OPENROUTER_BASE_URL": sse_url, "OPENROUTER_API_KEY": "sk-or-v1-bench",
           "PYTHONPATH": str(BENCH.parent)}
    out = subprocess.run([sys.executable, str(BENCH / "_stream_worker.py"), "--subject", subject,
                          "--base-url", sse_url, "--n", "2", "--warmup", "1"],
                         env=env, capture_output=True, text=True, timeout=120, cwd=BENCH.parent)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"], result
    assert len(result["first_ms"]) == 2 and all(0 < t < 1000 for t in result["first_ms"])
    assert all(t > 0 for t in result["per_chunk_us"])
