"""The seed's Stage 1 and 2 workspace and binding commands, verbatim, with the real kubectl
and the `kubectl ws` plugin (found on PATH) against the kcp-mode server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgemc.embedded.apiserver.kcp import KcpServer

ROOT = Path(__file__).resolve().parents[2]

BIND_ESPW = """
apiVersion: apis.kcp.io/v1alpha1
kind: APIBinding
metadata:
  name: bind-espw
spec:
  reference:
    export:
      path: root:espw
      name: edge.kcp.io
"""

EDGE_PLACEMENT = """
apiVersion: edge.kcp.io/v1alpha1
kind: EdgePlacement
metadata:
  name: edge-placement-c
spec:
  locationSelectors:
  - matchLabels: {"env":"prod"}
  namespaceSelector:
    matchLabels: {"common":"si"}
  nonNamespacedObjects:
  - apiGroup: apis.kcp.io
    resources: [ "apibindings" ]
    resourceNames: [ "bind-kube" ]
  upsync:
  - apiGroup: "group1.test"
    resources: ["sprockets", "flanges"]
    namespaces: ["orbital"]
    names: ["george", "cosmo"]
  - apiGroup: "group2.test"
    resources: ["cogs"]
    names: ["william"]
"""


class Shell:
    """Runs commands as the seed's shell would: KUBECONFIG set, the plugin on PATH."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            pytest.fail("kubectl (v1.32) must be on PATH for the end-to-end tests")
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.kubectl = kubectl
        self.cache = cache

    async def kubectl_(self, *args: str, input: str | None = None) -> str:
        def call() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                # kubectl refuses flags before a plugin name; a fresh discovery cache per test.
                [self.kubectl, *args] + ([] if args[0] == "ws" else [f"--cache-dir={self.cache}"]),
                input=input,
                capture_output=True,
                text=True,
                env=self.env,
                cwd=ROOT,
                timeout=90,
            )

        proc = await asyncio.to_thread(call)
        assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout


async def test_seed_workspaces_config_and_bindings(kcp: KcpServer, tmp_path: Path):
    if shutil.which("kubectl-ws", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("the kubectl-ws plugin is not installed in the virtualenv (make test does)")
    sh = Shell(kcp.write_kubeconfig(tmp_path / "admin.kubeconfig"), tmp_path / "cache")
    ws = sh.kubectl_
    assert await ws("ws", "root") == 'Current workspace is "root".\n'
    out = await ws("ws", "create", "imw-1", "--enter")
    assert out.splitlines() == [
        'Workspace "imw-1" (type root:organization) created. Waiting for it to be ready...',
        'Workspace "imw-1" (type root:organization) is ready to use.',
        'Current workspace is "root:imw-1" (type root:organization).',
    ]
    await ws("ws", "root")
    await ws("ws", "create", "espw", "--enter")
    assert "customresourcedefinition.apiextensions.k8s.io/edgeplacements.edge.kcp.io created" in (
        await ws("create", "-f", "config/crds")
    )
    assert "apiexport.apis.kcp.io/edge.kcp.io created" in await ws("create", "-f", "config/exports")
    await ws("ws", "root")
    await ws("ws", "create", "my-org", "--enter")
    out = await ws("ws", "create", "wmw-c", "--enter")
    assert out.splitlines()[-1] == 'Current workspace is "root:my-org:wmw-c" (type root:universal).'
    assert (await ws("apply", "-f", "-", input=BIND_ESPW)).strip() == (
        "apibinding.apis.kcp.io/bind-espw created"
    )
    # The binding makes EdgePlacements appear asynchronously, as on kcp.
    async with asyncio.timeout(20):
        while True:
            listing = await ws("api-resources", "--api-group=edge.kcp.io", "-o", "name")
            if "edgeplacements.edge.kcp.io" in listing:
                break
            await asyncio.sleep(0.1)
    assert (await ws("apply", "-f", "-", input=EDGE_PLACEMENT)).strip() == (
        "edgeplacement.edge.kcp.io/edge-placement-c created"
    )
    assert (await ws("apply", "-f", "-", input=EDGE_PLACEMENT)).strip() == (
        "edgeplacement.edge.kcp.io/edge-placement-c unchanged"
    )
    assert await ws("ws", "root:my-org") == 'Current workspace is "root:my-org".\n'
    workspaces = (await ws("get", "Workspaces")).splitlines()
    assert workspaces[0].split() == ["NAME", "TYPE", "REGION", "PHASE", "URL", "AGE"]
    assert workspaces[1].split()[:3] == ["wmw-c", "universal", "Ready"]
