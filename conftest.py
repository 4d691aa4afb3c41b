"""Session set-up shared by the tests and the notebooks.

One local OpenRouter-compatible server starts in `pytest_configure`, before nbval starts any
kernel, so notebooks executed by `pytest --nbval` inherit OPENROUTER_BASE_URL and talk to it
too.  Connections to anything but loopback are refused: no test reaches a remote host.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.constants import FAKE_KEY, HOME, SERVER
from tests.fakeserver.server import FakeOpenRouter

ROOT = Path(__file__).resolve().parent


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
    config.stash[SERVER] = server
    os.environ["OPENROUTER_BASE_URL"] = server.base_url
    os.environ["OPENROUTER_API_KEY"] = FAKE_KEY
    # Runs are recorded in a throw-away history (inherited by nbval kernels), never the user's.
    home = tempfile.mkdtemp(prefix="or_magic_home_")
    config.stash[HOME] = home
    os.environ["OR_MAGIC_HOME"] = home
    # Kernels started by nbval must import this checkout's or_magic, not an installed copy.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(SERVER, None)
    if server is not None:
        server.stop()
    home = config.stash.get(HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


