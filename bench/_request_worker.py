"""Times N sequential requests of one subject; prints one JSON line.

Launched by bench_request.py as a subprocess, in the main venv (httpx,
or_magic) or in the peers' venv (openai SDK, jupyter-ai's %%ai), so every
subject runs in a fresh interpreter against the same local server. Standard
library plus the subject's own package only: this file must import in both
venvs.

    python bench/_request_worker.py --subject httpx --base-url URL --n 200
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

MODEL = "openai/gpt-4o-mini"
PROMPT = "Name three prime numbers."
MAX_TOKENS = 16
Call = Callable[[], Any]


def raw_httpx(base_url: str) -> Call:
    """The floor: one persistent httpx.Client, build JSON, post, parse."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=30.0, headers={
        "Authorization": f"Bearer {os.environ['OPENROUTER_API_KEY']}"})
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": MAX_TOKENS, "temperature": 0}

    def call() -> str:
        r = client.post("chat/completions", json=body)
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]
    return call


def openai_sdk(base_url: str) -> Call:
    """How people hand-roll it: one OpenAI client reused in a loop."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])

    def call() -> str:
        r = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}],
            max_tokens=MAX_TOKENS, temperature=0)
        return r.choices[0].message.content or ""
    return call


def or_magic_complete(base_url: str) -> Call:
    """or_magic's Python API; it finds the server through $OPENROUTER_BASE_URL
    (set by the harness to ``base_url``), as a user's notebook would."""
    from or_magic import complete

    assert os.environ.get("OPENROUTER_BASE_URL") == base_url

    def call() -> str:
        return complete(PROMPT, model=MODEL, max_tokens=MAX_TOKENS, temperature=0,
                        stream=False).text
    return call


def _shell() -> Any:
    """A plain IPython shell as a kernel would run it, minus history on disk
    (an in-memory history keeps sqlite I/O, shared with other jobs on this
    machine, out of the figures while keeping the code path)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=cfg)
    published: list[dict] = []
    # Keep what the subject displays (all mime types) for the output check,
    # instead of printing text/plain only as a terminal-less shell would.
    shell.display_pub.publish = lambda data, *a, **k: published.append(data)
    shell.user_ns["_bench_published"] = published
    return shell


def _cell_subject(setup: list[str], cell: str,
                  inject: Callable[[str], Call] | None = None) -> Callable[[str], Call]:
    """A subject that runs ``cell`` through ``shell.run_cell`` each request,
    as a notebook does (transform, execute, Out[] display, history)."""
    def make(base_url: str) -> Call:
        shell = _shell()
        if inject:
            shell.user_ns["_bench_call"] = inject(base_url)
        for line in setup:
            _check(shell.run_cell(line, store_history=False))

        def call() -> Any:
            return _check(shell.run_cell(cell, store_history=True)).result
        return call
    return make


def _check(res: Any) -> Any:
    if not res.success:
        raise RuntimeError(f"cell failed: {res.error_before_exec or res.error_in_exec!r}")
    return res


SUBJECTS: dict[str, Callable[[str], Call]] = {
    "httpx": raw_httpx,
    "httpx-cell": _cell_subject([], "_bench_call()", inject=raw_httpx),
    "openai": openai_sdk,
    "complete": or_magic_complete,
    "openrouter-magic": _cell_subject(
        ["%load_ext or_magic"],
        f"%%openrouter {MODEL} --max-tokens {MAX_TOKENS} --temperature 0 --no-stream\n{PROMPT}"),
    # openai-chat-custom is jupyter-ai's provider for OpenAI-compatible servers:
    # it takes any model id, so the request body matches the others'. Its
    # base URL comes from OPENAI_API_BASE (set by the harness). max_history=0
    # so every request carries one message, like the other subjects.
    "jupyter-ai": _cell_subject(
        ["%load_ext jupyter_ai_magics", "%config AiMagics.max_history = 0"],
        "%%ai openai-chat-custom:" + MODEL + " -m "
        + json.dumps({"max_tokens": MAX_TOKENS, "temperature": 0}, separators=(",", ":"))
        + "\n" + PROMPT),
}


def _timed(call: Call, n: int, warmup: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process, all threads) seconds of each of n calls.
    CPU time leaves out time spent descheduled by other jobs on the machine
    and time waiting for the server: it is the client's own work."""
    for _ in range(warmup):  # connections, lazy imports, caches
        call()
    wall, cpu = [], []
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        call()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subject", choices=sorted(SUBJECTS), required=True)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    printed = io.StringIO()
    try:
        # Whatever the subject prints (Out[...], streamed text) is captured so
        # stdout carries only our JSON line; the printing itself is still timed.
        with contextlib.redirect_stdout(printed):
            call = SUBJECTS[a.subject](a.base_url)
            wall, cpu = _timed(call, a.n, a.warmup)
            unverified = _verify(call, a.base_url, printed)
    except Exception as e:  # reported in the table, not a crash of the run
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:400]}))
        return
    print(json.dumps({"ok": True, "times_s": wall, "cpu_s": cpu, "unverified": unverified}))


def _verify(call: Call, base_url: str, printed: io.StringIO) -> str:
    """One more, untimed call with httpx's transport recorded: the subject must have had a 200
    answer from our server and shown its text. Every subject here sends through
    httpx.HTTPTransport (the openai SDK and langchain-openai do too; or_magic hands its requests to
    the transport without httpx.Client.send's layers), so this proves the figures come from real
    round trips, whatever prompt template a peer wraps around the cell text. Returns "" if fine,
    else why."""
    import httpx

    class Tee(httpx.SyncByteStream):
        """A response's byte stream that keeps a copy of what the subject reads from it."""

        def __init__(self, stream: httpx.SyncByteStream, seen: list[bytes]) -> None:
            self.stream, self.seen = stream, seen

        def __iter__(self) -> Any:
            for piece in self.stream:
                self.seen.append(piece)
                yield piece

        def close(self) -> None:
            self.stream.close()

    exchanges: list[tuple[str, httpx.Response, list[bytes]]] = []
    handle = httpx.HTTPTransport.handle_request

    def recording_handle(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        response = handle(self, request)
        seen: list[bytes] = []
        response.stream = Tee(response.stream, seen)  # type: ignore[arg-type]  # read later by the subject
        exchanges.append((str(request.url), response, seen))
        return response

    httpx.HTTPTransport.handle_request = recording_handle  # type: ignore[method-assign]
    try:
        mark = len(printed.getvalue())
        last = call()
    finally:
        httpx.HTTPTransport.handle_request = handle  # type: ignore[method-assign]
    ours = [(r, seen) for url, r, seen in exchanges if url.startswith(base_url)]
    if len(ours) != 1 or len(exchanges) != 1:
        return f"expected 1 request to the local server, saw {[u for u, _, _ in exchanges]}"
    response, seen = ours[0]
    if response.status_code != 200:
        return f"server answered {response.status_code}"
    answer = json.loads(b"".join(seen))
    text = answer["choices"][0]["message"]["content"]
    if text not in printed.getvalue()[mark:] + _shown(last):
        return "the server's answer was not in the subject's output"
    return ""


def _shown(last: Any) -> str:
    """Text of the last output in every mime type, plus everything a cell
    subject displayed: where the server's answer must appear."""
    shell_mod = sys.modules.get("IPython.core.interactiveshell")
    if shell_mod is None or not shell_mod.InteractiveShell.initialized():
        return repr(last)
    shell = shell_mod.InteractiveShell.instance()
    fmt = shell.display_formatter.format(last)[0] if last is not None else {}
    published = shell.user_ns.get("_bench_published", [])
    text = repr(last) + repr(fmt) + repr(published[-5:])
    published.clear()
    return text


if __name__ == "__main__":
    main()

