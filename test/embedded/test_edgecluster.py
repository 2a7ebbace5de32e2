"""A simulated kind cluster through the real kubectl: fresh look, Deployments, node failure,
restart on the same data directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubectl_runner import Kubectl
from polling import wait_for
from simhelpers import kubectl_json, table

from edgemc.embedded.edgecluster import EdgeCluster
from edgemc.embedded.nodesim.kinds import SERVICE_ACCOUNTS
from edgemc.runtime import Client, ClusterConfig, Forbidden, Unauthorized

NGINX = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: {image}
"""


def web(replicas: int = 1, image: str = "nginx:1.25") -> str:
    return NGINX.format(replicas=replicas, image=image)


async def ready_column(k: Kubectl, ns: str, name: str, want: str) -> str | None:
    """The READY column of `kubectl get deploy` once it reads `want` (else None)."""
    rows = table((await k.arun("get", "deploy", "-n", ns, name, check=False)).stdout)
    if len(rows) == 2 and rows[1][1] == want:
        return rows[1][1]
    return None


async def web_pods(k: Kubectl) -> list[dict[str, Any]]:
    return (await kubectl_json(k, "get", "pods", "-n", "default", "-l", "app=web"))["items"]


async def test_fresh_cluster_looks_like_kind(
    cluster: EdgeCluster, kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    await cluster.wait_for_system_pods(within=10)
    k = kubectl(cluster)
    rows = table((await k.arun("get", "ns")).stdout)
    assert rows[0] == ["NAME", "STATUS", "AGE"]
    assert {r[0] for r in rows[1:]} == {
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
        "local-path-storage",
    }
    assert all(r[1] == "Active" for r in rows[1:])

    async def system_ready() -> list[list[str]] | None:
        rows = table((await k.arun("get", "deploy", "-A")).stdout)
        found = {(r[0], r[1]): r[2:5] for r in rows[1:]}
        want = {
            ("kube-system", "coredns"): ["2/2", "2", "2"],
            ("local-path-storage", "local-path-provisioner"): ["1/1", "1", "1"],
        }
        return rows if found == want else None

    rows = await wait_for(system_ready, what="kind's system deployments ready")
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    nodes = await kubectl_json(k, "get", "nodes")
    (node,) = nodes["items"]
    assert node["metadata"]["name"] == "florin-control-plane"
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"
    config = (await k.arun("config", "current-context")).stdout.strip()
    assert config == "kind-florin"


async def test_deployment_ready_scale_update_delete(
    cluster: EdgeCluster, kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    k = kubectl(cluster)
    await k.arun("apply", "-f", "-", input=web(1))
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web 1/1")
    deploy = await kubectl_json(k, "get", "deploy", "-n", "default", "web")
    status = deploy["status"]
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 1
    assert status["updatedReplicas"] == 1
    assert status["observedGeneration"] == deploy["metadata"]["generation"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"

    (rs,) = (await kubectl_json(k, "get", "rs", "-n", "default"))["items"]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == deploy["metadata"]["uid"]
    (pod,) = await web_pods(k)
    assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert pod["metadata"]["name"].startswith(f"web-{pod_hash}-")
    assert pod["spec"]["nodeName"] == "florin-control-plane"
    assert pod["status"]["phase"] == "Running"
    rows = table((await k.arun("get", "pods", "-n", "default")).stdout)
    assert rows[1][1:3] == ["1/1", "Running"]

    # Scale up, then down (by patch: the server does not serve the /scale subresource).
    await k.arun("patch", "deploy/web", "-n", "default", "-p", '{"spec":{"replicas":3}}')
    await wait_for(lambda: ready_column(k, "default", "web", "3/3"), what="web 3/3")
    assert len(await web_pods(k)) == 3
    await k.arun("patch", "deploy/web", "-n", "default", "-p", '{"spec":{"replicas":1}}')
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web back to 1/1")

    async def one_pod() -> list[dict[str, Any]] | None:
        pods = await web_pods(k)
        return pods if len(pods) == 1 else None

    await wait_for(one_pod, what="scale-down to one pod")

    # A template change rolls out a new ReplicaSet; the old one is scaled to zero.
    await k.arun("set", "image", "deploy/web", "-n", "default", "web=nginx:1.26")

    async def rolled_out() -> list[dict[str, Any]] | None:
        rss = (await kubectl_json(k, "get", "rs", "-n", "default"))["items"]
        by_image = {
            r["spec"]["template"]["spec"]["containers"][0]["image"]: r["spec"]["replicas"]
            for r in rss
        }
        pods = await web_pods(k)
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        if by_image == {"nginx:1.25": 0, "nginx:1.26": 1} and images == {"nginx:1.26"}:
            return rss
        return None

    rss = await wait_for(rolled_out, what="rollout of nginx:1.26")
    revisions = sorted(
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rss
    )
    assert revisions == ["1", "2"]
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web 1/1 after rollout")

    # Deleting the Deployment removes its ReplicaSets and pods (server-side GC).
    await k.arun("delete", "deploy", "web", "-n", "default")

    async def all_gone() -> bool:
        rss = (await kubectl_json(k, "get", "rs", "-n", "default"))["items"]
        return not rss and not await web_pods(k)

    await wait_for(all_gone, what="ReplicaSets and pods of a deleted Deployment gone")


async def test_node_stops_reporting_and_resumes(
    cluster: EdgeCluster, kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    k = kubectl(cluster)
    assert cluster.node is not None
    await k.arun("apply", "-f", "-", input=web(1))
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web 1/1")

    cluster.node.stop_reporting()
    # The node lifecycle controller notices the expired Lease: node and pods not ready.
    await wait_for(lambda: ready_column(k, "default", "web", "0/1"), what="web 0/1 (node lost)")
    node = await kubectl_json(k, "get", "node", "florin-control-plane")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
    assert ready["reason"] == "NodeStatusUnknown"
    # A new Deployment gets its pod, but nobody reports it running.
    late = web(1).replace("web", "late")
    await k.arun("apply", "-f", "-", input=late)

    async def late_pod_pending() -> dict[str, Any] | None:
        pods = (await kubectl_json(k, "get", "pods", "-n", "default", "-l", "app=late"))["items"]
        if len(pods) == 1 and pods[0]["spec"].get("nodeName"):
            return pods[0]
        return None

    pod = await wait_for(late_pod_pending, what="the new pod bound to the node")
    assert pod.get("status", {}).get("phase", "Pending") == "Pending"
    assert (await ready_column(k, "default", "late", "0/1")) == "0/1"

    cluster.node.resume_reporting()
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web 1/1 again")
    await wait_for(lambda: ready_column(k, "default", "late", "1/1"), what="late 1/1")

    async def node_ready() -> bool:
        node = await kubectl_json(k, "get", "node", "florin-control-plane")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return ready["status"] == "True"

    await wait_for(node_ready, what="the node Ready again")


async def test_restart_on_the_same_data_dir_keeps_state(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    cluster = make_cluster("guilder")
    await cluster.start()
    k = kubectl(cluster)
    await k.arun("apply", "-f", "-", input=web(2))
    await wait_for(lambda: ready_column(k, "default", "web", "2/2"), what="web 2/2")
    pods_before = {p["metadata"]["name"] for p in await web_pods(k)}
    url = cluster.url

    await cluster.stop()
    await cluster.start()
    assert cluster.url == url  # same port, same CA, same token: the old kubeconfig works
    await wait_for(lambda: ready_column(k, "default", "web", "2/2"), what="web 2/2 after restart")
    assert {p["metadata"]["name"] for p in await web_pods(k)} == pods_before
    rows = table((await k.arun("get", "deploy", "-A")).stdout)
    assert {(r[0], r[1]) for r in rows[1:]} == {
        ("default", "web"),
        ("kube-system", "coredns"),
        ("local-path-storage", "local-path-provisioner"),
    }
    # The node keeps working after the restart.
    await k.arun("patch", "deploy/web", "-n", "default", "-p", '{"spec":{"replicas":1}}')
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web 1/1")


async def test_server_outage_while_the_node_keeps_running(
    cluster: EdgeCluster, kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    k = kubectl(cluster)
    await cluster.stop_server()
    await cluster.start_server()
    await k.arun("apply", "-f", "-", input=web(1))
    await wait_for(lambda: ready_column(k, "default", "web", "1/1"), what="web 1/1 after outage")


async def test_service_account_tokens(cluster: EdgeCluster) -> None:
    admin = Client(cluster.client_config())
    try:
        account = await admin.get(SERVICE_ACCOUNTS, "default", "default")
        token = cluster.mint_token("default", "default", account["metadata"]["uid"])
        config = ClusterConfig.for_server(cluster.url, token)
        config.ssl = cluster.client_ssl()
        async with Client(config) as pod:
            # Authenticated (403 from RBAC, not 401): the account has no rights of its own.
            with pytest.raises(Forbidden):
                await pod.get(SERVICE_ACCOUNTS, "default", "default")
            forged = ClusterConfig.for_server(cluster.url, token[:-4] + "AAAA")
            forged.ssl = cluster.client_ssl()
            async with Client(forged) as bad:
                with pytest.raises(Unauthorized):
                    await bad.get(SERVICE_ACCOUNTS, "default", "default")
            # A token is valid only while its ServiceAccount exists.
            await admin.delete(SERVICE_ACCOUNTS, "default", "default")
            with pytest.raises(Unauthorized):
                await pod.get(SERVICE_ACCOUNTS, "default", "default")
    finally:
        await admin.close()


async def test_in_memory_cluster(make_cluster: Callable[..., EdgeCluster]) -> None:
    cluster = make_cluster("gouda", data_dir=None)
    await cluster.start()
    await cluster.wait_for_system_pods(within=10)
    assert cluster.kubeconfig()["current-context"] == "kind-gouda"
    assert cluster.node is not None and cluster.node.node_name == "gouda-control-plane"
    await cluster.stop()
    assert cluster.server is None and cluster.node is None
