"""The syncer's command line: flags as the bootstrap manifest passes them, and the manager's
client defaulting to the edge cluster (explicit kubeconfig or in-cluster configuration)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from edgemc.controllers.syncer import app as syncer_app
from edgemc.runtime import Client, ClusterConfig

MANIFEST_ARGS = [
    "--from-kubeconfig=/kcp/kubeconfig",
    "--sync-target-name=guilder",
    "--sync-target-uid=bf452e1f-45a0-4d5d-b35c-ef1ece2879ba",
    "--from-cluster=root:espw:mb",
    "--qps=30",
    "--burst=20",
    "--v=3",
]


def test_manifest_arguments_parse() -> None:
    common, args = syncer_app.APP.parse([*MANIFEST_ARGS, "--kubeconfig=/k"])
    assert common.verbosity == 3
    assert args.from_kubeconfig == "/kcp/kubeconfig"
    assert (args.qps, args.burst) == (30.0, 20)
    assert args.to_kubeconfig is None
    options = syncer_app.options_from(args)
    assert options.sync_target_name == "guilder" and options.qps == 30.0


def test_kubeconfig_defaults_to_the_edge() -> None:
    assert syncer_app.complete_argv(["--kubeconfig=/a", "--to-kubeconfig=/b"]) == [
        "--kubeconfig=/a",
        "--to-kubeconfig=/b",
    ]
    assert syncer_app.complete_argv(["--to-kubeconfig", "/b", "--to-context=kind-x"]) == [
        "--to-kubeconfig",
        "/b",
        "--to-context=kind-x",
        "--kubeconfig=/b",
        "--context=kind-x",
    ]


async def test_in_cluster_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

    server = ApiServer(ServerConfig(port=0))
    await server.start()
    try:
        (tmp_path / "token").write_text(server.admin_token + "\n")
        (tmp_path / "ca.crt").write_text(server.ca_pem)
        monkeypatch.setattr(syncer_app, "SERVICE_ACCOUNT_DIR", tmp_path)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
        argv = syncer_app.complete_argv(["--from-kubeconfig=/kcp/kubeconfig"])
        path = argv[-1].removeprefix("--kubeconfig=")
        doc = yaml.safe_load(await asyncio.to_thread(Path(path).read_text))
        assert doc["current-context"] == "in-cluster"
        for config in (syncer_app.in_cluster_config(), await ClusterConfig.from_kubeconfig(path)):
            async with Client(config) as client:
                assert (await client.get_path("/api"))["versions"] == ["v1"]
        await asyncio.to_thread(Path(path).unlink)
    finally:
        await server.stop()


def test_no_edge_access_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(RuntimeError, match="to-kubeconfig"):
        syncer_app.in_cluster_config()
