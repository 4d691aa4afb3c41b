"""`python -m tests.fakeserver`: serve the fake OpenRouter standalone until SIGTERM/SIGINT."""
from __future__ import annotations

import threading

from tests.fakeserver.server import FakeOpenRouter


def main(argv: list[str] | None = None) -> None:
    import argparse
    import signal

    ap = argparse.ArgumentParser(prog="python -m tests.fakeserver", description="A local OpenRouter-compatible server for tests and benchmarks.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--chunk-delay", type=float, default=0.0)
    ap.add_argument("--chaos", type=float, default=0.0)
    ap.add_argument("--chaos-seed", type=int, default=0)
    ap.add_argument("--require-key", default=None)
    ap.add_argument("--completions-logprobs-style", choices=("legacy", "chat"), default="legacy")
    args = ap.parse_args(argv)
    srv = FakeOpenRouter(port=args.port, latency=args.latency, chunk_delay=args.chunk_delay,
                         chaos=args.chaos, chaos_seed=args.chaos_seed, require_key=args.require_key,
                         completions_logprobs_style=args.completions_logprobs_style).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"OPENROUTER_BASE_URL={srv.base_url}", flush=True)
    while not done.wait(0.5):  # a plain wait() would delay signal handling on some platforms
        pass
    srv.stop()



main()
