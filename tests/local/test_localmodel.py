"""Tests for or_magic.localmodel.

Unit tests run anywhere, without the build. Tests marked `e2e` (`make e2e`) talk to the
real llama-server + Gemma 3 270M through plain httpx; the `local_base_url` fixture builds it
first when it is missing (once, ~8 min on 2 cores).
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from or_magic import localbuild as lb
from or_magic import localmodel as lm

# --------------------------------------------------------------------------- unit


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OR_MAGIC_CACHE", str(tmp_path / "c"))
    return tmp_path / "c"


def test_cache_dir_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OR_MAGIC_CACHE", str(tmp_path / "x"))
    assert lm.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("OR_MAGIC_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lm.cache_dir() == tmp_path / "home" / ".cache" / "or_magic"


def test_paths_are_versioned_and_outside_repo(cache: Path) -> None:
    v = lm.LLAMA_CPP_PYTHON_VERSION
    assert lm.server_binary() == cache / f"llama-server-{v}" / "bin" / "llama-server"
    assert lm.server_binary("9.9.9").parent.parent.name == "llama-server-9.9.9"
    assert lm.model_path() == cache / "models" / lm.MODEL_FILE
    assert not lm.is_built()


def test_path_cli_reports_not_built(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lm.main(["path"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.endswith("(not built)") for line in lines)
    assert lines[0].startswith(str(cache))


def test_pick_port_free_busy_and_none() -> None:
    free = lm.pick_port(None)
    assert 0 < free < 65536
    assert lm.pick_port(free) == free
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = lm.pick_port(taken)
        assert other != taken and other > 0


def test_server_command_flags(tmp_path: Path) -> None:
    cmd = lm.server_command(tmp_path / "llama-server", tmp_path / "m.gguf", 4321, threads=2)
    joined = " ".join(cmd)
    for flag in ("--host 127.0.0.1", "--port 4321", "-t 2", "-c 2048", "-np 1", "--no-webui",
                 "--no-jinja --chat-template gemma"):
        assert flag in joined
    assert cmd[0].endswith("llama-server") and str(tmp_path / "m.gguf") in cmd


def test_threads_env_override_and_auto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OR_MAGIC_THREADS", "1")
    assert " -t 1 -tb 1 " in " ".join(lm.server_command(tmp_path / "s", tmp_path / "m", 1))
    assert " -t 3 -tb 3 " in " ".join(lm.server_command(tmp_path / "s", tmp_path / "m", 1, threads=3))
    monkeypatch.delenv("OR_MAGIC_THREADS")
    monkeypatch.setattr(lm.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(lm.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert lm.default_threads() == 2
    monkeypatch.setattr(lm.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    assert lm.default_threads() == 1


def test_missing_cmake_is_a_clear_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(cache / "empty"))
    with pytest.raises(lm.LocalModelError, match=r"`cmake` not found: install it: apt-get install cmake"):
        lb.build_server()


def test_failed_step_names_the_log(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    log.write_text("earlier step: error: not this one\n")
    cmd = [sys.executable, "-c", "print('[ 5%] a.c'); print('a.c:1: error: boom'); print('make: *** Error 2'); exit(2)"]
    with pytest.raises(lm.LocalModelError, match=r"^cmake build failed \(exit 2\): a.c:1: error: boom -- apt-get install g\+\+; full log: .*step.log$"):
        lb._run(cmd, log, "cmake build", "apt-get install g++")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_readiness_timeout_error_and_cleanup(cache: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    sleeper = [sys.executable, "-c",
               f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"]
    port = lm.pick_port()
    started = time.monotonic()
    with pytest.raises(lm.LocalModelError, match=rf"did not answer http://127.0.0.1:{port}/health within 1 s"):
        with lm.run_server(sleeper, port, timeout=1.0):
            pytest.fail("must not yield")
    assert time.monotonic() - started < 15
    assert not _pid_alive(int(pidfile.read_text()))


def test_early_exit_error(cache: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('error: model not found'); sys.exit(3)"]
    with pytest.raises(lm.LocalModelError, match=r"exited with code 3 .*error: model not found"):
        with lm.run_server(cmd, lm.pick_port(), timeout=10.0):
            pass


FAKE_SERVER = textwrap.dedent("""
    import http.server, os, sys
    open(sys.argv[2], "w").write(str(os.getpid()))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_server_stopped_on_error_and_interrupt(cache: Path, tmp_path: Path, exc: type[BaseException]) -> None:
    port, pidfile = lm.pick_port(), tmp_path / "pid"
    cmd = [sys.executable, "-c", FAKE_SERVER, str(port), str(pidfile)]
    with pytest.raises(exc):
        with lm.run_server(cmd, port, timeout=20.0) as url:
            assert url == f"http://127.0.0.1:{port}/v1"
            assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            raise exc()
    assert not _pid_alive(int(pidfile.read_text()))
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)


# --------------------------------------------------------------------------- e2e

PROMPT = "The capital of France is"
MESSAGES = [{"role": "user", "content": "Name three colors."}]


@pytest.fixture(scope="module")
def client(local_base_url: str) -> httpx.Client:
    with httpx.Client(base_url=local_base_url, timeout=60) as c:
        yield c


def complete(client: httpx.Client, **body: object) -> dict:
    resp = client.post("/completions", json={"prompt": PROMPT, "max_tokens": 8, **body})
    resp.raise_for_status()
    return resp.json()


def chat(client: httpx.Client, **body: object) -> dict:
    resp = client.post("/chat/completions", json={"messages": MESSAGES, "max_tokens": 8, **body})
    resp.raise_for_status()
    return resp.json()


def check_logprobs(content: list[dict], k: int) -> None:
    """Real-distribution properties, per generated position."""
    assert content, "no logprobs returned"
    matched = 0
    for pos in content:
        alts = pos["top_logprobs"]
        assert 1 <= len(alts) <= k
        assert all(a["logprob"] <= 1e-6 for a in alts)
        assert sum(math.exp(a["logprob"]) for a in alts) <= 1 + 1e-4
        assert [a["logprob"] for a in alts] == sorted((a["logprob"] for a in alts), reverse=True)
        same = [a for a in alts if a["id"] == pos["id"]]
        if same:
            matched += 1
            assert same[0]["token"] == pos["token"]
            assert math.isclose(same[0]["logprob"], pos["logprob"], abs_tol=1e-4)
    assert matched > 0, "chosen token never among the alternatives"


@pytest.mark.e2e
def test_models_endpoint(client: httpx.Client) -> None:
    data = client.get("/models").json()["data"]
    assert any(m["id"] == lm.MODEL_ALIAS for m in data)


@pytest.mark.e2e
@pytest.mark.parametrize("call", [complete, chat])
def test_temperature_zero_repeatable(client: httpx.Client, call) -> None:
    texts = {_text(call(client, temperature=0)) for _ in range(2)}
    assert len(texts) == 1 and next(iter(texts)).strip()


@pytest.mark.e2e
def test_seed_repeatable_at_temperature_one(client: httpx.Client) -> None:
    runs = [_text(complete(client, temperature=1.0, seed=1234, max_tokens=12)) for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.e2e
def test_higher_temperature_more_diverse(client: httpx.Client) -> None:
    def distinct(temp: float) -> int:
        return len({_text(complete(client, temperature=temp, seed=s, max_tokens=6)) for s in range(4)})
    assert distinct(0.0) == 1
    assert distinct(1.5) > distinct(0.0)


@pytest.mark.e2e
def test_chat_logprobs(client: httpx.Client) -> None:
    body = chat(client, temperature=0, logprobs=True, top_logprobs=5)
    check_logprobs(body["choices"][0]["logprobs"]["content"], 5)


@pytest.mark.e2e
def test_completion_logprobs(client: httpx.Client) -> None:
    body = complete(client, temperature=0, logprobs=5)
    content = body["choices"][0]["logprobs"]["content"]  # chat-style, not legacy arrays
    check_logprobs(content, 5)
    assert "".join(p["token"] for p in content) == body["choices"][0]["text"]


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/completions", "/chat/completions"])
def test_streaming_concatenates_to_text(client: httpx.Client, path: str) -> None:
    call = complete if path == "/completions" else chat
    expected = _text(call(client, temperature=0))
    body = {"prompt": PROMPT} if path == "/completions" else {"messages": MESSAGES}
    body |= {"max_tokens": 8, "temperature": 0, "stream": True}
    pieces, done = [], False
    # llama-server closes the connection after an SSE stream while still saying
    # keep-alive; a pooled connection reused right after fails ~half the time.
    with client.stream("POST", path, json=body, headers={"Connection": "close"}) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            choice = json.loads(line[6:])["choices"]
            if choice:
                pieces.append(choice[0].get("text") or (choice[0].get("delta") or {}).get("content") or "")
    assert done and len(pieces) > 1
    assert "".join(pieces) == expected


def _text(body: dict) -> str:
    choice = body["choices"][0]
    return choice["text"] if "text" in choice else choice["message"]["content"]


@pytest.mark.e2e
def test_serve_cli_prints_base_url_and_stops_on_ctrl_c(local_base_url: str) -> None:
    import signal
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(Path(lm.__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "or_magic.localmodel", "serve"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()  # blocks until ready (or exit)
        assert line.startswith("OPENROUTER_BASE_URL=http://127.0.0.1:") and line.endswith("/v1")
        url = line.split("=", 1)[1]
        assert url != local_base_url  # the session's server holds its own port
        assert httpx.get(url + "/models", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/models", timeout=2)
