"""Offline guard, imported at start-up by every benchmark subprocess (the
harness puts this folder first on PYTHONPATH).

The benchmark must only ever talk to the local fake server: a subject that
ignored its base URL and reached for api.openai.com or openrouter.ai would
otherwise just look slow (or hang on DNS). Refusing non-loopback connections
turns that into an immediate, visible error in the table.
"""

import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # unix sockets etc. are local by construction
    import ipaddress  # lazily: keep interpreter start-up (measured) unchanged

    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"bench offline guard: refused connection to {address!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
