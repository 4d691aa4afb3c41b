"""Shared fixtures: one local OpenRouter-compatible server for the whole run, and an IPython shell.

The server starts in `pytest_configure`, before nbval starts any kernel, so notebooks executed
by `pytest --nbval` inherit OPENROUTER_BASE_URL and talk to it too.  No test reaches a remote host.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fake_server import FakeOpenRouter

ROOT = Path(__file__).resolve().parent.parent
# Recognisably fake; the secrets test asserts it never shows up anywhere.
FAKE_KEY = "sk-or-v1-fake0123456789abcdef0123456789abcdef0123456789abcdef01234567"


def _refuse_remote_hosts() -> None:
    """Fail any test that tries to reach a host other than this machine's loopback."""
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("::1", "localhost")) \
                and self.family in (socket.AF_INET, socket.AF_INET6):
            raise ConnectionRefusedError(f"tests must not reach remote hosts (tried {host})")
        return original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _refuse_remote_hosts()
    server = FakeOpenRouter().start()
    config._or_magic_server = server  # type: ignore[attr-defined]
    os.environ["OPENROUTER_BASE_URL"] = server.base_url
    os.environ["OPENROUTER_API_KEY"] = FAKE_KEY
    # Kernels started by nbval must import this checkout's or_magic, not an installed copy.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def pytest_unconfigure(config: pytest.Config) -> None:
    server = getattr(config, "_or_magic_server", None)
    if server is not None:
        server.stop()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeOpenRouter]:
    """The shared local server, with no recorded requests or pending faults."""
    srv: FakeOpenRouter = request.config._or_magic_server  # type: ignore[attr-defined]
    srv.clear()
    saved = (srv.latency, srv.chunk_delay, srv.chaos)
    yield srv
    srv.latency, srv.chunk_delay, srv.chaos = saved
    srv.clear()


class Shell:
    """An IPython shell whose `run` re-raises what the cell raised (IPython itself only prints it)."""

    def __init__(self) -> None:
        from IPython.core.interactiveshell import InteractiveShell

        from or_magic.magics import OpenRouterMagics

        self.ip = InteractiveShell.instance()
        self.ip.reset(new_session=False)
        self.ip.config.pop("OpenRouterMagics", None)  # %config from an earlier test must not leak

        self.magics = OpenRouterMagics(shell=self.ip)  # fresh traits for every test
        self.ip.register_magics(self.magics)

    def run(self, cell: str) -> Any:
        result = self.ip.run_cell(cell, store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            raise error
        return result.result

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns


@pytest.fixture
def shell(server: FakeOpenRouter) -> Shell:
    return Shell()
