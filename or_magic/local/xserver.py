"""The xllamacpp server as a process of its own: ``python -m or_magic.local.xserver --model M --port N``.

xllamacpp's ``Server(CommonParams)`` loads the model, starts llama.cpp's HTTP server on its own
threads and returns once it listens; this process then only waits. SIGTERM (or the parent's
death, via the parent's PR_SET_PDEATHSIG) ends it; nothing here needs a clean shutdown.
"""

from __future__ import annotations

import argparse
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, start xllamacpp's server, block until a signal ends the process."""
    parser = argparse.ArgumentParser(prog="python -m or_magic.local.xserver", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the GGUF file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=0, help="decode and batch threads (0: llama.cpp's default)")
    # llama.cpp's default 50 spins idle threads; with the cores shared (a notebook kernel, tests)
    # that cost 3x: 4.7 tokens/s at poll 50 vs 15 at poll 0 on a busy 2-core machine; same speed idle.
    parser.add_argument("--poll", type=int, default=0, help="busy-wait level of waiting threads, 0-100")
    parser.add_argument("--slots", type=int, default=4, help="requests decoded side by side")
    parser.add_argument("--ctx", type=int, default=8192, help="context tokens, shared by the slots")
    parser.add_argument("--alias", default=None, help="the model id /v1/models lists")
    args = parser.parse_args(argv)
    try:
        import xllamacpp
    except ImportError as exc:
        print(f"error: xllamacpp is not installed ({exc}): pip install 'or_magic[local]', or set "
              "OR_MAGIC_LLAMA_SERVER to a llama-server binary", flush=True)
        return 2
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.port, params.hostnames = args.port, [args.host]
    params.n_parallel, params.n_ctx = args.slots, args.ctx
    if args.threads:
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.poll = params.cpuparams_batch.poll = args.poll
    if args.alias:
        params.model_alias = {args.alias}
    params.ui = False  # no web UI: an API server only
    params.offline = True  # never reach for a model hub
    params.cache_ram_mib = 256  # prompt cache default is 8 GiB; a 135M model needs little
    server = xllamacpp.Server(params)  # returns once listening; serves on its own threads
    print(f"xllamacpp {xllamacpp.__version__} listening on {server.listening_address}", flush=True)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C in a terminal ends it like SIGTERM
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
