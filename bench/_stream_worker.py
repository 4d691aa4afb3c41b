"""Times N streams of one subject against bench/_sse_server.py; prints one JSON line.

Launched by bench_stream.py in the main venv (or_magic, raw httpx) or the peers' venv (the
openai SDK).  Standard library plus the subject's own package only: it must import in both.
Each subject "displays" the text the way its users would: or_magic through the `%%openrouter`
cell's live display (terminal mode: text written to stdout) or `complete(on_text=...)`; the
openai SDK and raw httpx by writing each delta to stdout.  stdout is a `Sink` that notes the
CLOCK_MONOTONIC instant of the first text written, which the server's own record of when it
wrote the first byte (`GET /timings`) turns into "first text after first byte".

    python bench/_stream_worker.py --subject openai --base-url URL --n 20
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from typing import Any, Callable

MODEL = "openai/gpt-4o-mini"
PROMPT = "Tell me a long story."
MAX_TOKENS = 2000
Call = Callable[[], Any]


class Sink:
    """Stands in for stdout: keeps what was written and when the first text came."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.first_ns: int | None = None
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        if text and self.first_ns is None:
            self.first_ns = time.monotonic_ns()
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def or_magic_cell(base_url: str) -> Call:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=cfg)
    shell.run_cell("%load_ext or_magic", store_history=False)
    cell = f"%%openrouter {MODEL} --max-tokens {MAX_TOKENS}\n{PROMPT}"

    def call() -> Any:
        result = shell.run_cell(cell, store_history=True)
        if not result.success:
            raise RuntimeError(f"cell failed: {result.error_in_exec!r}")
        return result.result
    return call


def or_magic_complete(base_url: str) -> Call:
    from or_magic import complete

    def call() -> Any:
        return complete(PROMPT, MODEL, max_tokens=MAX_TOKENS, on_text=sys.stdout.write)
    return call


def openai_sdk(base_url: str) -> Call:
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "sk-fake"))

    def call() -> None:
        stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}],
                                                max_tokens=MAX_TOKENS, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                sys.stdout.write(chunk.choices[0].delta.content)
                sys.stdout.flush()
    return call


def raw_httpx(base_url: str) -> Call:
    """The floor: httpx's line iterator and json.loads, nothing else."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=30.0)
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS,
            "stream": True}

    def call() -> None:
        with client.stream("POST", "chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:]).get("choices")
                    piece = choices[0].get("delta", {}).get("content") if choices else None
                    if piece:
                        sys.stdout.write(piece)
                        sys.stdout.flush()
    return call


SUBJECTS: dict[str, Callable[[str], Call]] = {
    "openrouter-magic": or_magic_cell, "complete": or_magic_complete, "openai": openai_sdk, "httpx": raw_httpx,
}


def _get(base_url: str, what: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/{what}", timeout=10) as reply:
        return json.loads(reply.read())


def _one(call: Call, sink: Sink, base_url: str, events: int) -> tuple[float, float]:
    """(ms from the server's first byte to the first text shown, µs per chunk of the burst)."""
    sink.reset()
    call()
    end_ns = time.monotonic_ns()
    t = _get(base_url, "timings")
    if sink.first_ns is None:
        raise RuntimeError("the subject showed no text")
    return (sink.first_ns - t["first_byte_ns"]) / 1e6, (end_ns - t["rest_ns"]) / 1e3 / (events - 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subject", choices=sorted(SUBJECTS), required=True)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    real_stdout, sink = sys.stdout, Sink()
    expected = _get(a.base_url, "text")
    first_ms, per_chunk_us = [], []
    try:
        sys.stdout = sink  # type: ignore[assignment]
        call = SUBJECTS[a.subject](a.base_url)
        for i in range(a.warmup + a.n):
            first, per_chunk = _one(call, sink, a.base_url, expected["events"])
            if i == 0 and not "".join(sink.parts).startswith(expected["text"]):
                raise RuntimeError("what the subject showed is not the server's text")
            if i >= a.warmup:
                first_ms.append(first)
                per_chunk_us.append(per_chunk)
    except Exception as e:  # reported in the table, not a crash of the run
        sys.stdout = real_stdout
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:400]}))
        return
    sys.stdout = real_stdout
    print(json.dumps({"ok": True, "first_ms": first_ms, "per_chunk_us": per_chunk_us}))


if __name__ == "__main__":
    main()
