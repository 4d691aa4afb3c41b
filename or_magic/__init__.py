"""or_magic: prompt OpenRouter models from Jupyter with every sampling option inline.

    %load_ext or_magic
    %%openrouter openai/gpt-4o-mini --temperature 0.7 --seed 42 --top-logprobs 5 -o r
    Write a haiku about {topic}.

The same from Python: ``from or_magic import complete, sweep``.  Heavy modules (httpx, pandas) are
imported on first use, so loading the extension stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["complete", "sweep", "compare", "models", "key_info", "history", "panel", "Result", "Settings",
           "load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:
    from .api import complete, key_info, models, sweep
    from .history_query import history
    from .inspection import compare
    from .result import Result
    from .settings import Settings
    from .widgets import panel

_LAZY = {"complete": "api", "sweep": "api", "models": "api", "key_info": "api", "history": "history_query", "compare": "inspection",
         "Result": "result", "Settings": "settings", "panel": "widgets"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'or_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext or_magic`: register %%openrouter and %openrouter."""
    from .magics import OpenRouterMagics

    ipython.register_magics(OpenRouterMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext or_magic`: remove the magics again."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("openrouter", None)
