"""Measurement: tokens per second on the real local model (llama.cpp's server from the xllamacpp
wheel + SmolLM2-135M-Instruct), through or_magic's complete() and through a raw httpx call.

One local server (or_magic.local, 4 slots, the free cores) answers both subjects the same chat body:
64 tokens at temperature 0 with `ignore_eos`, so every run decodes exactly 64 tokens. Rounds
alternate the subjects. tokens/s = completion tokens / wall time of the call; the ratio column is
or_magic's share of the raw speed (1.00x = no overhead). The model is fetched once if missing.
"""

from __future__ import annotations

import os
import time

from bench.core import BenchContext, Row

NAME = "local model"
BASELINE = "raw httpx (local model)"
TOKENS = 64
PROMPT = "Write a long story about a lighthouse keeper."


def measure(ctx: BenchContext) -> list[Row]:
    import httpx

    from or_magic import complete
    from or_magic.local import local_server
    from or_magic.core.settings import Settings

    rounds = ctx.repeats(default=5, quick=2)
    os.environ["OR_MAGIC_HOME"] = str(ctx.scratch / "or_magic_home")  # keep the user's history clean
    body = {"model": "local", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": TOKENS,
            "temperature": 0, "ignore_eos": True}
    raw = Row(NAME, BASELINE, "tok/s", note=f"{TOKENS} tokens a run, chat, persistent httpx.Client")
    ours = Row(NAME, "or_magic complete() (local model)", "tok/s", baseline=BASELINE, note="--no-stream")
    streamed = Row(NAME, "or_magic complete() streamed (local model)", "tok/s", baseline=BASELINE,
                   note="stream=True (Connection: close, SSE parsing) against the same raw non-streamed call")
    with local_server() as url, httpx.Client(base_url=url, timeout=120) as client:
        settings = Settings(base_url=url, model="openai/gpt-4o-mini", max_retries=0)

        def via_httpx() -> float:
            start = time.perf_counter()
            resp = client.post("/chat/completions", json=body)
            resp.raise_for_status()
            return resp.json()["usage"]["completion_tokens"] / (time.perf_counter() - start)

        def via_or_magic(stream: bool) -> float:
            start = time.perf_counter()
            r = complete(PROMPT, settings=settings, temperature=0, max_tokens=TOKENS, stream=stream,
                         extra={"ignore_eos": True}, cache=False, progress=False)
            return int(r.df.completion_tokens[0]) / (time.perf_counter() - start)

        via_httpx(), via_or_magic(False)  # warm-up: prompt cache, imports, connections
        for r in range(rounds):
            ctx.log(f"local model: round {r + 1}/{rounds}")
            raw.samples.append(via_httpx())
            ours.samples.append(via_or_magic(False))
            streamed.samples.append(via_or_magic(True))
    return [raw, ours, streamed]
