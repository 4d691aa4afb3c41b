"""What every httpx client of or_magic shares: one TLS context per process.

httpx builds a fresh `ssl.SSLContext` (loading certifi's whole CA bundle) for every client it
makes, about 70 ms of CPU on this project's machines.  A sweep makes its own AsyncClient, so that
cost fell on every sweep before its first request: most of the gap between a 64-run sweep at
100 ms and its ideal 0.4 s.  The context is made once (as httpx would make it, honouring
SSL_CERT_FILE / SSL_CERT_DIR) and reused; a changed variable makes a new one.
"""

from __future__ import annotations

import os
import ssl
import threading

import httpx

_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_lock = threading.Lock()


def ssl_context() -> ssl.SSLContext:
    """The verifying TLS context httpx would build by default, made once per CA setting."""
    where = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    context = _contexts.get(where)
    if context is None:
        with _lock:
            context = _contexts.get(where)
            if context is None:
                context = _contexts[where] = httpx.create_ssl_context()
    return context
