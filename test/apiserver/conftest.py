"""Fixtures of the API-server tests: a kcp-mode server and raw-HTTP clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from kcphttp import Http

from edgemc.embedded.apiserver.kcp import KcpServer


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
