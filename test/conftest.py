"""Shared fixtures: embedded API servers over real sockets and a kubectl runner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubectl_runner import Kubectl

from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    server = ApiServer(ServerConfig(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def kcp() -> AsyncIterator[KcpServer]:
    """A kcp-mode embedded server on a free port."""
    server = build_kcp_server(ServerConfig(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def kubectl_for(tmp_path: Path):
    """Make a Kubectl for a started server (`kubectl_for(server)`)."""

    def make(server: ApiServer, name: str = "edgemc") -> Kubectl:
        kubeconfig = server.write_kubeconfig(tmp_path / f"{name}.kubeconfig", name)
        return Kubectl(kubeconfig, tmp_path / f"{name}-cache")

    return make
