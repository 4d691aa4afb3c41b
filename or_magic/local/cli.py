"""``python -m or_magic.local`` (alias ``python -m or_magic.localmodel``): build | serve | path."""

from __future__ import annotations

import argparse
import sys
import time

from .model import LocalModelError, fetch_model, model_path
from .server import health_ok, local_server, server_name, user_binary


def is_built() -> bool:
    """True when the model is in the cache (the server itself comes with the package)."""
    return model_path().is_file()


def build() -> tuple[str, object]:
    """Fetch the model if needed; return (what serves it, the model's path). Kept for `make e2e`."""
    return server_name(user_binary()), fetch_model()


def _watch(health_url: str, every: float = 5.0) -> None:
    """Block while the server lives; a busy server may miss one check, not three."""
    misses = 0
    while misses < 3:
        time.sleep(every)
        misses = 0 if health_ok(health_url) else misses + 1
    raise LocalModelError(f"server stopped answering {health_url}")


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m or_magic.localmodel",
                                     description="a real local OpenAI-compatible backend (llama.cpp + SmolLM2)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="fetch the model into the cache (once; the server comes with the package)")
    serve = sub.add_parser("serve", help="run the server in the foreground; prints OPENROUTER_BASE_URL=...")
    serve.add_argument("--port", type=int, default=None, help="port (default: 8080 if free, else any)")
    serve.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    serve.add_argument("--threads", type=int, default=None, help="CPU threads (default: $OR_MAGIC_THREADS, else the free cores)")
    serve.add_argument("--slots", type=int, default=None, help="parallel requests (default: $OR_MAGIC_PARALLEL or 4)")
    sub.add_parser("path", help="print the server and the model path (and whether fetched)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            for item in build():
                print(item, flush=True)
        elif args.cmd == "path":
            print(server_name(user_binary()), flush=True)
            path = model_path()
            print(f"{path}{'' if path.is_file() else '  (not fetched)'}", flush=True)
        else:
            with local_server(args.port or 8080, args.timeout, args.threads, args.slots) as url:
                print(f"OPENROUTER_BASE_URL={url}", flush=True)
                _watch(url.removesuffix("/v1") + "/health")
    except LocalModelError as exc:
        print(f"or_magic.localmodel: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130 if args.cmd != "serve" else 0
    return 0
