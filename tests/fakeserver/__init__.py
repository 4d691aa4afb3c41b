"""The local OpenRouter-compatible test server: one package (server state and controls, the
HTTP handler, answer bodies, the model catalogue, faults, text generation, the wire format).

    with FakeOpenRouter() as server: ...     # http://127.0.0.1:PORT/api/v1
    python -m tests.fakeserver [--port N] [--latency S]
"""

from tests.fakeserver.faults import Fault
from tests.fakeserver.handler import Recorded
from tests.fakeserver.server import FakeOpenRouter

__all__ = ["FakeOpenRouter", "Fault", "Recorded"]
