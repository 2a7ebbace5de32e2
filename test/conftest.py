"""Shared fixtures: embedded API servers over real sockets and a kubectl runner."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

KUBECTL = shutil.which("kubectl")


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    server = ApiServer(ServerConfig(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class Kubectl:
    """Runs the real kubectl against a kubeconfig, with a private discovery cache."""

    kubeconfig: Path
    cache_dir: Path

    def run(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if KUBECTL is None:
            pytest.fail("kubectl (v1.32) must be on PATH for the end-to-end tests")
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        proc = subprocess.run(
            [KUBECTL, f"--cache-dir={self.cache_dir}", *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def kubectl_for(tmp_path: Path):
    """Make a Kubectl for a started server (`kubectl_for(server)`)."""

    def make(server: ApiServer, name: str = "edgemc") -> Kubectl:
        kubeconfig = server.write_kubeconfig(tmp_path / f"{name}.kubeconfig", name)
        return Kubectl(kubeconfig, tmp_path / f"{name}-cache")

    return make
