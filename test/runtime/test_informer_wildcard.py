"""An informer on a wildcard (`/clusters/*`) URL of the kcp-mode server: objects of several
logical clusters with equal names are kept apart by cluster, and events arrive from all."""

from __future__ import annotations

import asyncio
import ssl

from edgemc.embedded.apiserver.kcp import build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.runtime.cache import BY_CLUSTER
from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource
from edgemc.runtime.informer import Informer

from .waiting import wait_until

CM = GroupVersionResource("", "v1", "configmaps")
WS = GroupVersionResource("tenancy.kcp.io", "v1alpha1", "workspaces")


async def test_wildcard_informer_across_logical_clusters() -> None:
    server = build_kcp_server(ServerConfig(port=0))
    await server.start()
    context = server.client_ssl()
    assert isinstance(context, ssl.SSLContext)
    shard = Client(
        ClusterConfig(server.url, context, {"Authorization": f"Bearer {server.admin_token}"})
    )
    informer = Informer(shard.cluster("*"), CM)
    try:
        names = []
        for ws in ("a", "b"):
            await shard.cluster("root").create(
                WS,
                {
                    "apiVersion": "tenancy.kcp.io/v1alpha1",
                    "kind": "Workspace",
                    "metadata": {"name": ws},
                },
            )

        async def clusters_ready() -> bool:
            listed = await shard.cluster("root").list(WS)
            ready = [w for w in listed["items"] if w.get("status", {}).get("phase") == "Ready"]
            names[:] = [w["spec"]["cluster"] for w in ready if w["metadata"]["name"] in ("a", "b")]
            return len(names) == 2

        async with asyncio.timeout(10):
            while True:
                if await clusters_ready():
                    break
                await asyncio.sleep(0.01)
        informer.start()
        await informer.wait_for_sync()
        for cluster in names:
            await shard.cluster(cluster).create(
                CM,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "same", "namespace": "default"},
                },
                namespace="default",
            )
        await wait_until(lambda: all(informer.store.get_by(c, "default", "same") for c in names))
        for cluster in names:
            assert informer.store.by_index(BY_CLUSTER, cluster)
            obj = informer.store.get_by(cluster, "default", "same")
            assert obj is not None
            assert obj["metadata"]["annotations"]["kcp.io/cluster"] == cluster
    finally:
        await informer.stop()
        await shard.close()
        await server.stop()
