"""kcp APIs on the embedded server: exports, bindings, virtual workspaces and TMC side effects.

Upstream behaviour: kcp v0.11.0 (kcp-facts.md sections 4, 5, 6 and gotchas 11 and 13).
"""

from __future__ import annotations

import yaml
from kcphttp import Http, create_workspace, wait_until

from edgemc.embedded.apiserver.kcp import KcpServer

APIS = "/apis/apis.kcp.io/v1alpha1"
WIDGETS = "/apis/demo.io/v1/widgets"


def schema(prefix: str = "v1") -> dict:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIResourceSchema",
        "metadata": {"name": f"{prefix}.widgets.demo.io"},
        "spec": {
            "group": "demo.io",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
            },
            "scope": "Cluster",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                        },
                    },
                }
            ],
        },
    }


def widget(name: str) -> dict:
    return {"apiVersion": "demo.io/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {}}


def binding(name: str, path: str, export: str) -> dict:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


async def publish(admin: Http) -> tuple[str, str]:
    """An export `demo.io` in root:espw; returns (espw cluster name, VW URL path)."""
    espw = await create_workspace(admin, "root", "espw")
    await admin.ok("POST", f"/clusters/root:espw{APIS}/apiresourceschemas", schema())
    await admin.ok(
        "POST",
        f"/clusters/root:espw{APIS}/apiexports",
        {
            "apiVersion": "apis.kcp.io/v1alpha1",
            "kind": "APIExport",
            "metadata": {"name": "demo.io"},
            "spec": {"latestResourceSchemas": ["v1.widgets.demo.io"]},
        },
    )

    async def url() -> str | None:
        export = await admin.ok("GET", f"/clusters/root:espw{APIS}/apiexports/demo.io")
        vws = export.get("status", {}).get("virtualWorkspaces")
        return vws[0]["url"] if vws else None

    full = await wait_until(url)
    return espw["spec"]["cluster"], full.split("://", 1)[1].split("/", 1)[1]


async def bind(admin: Http, path: str) -> str:
    ws = await create_workspace(admin, "root:org", path.rsplit(":", 1)[1])
    await admin.ok(
        "POST", f"/clusters/{path}{APIS}/apibindings", binding("bind-demo", "root:espw", "demo.io")
    )

    async def bound() -> bool:
        got = await admin.ok("GET", f"/clusters/{path}{APIS}/apibindings/bind-demo")
        return got.get("status", {}).get("phase") == "Bound"

    await wait_until(bound)
    return ws["spec"]["cluster"]


async def test_binding_serves_export_and_discovery_changes(admin: Http):
    espw_cluster, _ = await publish(admin)
    await create_workspace(admin, "root", "org")
    ws = await create_workspace(admin, "root:org", "a")
    status, _ = await admin.get("/clusters/root:org:a/apis/demo.io/v1")
    assert status == 404
    await admin.ok(
        "POST",
        f"/clusters/root:org:a{APIS}/apibindings",
        binding("bind-demo", "root:espw", "demo.io"),
    )

    async def served() -> bool:
        status, _ = await admin.get("/clusters/root:org:a/apis/demo.io/v1")
        return status == 200

    await wait_until(served)
    got = await admin.ok("GET", f"/clusters/root:org:a{APIS}/apibindings/bind-demo")
    assert got["status"]["apiExportClusterName"] == espw_cluster
    assert got["status"]["boundResources"][0]["resource"] == "widgets"
    assert got["status"]["conditions"][0]["type"] == "Ready"
    groups = await admin.ok("GET", "/clusters/root:org:a/apis")
    assert "demo.io" in [g["name"] for g in groups["groups"]]
    assert ws["spec"]["cluster"]


async def test_virtual_workspace_sees_only_binding_workspaces(admin: Http):
    _, vw = await publish(admin)
    await create_workspace(admin, "root", "org")
    a = await bind(admin, "root:org:a")
    b = await bind(admin, "root:org:b")
    await create_workspace(admin, "root:org", "c")
    await admin.ok("POST", f"/clusters/root:org:a{WIDGETS}", widget("wa"))
    await admin.ok("POST", f"/clusters/root:org:b{WIDGETS}", widget("wb"))
    # The export's own workspace has a local CRD-free view: nothing there is in the VW.
    listed = await admin.ok("GET", f"/{vw}/clusters/*{WIDGETS}")
    seen = {
        (i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"])
        for i in listed["items"]
    }
    assert seen == {(a, "wa"), (b, "wb")}
    status, _ = await admin.get(f"/{vw}/clusters/*/api/v1/namespaces")
    assert status == 404
    created = await admin.ok("POST", f"/{vw}/clusters/{a}{WIDGETS}", widget("via-vw"))
    assert created["metadata"]["annotations"]["kcp.io/cluster"] == a
    status, _ = await admin.post(f"/{vw}/clusters/*{WIDGETS}", widget("nope"))
    assert status == 405


async def test_virtual_workspace_watch_orders_and_resumes(admin: Http, kcp: KcpServer):
    _, vw = await publish(admin)
    await create_workspace(admin, "root", "org")
    await bind(admin, "root:org:a")
    await bind(admin, "root:org:b")
    start = await admin.ok("GET", f"/{vw}/clusters/*{WIDGETS}")
    rv = start["metadata"]["resourceVersion"]
    for i, ws in enumerate(["a", "b", "a", "b"]):
        await admin.ok("POST", f"/clusters/root:org:{ws}{WIDGETS}", widget(f"w{i}"))
    events = await admin.watch(
        f"/{vw}/clusters/*{WIDGETS}?watch=1&resourceVersion={rv}", lambda evs: len(evs) == 4
    )
    revs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert revs == sorted(revs)
    assert [e["object"]["metadata"]["name"] for e in events] == ["w0", "w1", "w2", "w3"]
    kcp.compact()
    gone = await admin.watch(
        f"/{vw}/clusters/*{WIDGETS}?watch=1&resourceVersion={rv}", lambda evs: len(evs) == 1
    )
    assert gone[0]["type"] == "ERROR" and gone[0]["object"]["code"] == 410


async def test_11_first_synctarget_brings_default_location_once(admin: Http, kcp: KcpServer):
    await create_workspace(admin, "root", "imw")
    st = {
        "apiVersion": "workload.kcp.io/v1alpha1",
        "kind": "SyncTarget",
        "metadata": {"name": "florin", "labels": {"id": "florin"}},
    }
    created = await admin.ok(
        "POST", "/clusters/root:imw/apis/workload.kcp.io/v1alpha1/synctargets", st
    )
    assert created["metadata"]["labels"]["internal.workload.kcp.io/key"]
    loc_path = "/clusters/root:imw/apis/scheduling.kcp.io/v1alpha1/locations/default"

    async def has_default() -> bool:
        status, _ = await admin.get(loc_path)
        return status == 200

    await wait_until(has_default)
    await admin.ok("GET", f"/clusters/root:imw{APIS}/apiexports/kubernetes")
    await admin.ok("GET", f"/clusters/root:imw{APIS}/apibindings/kubernetes")

    async def counted() -> bool:
        loc = await admin.ok("GET", loc_path)
        return loc.get("status", {}).get("instances") == 1

    await wait_until(counted)
    await admin.ok("DELETE", loc_path)
    st2 = {**st, "metadata": {"name": "guilder", "labels": {"id": "guilder"}}}
    await admin.ok("POST", "/clusters/root:imw/apis/workload.kcp.io/v1alpha1/synctargets", st2)
    await kcp.wait_idle()  # the server's reconcilers have handled the second SyncTarget
    status, _ = await admin.get(loc_path)
    assert status == 404


async def test_13_bound_resource_wins_over_local_crd_and_stores_apart(admin: Http):
    await publish(admin)
    await create_workspace(admin, "root", "org")
    await bind(admin, "root:org:a")
    await admin.ok("POST", "/clusters/root:org:a/apis/demo.io/v1/widgets", widget("bound-one"))
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.demo.io"},
        "spec": {
            "group": "demo.io",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "scope": "Cluster",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    await admin.ok(
        "POST", "/clusters/root:org:a/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
    )
    listed = await admin.ok("GET", "/clusters/root:org:a/apis/demo.io/v1/widgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["bound-one"]


async def test_unbinding_removes_resources_from_discovery(admin: Http):
    await publish(admin)
    await create_workspace(admin, "root", "org")
    await bind(admin, "root:org:a")
    await admin.ok("GET", "/clusters/root:org:a/apis/demo.io/v1")
    await admin.ok("DELETE", f"/clusters/root:org:a{APIS}/apibindings/bind-demo")

    async def gone() -> bool:
        status, _ = await admin.get("/clusters/root:org:a/apis/demo.io/v1")
        return status == 404

    await wait_until(gone)


async def test_workspace_deletion_removes_its_logical_cluster(admin: Http, kcp: KcpServer):
    await create_workspace(admin, "root", "org")
    child = await create_workspace(admin, "root:org", "doomed")
    name = child["spec"]["cluster"]
    await admin.ok(
        "POST",
        "/clusters/root:org:doomed/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    )
    await admin.ok("DELETE", "/clusters/root:org/apis/tenancy.kcp.io/v1alpha1/workspaces/doomed")

    async def removed() -> bool:
        status, _ = await admin.get(
            "/clusters/root:org/apis/tenancy.kcp.io/v1alpha1/workspaces/doomed"
        )
        return status == 404

    await wait_until(removed)
    assert not kcp.store.resources_in(name)


async def test_admin_kubeconfig_is_laid_out_like_kcp_start(kcp: KcpServer, tmp_path):
    config = yaml.safe_load(kcp.write_kubeconfig(tmp_path / "admin.kubeconfig").read_text())
    assert [c["name"] for c in config["clusters"]] == ["root", "base"]
    assert config["clusters"][0]["cluster"]["server"].endswith("/clusters/root")
    assert [u["name"] for u in config["users"]] == ["kcp-admin", "shard-admin"]
    contexts = {c["name"]: c["context"] for c in config["contexts"]}
    assert contexts["system:admin"] == {"cluster": "base", "user": "shard-admin"}
    assert contexts["root"] == {"cluster": "root", "user": "kcp-admin"}
    assert config["current-context"] == "root"
