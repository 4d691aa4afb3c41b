"""api: the Python facade — `complete`, `sweep`, `chat`, `models`, `key_info`.  The magics and the
widgets are thin layers over it.  It may import every layer but notebook.

    calls.py    one call: check, plan, send (sequentially or concurrently), record, collect
    resuming.py a sweep's id and recorded plan, recorded before sending; --resume sends only what is missing
    sweeps.py   `resume(id)` from the recorded plan alone, `sweeps()` lists them
    checks.py   what is refused before anything is sent
    chats.py    conversations from Python (`chat()`, `Chat`)
    mapping.py  `map_rows`: a prompt over a DataFrame partition's rows (Dask's map_partitions)
    catalog.py  the server's models, a model's providers (endpoints) and the key's limits
"""

from __future__ import annotations

from .calls import (
           client_for,
           client_pool,
           complete,
           executor_for,
           prepare,
           run_call,
           sweep,
)
from .catalog import KEY_FIELDS, endpoints, key_info, models
from .chats import Chat, chat
from .sweeps import resume, sweeps

__all__ = ["complete", "sweep", "chat", "Chat", "models", "endpoints", "key_info", "client_for", "client_pool", "prepare",
           "run_call", "executor_for", "KEY_FIELDS", "resume", "sweeps"]
