"""Tests of the benchmark harness itself (no timing assertions: this machine is
shared and noisy, so figures are reported, never asserted).

    .venv/bin/python -m pytest bench/test_harness.py
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.core import BENCH_DIR, BenchContext, Goal, PeersEnv, Row, log, run_json
from bench.run import discover, parse_args


def _ctx(scratch: Path, base_url: str = "") -> BenchContext:
    return BenchContext(main_python=sys.executable, peers=PeersEnv(None, error="not built"),
                        latency=0.0, repeat=None, quick=True,
                        base_url=lambda _lat: base_url, log=log, scratch=scratch)


def test_goal_is_relative_to_the_baseline() -> None:
    g = Goal(max_delta=0.3)
    assert g.met(1.2, 1.0) and not g.met(1.4, 1.0)
    assert not Goal(max_delta=1, max_ratio=1.5).met(1.8, 1.0)
    assert g.describe("ms", "raw httpx") == "<= +0.3 ms vs raw httpx"


def test_absolute_goal_needs_no_baseline() -> None:
    g = Goal(max_value=5.0)
    assert g.met(4.0, None) and not g.met(6.0, None) and g.describe("ms", None) == "<= 5 ms"
    assert Goal(max_delta=1).met(1.0, None) is None  # relative goal, no baseline: unknown
    by = {d["subject"]: d for d in report.summarize([Row("m", "a", "ms", [3.0], goal=g)])}
    assert by["a"]["met"] is True and by["a"]["goal"] == "<= 5 ms"


def test_summary_derives_ratio_delta_and_goal_from_the_baseline_row() -> None:
    rows = [Row("m", "base", "ms", [1.0, 2.0, 3.0]),
            Row("m", "fast", "ms", [2.1, 2.2, 2.3], baseline="base", goal=Goal(max_delta=0.3)),
            Row("m", "slow", "ms", [5.0], baseline="base", goal=Goal(max_delta=0.3)),
            Row("m", "broken", "ms", baseline="base", goal=Goal(max_delta=1), error="boom")]
    by = {d["subject"]: d for d in report.summarize(rows)}
    assert by["base"]["ratio"] is None and by["base"]["median"] == 2.0
    assert by["fast"]["ratio"] == pytest.approx(1.1) and by["fast"]["met"] is True
    assert by["slow"]["delta"] == pytest.approx(3.0) and by["slow"]["met"] is False
    assert by["broken"]["median"] is None and by["broken"]["met"] is None
    table = report.text_table(list(by.values()))
    assert "unavailable" in table and "boom" in table and "NO" in table


def test_markdown_names_the_machine_and_escapes_pipes(tmp_path) -> None:
    rows = report.summarize([Row("m", "a", "s", [1.0], note="x | y")])
    meta = {"date": report.now(), "machine": report.machine_info(), "command": "c",
            "peers": {"openai": "2"}, "args": {}}
    report.write(tmp_path, rows, meta)
    md = (tmp_path / "latest.md").read_text()
    assert "cores" in md and meta["date"] in md and "x \\| y" in md
    assert (tmp_path / "latest.json").exists() and not list(tmp_path.glob("*.tmp"))


def test_modules_are_discovered_with_the_measure_signature() -> None:
    mods = discover()
    assert {"load", "request"} <= set(mods)
    for mod in mods.values():
        params = list(inspect.signature(mod.measure).parameters)
        assert params == ["ctx"]
    assert parse_args(["--only", "load", "--quick"], list(mods)).only == ["load"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "nope"], list(mods))


def test_subjects_state_stays_in_the_scratch_folder(tmp_path: Path) -> None:
    env = _ctx(tmp_path).env("http://127.0.0.1:1/api/v1")
    assert env["IPYTHONDIR"].startswith(str(tmp_path))
    assert env["OR_MAGIC_HOME"].startswith(str(tmp_path))
    assert env["OPENROUTER_BASE_URL"] == env["OPENAI_API_BASE"] == "http://127.0.0.1:1/api/v1"


def test_offline_guard_refuses_non_loopback_connections(tmp_path: Path) -> None:
    # 192.0.2.1 is TEST-NET-1: the guard refuses before any packet is sent.
    code = ("import socket\ntry:\n socket.create_connection(('192.0.2.1', 9), timeout=1)\n"
            "except ConnectionRefusedError as e:\n print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=_ctx(tmp_path).env(), capture_output=True,
                         text=True, timeout=30).stdout
    assert "offline guard" in out


@pytest.mark.parametrize("subject", ["httpx", "httpx-cell", "complete", "openrouter-magic"])
def test_request_worker_really_round_trips(subject: str, tmp_path: Path) -> None:
    from tests.fakeserver.server import FakeOpenRouter

    with FakeOpenRouter(latency=0.0) as srv:
        out = run_json([sys.executable, str(BENCH_DIR / "_request_worker.py"), "--subject",
                        subject, "--base-url", srv.base_url, "--n", "3", "--warmup", "1"],
                       _ctx(tmp_path, srv.base_url).env(srv.base_url), timeout=120)
        assert out.get("ok"), out
        assert len(out["times_s"]) == 3 and out["unverified"] == ""
        # warm-up + timed + the verifying call, all on our server
        assert len([r for r in srv.requests if r.path.endswith("/chat/completions")]) == 5
