"""`kubectl ws ...` through the real kubectl, which dispatches to the plugin on PATH.

First against the stub (the plugin's own behaviour), then the seed's workspace commands
verbatim against the embedded server in kcp mode (TLS, kcp-admin token, real workspaces).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from stub_kcp import StubKcp
from wsrunner import kubeconfig_dict

from edgemc.cli.kubeconfig import CURRENT, PREVIOUS
from edgemc.embedded.apiserver.kcp import KcpServer

VENV_BIN = Path(sys.executable).parent


@dataclass
class Shell:
    """Runs commands like the seed's shell: $KUBECONFIG set, the venv's bin first on PATH."""

    kubeconfig: Path

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            pytest.fail("kubectl (v1.32) must be on PATH for the end-to-end tests")
        if not (VENV_BIN / "kubectl-ws").exists():
            pytest.fail("kubectl-ws is not installed in the virtualenv (pip install -e .)")
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        proc = await asyncio.create_subprocess_exec(
            kubectl if argv[0] == "kubectl" else argv[0],
            *argv[1:],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(90):
            out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def ok(self, command: str) -> str:
        """Run a seed-style command line (split on spaces); it must succeed."""
        code, out, err = await self(*command.split())
        assert code == 0, f"{command}: exit {code}\n{out}{err}"
        return out


async def test_kubectl_dispatches_to_the_plugin(stub: StubKcp, tmp_path: Path):
    kubeconfig = tmp_path / "admin.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(kubeconfig_dict(f"{stub.url}/clusters/root")))
    sh = Shell(kubeconfig)
    assert await sh.ok("kubectl ws root") == 'Current workspace is "root".\n'
    out = await sh.ok("kubectl ws create imw-1 --enter")
    assert out.splitlines() == [
        'Workspace "imw-1" (type root:organization) created. Waiting for it to be ready...',
        'Workspace "imw-1" (type root:organization) is ready to use.',
        'Current workspace is "root:imw-1" (type root:organization).',
    ]
    # all three plugin names, and the console script itself
    assert await sh.ok("kubectl workspace .") == 'Current workspace is "root:imw-1".\n'
    assert await sh.ok("kubectl workspaces current --short") == "root:imw-1\n"
    assert await sh.ok("kubectl-ws ..") == 'Current workspace is "root".\n'
    assert await sh.ok("kubectl ws -") == 'Current workspace is "root:imw-1".\n'
    code, out, err = await sh("kubectl", "ws", "root:nope")
    assert (code, out, err) == (1, "", 'Error: workspace "root:nope" not found\n')
    # kubectl itself reads the rewritten kubeconfig
    code, out, _ = await sh("kubectl", "config", "current-context")
    assert (code, out) == (0, f"{CURRENT}\n")
    code, out, _ = await sh("kubectl", "config", "view", "-o", "jsonpath={.clusters[*].name}")
    assert set(out.split()) == {"root", "base", CURRENT, PREVIOUS}


async def test_seed_workspace_commands_against_embedded_kcp(kcp: KcpServer, tmp_path: Path):
    sh = Shell(kcp.write_kubeconfig(tmp_path / "admin.kubeconfig"))
    base = kcp.url
    # Stage 1: inventory management workspace (seed lines, verbatim)
    assert await sh.ok("kubectl ws root") == 'Current workspace is "root".\n'
    out = await sh.ok("kubectl ws create imw-1 --enter")
    assert out.splitlines()[-1] == 'Current workspace is "root:imw-1" (type root:organization).'
    assert "(type root:organization) is ready to use." in out
    config = yaml.safe_load((tmp_path / "admin.kubeconfig").read_text())
    clusters = {c["name"]: c["cluster"] for c in config["clusters"]}
    assert clusters[CURRENT]["server"] == f"{base}/clusters/root:imw-1"
    assert clusters[CURRENT].get("certificate-authority-data")  # TLS settings copied
    # edge service provider workspace
    assert await sh.ok("kubectl ws root") == 'Current workspace is "root".\n'
    out = await sh.ok("kubectl ws create espw --enter")
    assert out.splitlines()[-1] == 'Current workspace is "root:espw" (type root:organization).'
    assert await sh.ok("kubectl ws root:espw") == 'Current workspace is "root:espw".\n'
    # a child of an organization is universal; entering it by relative name shows the type
    out = await sh.ok("kubectl ws create mbws-1")
    assert out.splitlines()[-1] == 'Workspace "mbws-1" (type root:universal) is ready to use.'
    assert await sh.ok("kubectl ws mbws-1") == (
        'Current workspace is "root:espw:mbws-1" (type root:universal).\n'
    )
    assert await sh.ok("kubectl ws ..") == 'Current workspace is "root:espw".\n'
    # the workload-management path of the seed's Stage 2
    await sh.ok("kubectl ws root")
    await sh.ok("kubectl ws create my-org --enter")
    out = await sh.ok("kubectl ws create wmw-c --enter")
    assert out.splitlines()[-1] == 'Current workspace is "root:my-org:wmw-c" (type root:universal).'
    assert (
        await sh.ok("kubectl ws root:my-org:wmw-c") == 'Current workspace is "root:my-org:wmw-c".\n'
    )
    tree = await sh.ok("kubectl ws root") and await sh.ok("kubectl ws tree")
    assert tree.splitlines()[:2] == [".", "└── root"]
    for name in ("espw", "imw-1", "my-org", "mbws-1", "wmw-c"):
        assert f"── {name}" in tree
    code, out, err = await sh("kubectl", "ws", "root:nope")
    assert (code, err) == (1, 'Error: workspace "root:nope" not found\n')
