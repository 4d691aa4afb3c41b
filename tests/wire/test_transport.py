"""The pools' network streams (wire/transport.py): a request leaves in one socket write, sync and
async, against the real local server; answers are unchanged."""

import asyncio

import httpcore._backends.anyio as anyio_backend
import httpcore._backends.sync as sync_backend
import pytest

from or_magic.core.settings import Settings
from or_magic.wire.client import AsyncClient, Client
from or_magic.wire.transport import HOLD_LIMIT

CHAT = "openai/gpt-4o-mini"


def _body(text="hi"):
    return {"model": CHAT, "messages": [{"role": "user", "content": text}], "max_tokens": 3}


@pytest.fixture
def sync_writes(monkeypatch):
    writes = []
    write = sync_backend.SyncStream.write

    def counting(self, buffer, timeout=None):
        writes.append(len(buffer))
        return write(self, buffer, timeout)

    monkeypatch.setattr(sync_backend.SyncStream, "write", counting)
    return writes


@pytest.fixture
def async_writes(monkeypatch):
    writes = []
    write = anyio_backend.AnyIOStream.write

    async def counting(self, buffer, timeout=None):
        writes.append(len(buffer))
        return await write(self, buffer, timeout)

    monkeypatch.setattr(anyio_backend.AnyIOStream, "write", counting)
    return writes


def test_a_single_runs_request_is_one_write(server, sync_writes):
    client = Client(Settings(base_url=server.base_url))
    for text in ("one", "two", "three"):  # the first opens the connection, the others reuse it
        assert client.complete("chat", _body(text))["choices"][0]["message"]["content"]
    client.close()
    assert len(sync_writes) == 3 and len(server.requests) == 3
    assert [r.body["messages"][0]["content"] for r in server.requests] == ["one", "two", "three"]


def test_a_body_past_the_hold_limit_is_written_at_once_and_arrives_whole(server, sync_writes):
    client = Client(Settings(base_url=server.base_url))
    big = "x" * (3 * HOLD_LIMIT)
    client.complete("chat", _body(big))
    client.close()
    assert len(sync_writes) == 1 and sync_writes[0] > 3 * HOLD_LIMIT
    assert server.last.body["messages"][0]["content"] == big


def test_a_sweeps_requests_are_one_write_each(server, async_writes):
    async def sweep():
        client = AsyncClient(Settings(base_url=server.base_url), max_connections=2)
        try:
            return await asyncio.gather(*(client.complete("chat", _body(str(i))) for i in range(6)))
        finally:
            await client.aclose()

    answers = asyncio.run(sweep())
    assert len(answers) == 6 and all(a["choices"] for a in answers)
    assert len(async_writes) == 6 and len(server.requests) == 6
