"""An edge reaches only its own mailbox: florin's syncer credential (made by syncer-gen, as
`mailbox-prep.sh florin` makes it) is refused everywhere else, by every path."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest
import yaml
from edgeenv import ESPW, EdgeEnv, wait_for

from edgemc.apis import edge
from edgemc.controllers import mailbox
from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.runtime import Client, ClusterConfig, Forbidden, Unauthorized

IMW = "root:imw-1"
WMW = "root:my-org:wmw-c"


async def mailbox_paths(env: EdgeEnv) -> dict[str, str]:
    out = {}
    for ws in (await env.ws(ESPW).list(r.WORKSPACES))["items"]:
        target = (ws["metadata"].get("annotations") or {}).get(edge.ANNOTATION_SYNC_TARGET_NAME)
        if target and (ws.get("status") or {}).get("phase") == "Ready":
            out[target] = f"{ESPW}:{ws['metadata']['name']}"
    return out


async def syncer_kubeconfig(env: EdgeEnv, mailbox_path: str, target: str) -> dict:
    out = env.dir / f"{target}-syncer.yaml"
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "edgemc.cmd", "syncer-gen", target, "-o", str(out)],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": str(env.kubeconfig(mailbox_path)), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    secret = next(
        o
        for o in yaml.safe_load_all(out.read_text())
        if o["kind"] == "Secret" and "stringData" in o
    )
    return yaml.safe_load(secret["stringData"]["kubeconfig"])


async def test_a_syncer_credential_reaches_only_its_own_mailbox(env: EdgeEnv) -> None:
    await env.create_workspace(IMW)
    await env.ensure_location(IMW, "florin", {"env": "prod"})
    await env.ensure_location(IMW, "guilder", {"env": "prod"})
    await env.install_edge_api()
    await env.create_workspace(WMW)
    async with running(mailbox.APP, [f"--kubeconfig={env.kubeconfig(ESPW)}"]):
        paths = await wait_for(
            lambda: _both(env), within=30, what="florin's and guilder's mailboxes"
        )
    florin = await syncer_kubeconfig(env, paths["florin"], "florin")
    token = florin["users"][0]["user"]["token"]
    own = florin["clusters"][0]["cluster"]["server"]
    config = ClusterConfig.for_server(env.server.url, token)
    config.ssl = env.server.client_ssl()
    guilder_cluster = await env.cluster_of(paths["guilder"])
    espw_cluster = await env.cluster_of(ESPW)
    view = f"{env.server.url}/services/apiexport/{espw_cluster}/{edge.EXPORT_NAME}"
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "intruder"}}

    async with Client(config) as syncer:
        mine = syncer.with_base_url(own)
        await mine.list(r.CONFIGMAPS, namespace="default")  # its own mailbox works
        await mine.create(r.CONFIGMAPS, {**probe, "metadata": {"name": "mine"}}, "default")

        elsewhere = [
            syncer.cluster(paths["guilder"]),
            syncer.cluster(guilder_cluster),
            syncer.cluster(WMW),
            syncer.cluster(IMW),
            syncer.cluster(ESPW),
            syncer.cluster("root"),
        ]
        for client in elsewhere:
            with pytest.raises(Forbidden):
                await client.list(r.CONFIGMAPS, namespace="default")
            with pytest.raises(Forbidden):
                await client.create(r.CONFIGMAPS, probe, "default")
        with pytest.raises(Forbidden):
            await syncer.cluster("*").list(r.CONFIGMAPS)
        with pytest.raises(Forbidden):
            await syncer.with_base_url(view).cluster("*").list(r.SYNCER_CONFIGS)
        with pytest.raises(Forbidden):
            await syncer.with_base_url(view).cluster(guilder_cluster).list(r.SYNCER_CONFIGS)

    # Nothing changed anywhere the credential was refused.
    for path in (paths["guilder"], WMW, IMW, ESPW, "root"):
        names = [c["metadata"]["name"] for c in (await env.ws(path).list(r.CONFIGMAPS))["items"]]
        assert "intruder" not in names

    # Revoking the token (deleting its Secret in the mailbox) stops it at once.
    mailbox_client = env.ws(paths["florin"])
    secrets = (await mailbox_client.list(r.SECRETS, namespace="default"))["items"]
    for secret in secrets:
        if secret["metadata"]["name"].startswith("kcp-edge-syncer-florin-"):
            await mailbox_client.delete(r.SECRETS, secret["metadata"]["name"], "default")
    async with Client(config) as syncer:
        with pytest.raises(Unauthorized):
            await syncer.with_base_url(own).list(r.CONFIGMAPS, namespace="default")


async def _both(env: EdgeEnv) -> dict[str, str] | None:
    paths = await mailbox_paths(env)
    return paths if {"florin", "guilder"} <= set(paths) else None


async def test_plain_http_to_the_tls_port_fails(env: EdgeEnv) -> None:
    plain = env.server.url.replace("https://", "http://")
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(f"{plain}/version") as response:
                assert response.status == 400  # the TLS listener refuses a plain request
        except aiohttp.ClientError:
            pass  # or the connection is dropped: either way no answer is served
