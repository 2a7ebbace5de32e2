"""Fixtures for the `kubectl ws` tests: a stub kcp, kubeconfigs for it, an in-process runner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from stub_kcp import StubKcp
from wsrunner import WsRunner, kubeconfig_dict


@pytest.fixture
async def stub() -> AsyncIterator[StubKcp]:
    kcp = StubKcp()
    await kcp.start()
    try:
        yield kcp
    finally:
        await kcp.stop()


@pytest.fixture
def ws(stub: StubKcp, tmp_path: Path) -> WsRunner:
    path = tmp_path / "admin.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig_dict(f"{stub.url}/clusters/root")))
    return WsRunner(path)
