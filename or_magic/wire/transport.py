"""What or_magic's httpx clients share: one TLS context per process; and a sweep's transport.

httpx builds a fresh `ssl.SSLContext` (loading certifi's whole CA bundle) for every client it
makes, about 70 ms of CPU on this project's machines.  A sweep makes its own AsyncClient, so that
cost fell on every sweep before its first request: most of the gap between a 64-run sweep at
100 ms and its ideal 0.4 s.  The context is made once (as httpx would make it, honouring
SSL_CERT_FILE / SSL_CERT_DIR) and reused; a changed variable makes a new one.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import sys
import threading
from typing import Any

import httpcore
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


# --- cheaper network streams for the connection pools -------------------------------------------
# Profiled on a 1,000-run sweep at 0 ms (bench/bench_sweep.py), a fifth of the client's CPU went
# to httpcore asking every pooled connection, before and after every request, whether its idle
# socket had become readable: anyio rebuilds a dict of socket attributes (with a getpeername
# syscall) on each ask.  And each request went out in two socket writes (head, then body): two
# syscalls, two packets, and on a connection with Nagle's algorithm on (httpcore leaves it on)
# the body may wait for the head's ACK.  These streams answer "is_readable" from the raw socket
# directly and hold a write until the next read (HTTP/1.1 always reads after sending the whole
# request), so a request is one write.  `_Stream` is the sweep's (asyncio), `_SyncStream` the
# single runs' (sync Client); only the I/O calls differ.

class _Holding:
    """What both streams share: the raw socket for "is_readable", and the bytes held until the next
    read (or until HOLD_LIMIT of them: a large upload goes out as it comes)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")
        self._held: list[bytes] = []
        self._held_timeout: float | None = None

    def _hold(self, buffer: bytes, timeout: float | None) -> bool:
        """Keep `buffer`; True when what is held must be written now."""
        if buffer:
            self._held.append(buffer)
            self._held_timeout = timeout
        return sum(map(len, self._held)) >= HOLD_LIMIT

    def _take_held(self) -> tuple[bytes, float | None]:
        data, self._held = b"".join(self._held), []
        return data, self._held_timeout

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class _Stream(_Holding, httpcore.AsyncNetworkStream):
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            await self._inner.write(*self._take_held())
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._hold(buffer, timeout):
            await self._inner.write(*self._take_held())

    async def aclose(self) -> None:
        self._held = []  # an unsent request of a connection being closed (cancelled) is dropped
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        if self._held:
            await self._inner.write(*self._take_held())
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))


class _SyncStream(_Holding, httpcore.NetworkStream):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            self._inner.write(*self._take_held())
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._hold(buffer, timeout):
            self._inner.write(*self._take_held())

    def close(self) -> None:
        self._held = []
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        if self._held:
            self._inner.write(*self._take_held())
        return _SyncStream(self._inner.start_tls(ssl_context, server_hostname, timeout))


HOLD_LIMIT = 64 * 1024  # bytes held back at most before they are written


def _readable(sock: socket.socket) -> bool:
    """httpcore's own test (a server-closed idle connection reads as readable), minus anyio."""
    try:
        return bool(select.select([sock], [], [], 0)[0]) if _NO_POLL else _poll_readable(sock.fileno())
    except (OSError, ValueError):  # closed under us: as unusable as a readable one
        return True


def _poll_readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


_NO_POLL = sys.platform == "win32" or getattr(select, "poll", None) is None


class _Backend(httpcore.AsyncNetworkBackend):
    """The pool's own backend, its streams wrapped in `_Stream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _SyncBackend(httpcore.NetworkBackend):
    """The sync pool's own backend, its streams wrapped in `_SyncStream`."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return _SyncStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _SyncStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


KEEPALIVE_EXPIRY = 5.0  # seconds an idle pooled connection is reused within (httpx's default, said once)


def sweep_transport(max_connections: int | None) -> httpx.AsyncHTTPTransport:
    """httpx's own async transport (the shared TLS context, `max_connections` kept alive), with
    the cheaper streams above when its pool has the layout they fit (httpcore 1.x); else as is."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                          keepalive_expiry=KEEPALIVE_EXPIRY)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context(), limits=limits)
    _wrap_backend(transport, httpcore.AsyncConnectionPool, httpcore.AsyncNetworkBackend, _Backend)
    return transport


def single_transport() -> httpx.HTTPTransport:
    """httpx's own sync transport as `httpx.Client` would make it (the shared TLS context, httpx's
    default limits), with the one-write streams above (httpcore 1.x); else as is."""
    transport = httpx.HTTPTransport(verify=ssl_context())
    _wrap_backend(transport, httpcore.ConnectionPool, httpcore.NetworkBackend, _SyncBackend)
    return transport


def _wrap_backend(transport: Any, pool_type: type, backend_type: type, wrapper: Any) -> None:
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if type(pool) is pool_type and isinstance(inner, backend_type):
        pool._network_backend = wrapper(inner)
