"""Fixtures of the API-server tests: a kcp-mode server and raw-HTTP clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from kcphttp import Http

from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig


@pytest.fixture
async def kcp() -> AsyncIterator[KcpServer]:
    server = build_kcp_server(ServerConfig(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def admin(kcp: KcpServer) -> AsyncIterator[Http]:
    """kcp-admin (the `root` and `base` contexts)."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=kcp.client_ssl())
    ) as session:
        yield Http(session, kcp.url, kcp.kcp_admin_token)


@pytest.fixture
def shard(admin: Http, kcp: KcpServer) -> Http:
    """shard-admin (the `system:admin` context, group system:masters)."""
    return admin.as_token(kcp.admin_token)
