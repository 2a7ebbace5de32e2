"""Every central controller starts from a kcp-shaped admin.kubeconfig (current context the
ESPW) before the edge API is installed, says so in one clear line, and goes to work once the
`edge.kcp.io` APIExport appears."""

from __future__ import annotations

import importlib
import logging

import pytest
from edgeenv import ESPW, EdgeEnv, wait_for

from edgemc.cmd.components import find
from edgemc.controllers.app import running


@pytest.mark.parametrize("name", ["scheduler", "placement-translator", "status-summarizer"])
async def test_waits_for_the_edge_export_then_runs(
    env: EdgeEnv, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    component = find(name)
    assert component is not None
    app = importlib.import_module(component.module).APP
    await env.create_workspace(ESPW)
    caplog.set_level(logging.INFO)
    async with running(app, [f"--kubeconfig={env.kubeconfig(ESPW)}"]) as mgr:

        async def said_so() -> bool:
            return any(
                r.getMessage() == "APIExport not found yet, will retry"
                and getattr(r, "klog_pairs", {}).get("exportName") == "edge.kcp.io"
                for r in caplog.records
            )

        await wait_for(said_so, 20, f"{name} to report the missing export")
        assert not mgr.ready()
        await env.install_edge_api()

        async def ready() -> bool:
            return mgr.ready()

        await wait_for(ready, 30, f"{name} ready once the export exists")
