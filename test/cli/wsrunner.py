"""Helpers of the `kubectl ws` tests: kubeconfigs for the stub kcp and an in-process runner."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgemc.cli.kubectl_ws import WaitSettings, run

# Fast polling for in-process tests; the stub moves one phase per GET.
FAST = WaitSettings(visible_interval=0.01, ready_interval=0.01, ready_timeout=5.0)


def kubeconfig_dict(server: str, token: str = "stub-token", name: str = "root") -> dict[str, Any]:
    """A kubeconfig shaped like kcp's admin.kubeconfig: contexts root and base."""
    base = server.split("/clusters/")[0]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server}},
            {"name": "base", "cluster": {"server": base}},
        ],
        "users": [{"name": "kcp-admin", "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "kcp-admin"}},
            {"name": "base", "context": {"cluster": "base", "user": "kcp-admin"}},
        ],
        "current-context": name,
    }


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class WsRunner:
    """Runs the plugin in-process against one kubeconfig file."""

    kubeconfig: Path
    waits: WaitSettings = FAST

    async def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        environ = {"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)}
        code = await run(list(argv), stdout=out, stderr=err, environ=environ, waits=self.waits)
        return Result(code, out.getvalue(), err.getvalue())

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.kubeconfig.read_text())

    def server(self, cluster: str = "workspace.kcp.io/current") -> str:
        clusters = {c["name"]: c["cluster"] for c in self.config()["clusters"]}
        return clusters[cluster]["server"]
