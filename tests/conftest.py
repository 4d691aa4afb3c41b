"""Shared fixtures: one local OpenRouter-compatible server for the whole run, and an IPython shell.

The server starts in `pytest_configure`, before nbval starts any kernel, so notebooks executed
by `pytest --nbval` inherit OPENROUTER_BASE_URL and talk to it too.  No test reaches a remote host.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fake_server import FakeOpenRouter

ROOT = Path(__file__).resolve().parent.parent
# Recognisably fake; the secrets test asserts it never shows up anywhere.
FAKE_KEY = "sk-or-v1-fake0123456789abcdef0123456789abcdef0123456789abcdef01234567"


def pytest_configure(config: pytest.Config) -> None:
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

        self.ip = InteractiveShell.instance()
        self.ip.user_ns.clear()
        self.ip.user_ns.update({"__name__": "__main__"})
        from or_magic.magics import OpenRouterMagics

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
