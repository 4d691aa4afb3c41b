"""One run as a row of the history's `runs` table: every text scrubbed of the key.

`run_row` is called once per finished run, on the sweep's loop thread, so what is the same for
every run of a call (the notebook, the cell) can be passed in once as `context`.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any, Mapping

from ..core.shell import cell_number, current_shell
from ..wire import answers

if TYPE_CHECKING:
    from ..run.request import Run

CHAT_COLUMNS = ("conversation", "turn", "parent_run", "branch")  # from `Run.chat`
SWEEP_COLUMNS = ("sweep_id", "grid_index")  # from `Run.sweep_id` and `Run.index`
Context = tuple[str | None, int | None, str | None]  # notebook, cell, session (run_context)


def request_hash(base_url: str, endpoint: str, body: Mapping[str, Any]) -> str:
    """The cache key of a request.  Streaming is how the answer travels, not what it is."""
    same = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    text = _HASHED.encode([base_url.rstrip("/"), endpoint, same])
    return hashlib.sha256(text.encode()).hexdigest()


def scrub(text: str | None, key: str | None) -> str | None:
    return answers.scrub(text, key) if text else text


def run_row(run: "Run", base_url: str, key: str | None, context: Context | None = None) -> dict[str, Any]:
    """The columns of one run, every text scrubbed of the key (`context`: run_context(), when known)."""
    body = run.spec.body()
    done = run.completion
    notebook, cell, session = context or run_context()
    return {
        "created_at": run.started_at, "base_url": base_url, "endpoint": run.spec.endpoint,
        "model": run.spec.model, "request": scrub(_json(body), key),
        "request_hash": request_hash(base_url, run.spec.endpoint, body),
        "response": scrub(_json(run.raw), key) if run.raw is not None else None,
        "text": scrub(run.text, key), "finish_reason": done.finish_reason if done else None,
        "prompt_tokens": done.prompt_tokens if done else None,
        "completion_tokens": done.completion_tokens if done else None,
        "cost": done.cost if done else None, "latency": run.latency,
        "generation_id": done.generation_id if done else None,
        "error": scrub(str(run.error), key) if run.error is not None else None,
        "error_type": type(run.error).__name__ if run.error is not None else None,
        "status": getattr(run.error, "status", None), "cached": int(run.cached),
        "session": session, "notebook": notebook, "cell": cell,
        **{name: (run.chat or {}).get(name) for name in CHAT_COLUMNS},
        "sweep_id": run.sweep_id, "grid_index": run.index if run.sweep_id is not None else None,
    }


# json.dumps(value, **options) builds an encoder per call; these are the same encoders, made once.
_HASHED = json.JSONEncoder(sort_keys=True, default=str)
_STORED = json.JSONEncoder(ensure_ascii=False, default=str)


def _json(value: Any) -> str:
    return _STORED.encode(value)


def run_context() -> Context:
    """(notebook path, cell execution count, session name) when running in IPython/Jupyter."""
    shell = current_shell()
    notebook = cell = None
    if shell is not None:
        notebook = shell.user_ns.get("__session__") or shell.user_ns.get("__vsc_ipynb_file__")
        cell = cell_number(shell)  # the In[n] the user saw
    session = os.environ.get("JPY_SESSION_NAME")
    return (str(notebook) if notebook else session), cell, session
