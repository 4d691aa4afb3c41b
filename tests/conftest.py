"""Shared fixtures: the run's local OpenRouter-compatible server (started by ../conftest.py) and
an IPython shell whose cells re-raise."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.constants import SERVER
from tests.fakeserver import FakeOpenRouter


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeOpenRouter]:
    """The shared local server, with no recorded requests or pending faults."""
    srv: FakeOpenRouter = request.config.stash[SERVER]
    srv.clear()
    saved = (srv.latency, srv.chunk_delay, srv.chaos, srv.generation_delay)
    yield srv
    srv.latency, srv.chunk_delay, srv.chaos, srv.generation_delay = saved
    srv.wait_idle()  # requests of a cancelled sweep still on their way belong to this test
    srv.clear()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """OR_MAGIC_HOME in a fresh folder: the history (and sweeps) of this test alone."""
    monkeypatch.setenv("OR_MAGIC_HOME", str(tmp_path))
    return tmp_path


class Shell:
    """An IPython shell whose `run` re-raises what the cell raised (IPython itself only prints it)."""

    def __init__(self) -> None:
        from IPython.core.interactiveshell import InteractiveShell

        from or_magic.notebook.magics import OpenRouterMagics

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


@pytest.fixture(scope="session")
def local_base_url() -> Iterator[str]:
    """A real local model server (xllamacpp + SmolLM2-135M-Instruct) for the e2e tier; the model
    is fetched into the cache first when missing (~100 MB, seconds)."""
    from or_magic.local import local_server

    with local_server() as url:  # fetches the model once, then starts and always stops the server
        yield url
