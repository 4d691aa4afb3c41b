"""A small pool of Clients, one per distinct settings (and key), least recently used evicted.

A loop of `complete()` calls reuses one client (one connection pool), but a client per distinct
Settings kept forever leaked sockets: 200 calls with 200 timeouts held 200 pools open.  The pool
is bounded, and a client pushed out is closed, releasing its connections.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ..core.settings import Settings
from .client import Client

POOL_SIZE = 8  # distinct settings in use at once is usually 1 or 2


class ClientPool:
    """`get(settings)` returns a pooled Client; at most `size` are kept open."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self.size = max(1, size)
        self._clients: OrderedDict[tuple[Any, ...], Client] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._clients)

    def __repr__(self) -> str:
        return f"<or_magic.ClientPool {len(self)}/{self.size}>"

    def get(self, settings: Settings) -> Client:
        # The key is part of the identity (a changed key needs a new client) but is hashed so the
        # pool's keys never hold it in clear.
        identity = (settings, hash(settings.api_key()))
        evicted: list[Client] = []
        with self._lock:
            client = self._clients.get(identity)
            if client is None:
                client = self._clients[identity] = Client(settings)
            self._clients.move_to_end(identity)
            while len(self._clients) > self.size:
                evicted.append(self._clients.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return client

    def close(self) -> None:
        """Close every pooled client (they are made again on the next `get`)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()
