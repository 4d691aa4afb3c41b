"""or_magic: prompt OpenRouter models from Jupyter with every sampling option inline.

    %load_ext or_magic
    %%openrouter openai/gpt-4o-mini --temperature 0.7 --seed 42 --top-logprobs 5 -o r
    Write a haiku about {topic}.

The same from Python: ``from or_magic import complete, sweep``.  Heavy modules (httpx, pandas) are
imported on first use, so loading the extension stays fast.

The package is in layers, each importing only the ones before it (tests/test_layers.py holds it):

    core      errors, settings, the parameter table, the key's secrets: imports nothing of or_magic
    wire      HTTP, retries, SSE, answers and logprobs as they arrive
    run       a call's spec and runs: templating, grids, budgets, sequential and concurrent runners
    store     the history database, its queries, the cache
    analysis  the Result and its tables, metrics and views
    api       the Python facade: complete, sweep, map_rows, chat, models, endpoints, key_info
    notebook  the magics, the option parser, widgets, live display
    local     a real local model server, standing alone
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import __version__

__all__ = ["complete", "sweep", "resume", "sweeps", "chat", "chats", "Chat", "compare", "models", "endpoints",
           "key_info", "history", "map_rows", "map_rows_meta", "panel", "Result", "Settings",
           "ORMagicError", "InvalidOption", "ConfigError", "APIError", "AuthError", "CreditsError",
           "RateLimitError", "ServerError", "TransportError", "TimeoutError", "RunSkipped",
           "load_ipython_extension", "unload_ipython_extension", "__version__"]

if TYPE_CHECKING:
    from .analysis.result import Result, compare
    from .api import Chat, chat, complete, endpoints, key_info, models, resume, sweep, sweeps
    from .api.mapping import map_rows, map_rows_meta
    from .core.errors import (
        APIError,
        AuthError,
        ConfigError,
        CreditsError,
        InvalidOption,
        ORMagicError,
        RateLimitError,
        RunSkipped,
        ServerError,
        TimeoutError,
        TransportError,
    )
    from .core.settings import Settings
    from .notebook.widgets import panel
    from .run.conversation import chats
    from .store.history_query import history

_ERRORS = ("ORMagicError", "InvalidOption", "ConfigError", "APIError", "AuthError", "CreditsError",
           "RateLimitError", "ServerError", "TransportError", "TimeoutError", "RunSkipped")
# Public name → the module that defines it, imported on first use.
_LAZY = {"complete": "api", "sweep": "api", "resume": "api", "sweeps": "api", "models": "api", "endpoints": "api", "key_info": "api", "chat": "api",
         "Chat": "api", "chats": "run.conversation", "history": "store.history_query",
         "compare": "analysis.result", "Result": "analysis.result", "Settings": "core.settings",
         "panel": "notebook.widgets", "map_rows": "api.mapping", "map_rows_meta": "api.mapping",
         **{name: "core.errors" for name in _ERRORS}}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'or_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext or_magic`: register %%openrouter and %openrouter."""
    from .notebook.magics import OpenRouterMagics

    ipython.register_magics(OpenRouterMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext or_magic`: remove the magics again."""
    from .notebook.shorterrors import uninstall

    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("openrouter", None)
    uninstall(ipython)
