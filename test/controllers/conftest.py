"""Fixtures of the component tests: a fresh kcp-mode server per test (`env`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from edgeenv import EdgeEnv


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[EdgeEnv]:
    edge_env = EdgeEnv(tmp_path)
    await edge_env.start()
    try:
        yield edge_env
    finally:
        await edge_env.stop()
