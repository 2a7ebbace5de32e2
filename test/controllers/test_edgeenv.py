"""The shared set-up of the component tests does what the seed's Stage 1 commands do."""

from __future__ import annotations

from edgeenv import ESPW, EdgeEnv

from edgemc.controllers import resources as r


async def test_stage1_building_blocks(env: EdgeEnv) -> None:
    await env.create_workspace("root:imw-1")
    target = await env.ensure_location("root:imw-1", "florin", {"env": "prod"})
    assert {"id": "florin", "env": "prod"}.items() <= target["metadata"]["labels"].items()
    await env.install_edge_api()
    export = await env.ws(ESPW).get(r.API_EXPORTS, "edge.kcp.io")
    assert export["spec"]["latestResourceSchemas"]
    locations = await env.ws("root:imw-1").list(r.LOCATIONS)
    assert [loc["metadata"]["name"] for loc in locations["items"]] == ["florin"]
    assert (await env.cluster_of("root:imw-1")) == target["metadata"]["annotations"][
        "kcp.io/cluster"
    ]


async def test_nested_workspace_and_kubeconfig(env: EdgeEnv) -> None:
    ws = await env.create_workspace("root:my-org:wmw-c")
    assert ws["status"]["phase"] == "Ready"
    path = env.kubeconfig("root:my-org:wmw-c")
    assert "/clusters/root:my-org:wmw-c" in path.read_text()


async def test_kubectl_in_a_workspace(env: EdgeEnv) -> None:
    await env.create_workspace("root:imw-1")
    await env.ensure_location("root:imw-1", "guilder", {"env": "prod"})
    out = (await env.kubectl("root:imw-1").arun("get", "synctargets", "-o", "name")).stdout
    assert out.split() == ["synctarget.workload.kcp.io/guilder"]
