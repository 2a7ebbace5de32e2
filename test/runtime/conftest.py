"""Runtime test fixtures: the embedded API server on a thread of its own.

Informer tests need writes to happen while an informer is cut off from the server. Running
the server's event loop on another thread lets a test freeze the informer (simply by not
awaiting), cut its watch (`drop_watches`), write through plain blocking HTTP, and then let
the informer run again: what it missed is then exactly what the test wrote.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

T = TypeVar("T")


class ThreadedServer:
    """An ApiServer running on its own loop in a daemon thread, driven synchronously."""

    def __init__(self, config: ServerConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ApiServer(config)
        self.run(self.server.start())

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def call(self, fn: Callable[[], T]) -> T:
        async def invoke() -> T:
            return fn()

        return self.run(invoke())

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.admin_token

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """A blocking request as the admin; returns the decoded answer (errors raise)."""
        data = None if body is None else orjson.dumps(body)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return orjson.loads(resp.read())

    def drop_watches(self) -> int:
        return self.call(self.server.drop_watches)

    def compact(self) -> None:
        self.call(self.server.compact)

    def write_kubeconfig(self, path: Path) -> Path:
        return self.server.write_kubeconfig(path)

    def close(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


@pytest.fixture
def threaded_apiserver() -> Iterator[ThreadedServer]:
    server = ThreadedServer(ServerConfig(port=0, tls=False))
    try:
        yield server
    finally:
        server.close()
