"""The kcp v0.11 behaviours an emulator most often gets wrong (kcp-facts.md section 12).

One test per gotcha, each against the embedded server in kcp mode over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64

from kcphttp import WS, Http, bind_kube, create_workspace, wait_until


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


CM = "/api/v1/namespaces/default/configmaps"


async def test_1_one_resource_version_sequence_for_all_clusters(admin: Http):
    await create_workspace(admin, "root", "a")
    await create_workspace(admin, "root", "b")
    revs = []
    for i, ws in enumerate(["root:a", "root:b", "root:a", "root:b"]):
        obj = await admin.ok("POST", f"/clusters/{ws}{CM}", configmap(f"cm{i}"))
        revs.append(int(obj["metadata"]["resourceVersion"]))
    assert revs == sorted(revs) and len(set(revs)) == 4
    quiet = await admin.ok("GET", "/clusters/root:a/api/v1/namespaces/default/limitranges")
    assert int(quiet["metadata"]["resourceVersion"]) >= revs[-1]


async def test_2_cluster_annotation_on_every_object_is_the_name(admin: Http):
    ws = await create_workspace(admin, "root", "org")
    name = ws["spec"]["cluster"]
    obj = await admin.ok("POST", f"/clusters/root:org{CM}", configmap("x"))
    assert obj["metadata"]["annotations"]["kcp.io/cluster"] == name
    listed = await admin.ok("GET", f"/clusters/root:org{CM}")
    assert all(i["metadata"]["annotations"]["kcp.io/cluster"] == name for i in listed["items"])
    bad = configmap("y")
    bad["metadata"]["annotations"] = {"kcp.io/cluster": "root:org"}
    obj = await admin.ok("POST", f"/clusters/root:org{CM}", bad)
    assert obj["metadata"]["annotations"]["kcp.io/cluster"] == name


async def test_3_paths_resolve_through_workspaces_but_urls_use_names(admin: Http, kcp):
    org = await create_workspace(admin, "root", "org")
    child = await create_workspace(admin, "root:org", "team")
    name = child["spec"]["cluster"]
    assert len(name) == 16 and name != "team"
    assert child["spec"]["URL"] == f"{kcp.url}/clusters/{name}"
    by_path = await admin.ok(
        "GET", "/clusters/root:org:team/apis/core.kcp.io/v1alpha1/logicalclusters/cluster"
    )
    by_name = await admin.ok(
        "GET", f"/clusters/{name}/apis/core.kcp.io/v1alpha1/logicalclusters/cluster"
    )
    assert by_path["metadata"]["uid"] == by_name["metadata"]["uid"]
    assert by_path["metadata"]["annotations"]["kcp.io/path"] == "root:org:team"
    # A path may also start from a hash name.
    via_hash = (
        f"/clusters/{org['spec']['cluster']}:team/apis/core.kcp.io/v1alpha1/logicalclusters/cluster"
    )
    assert (await admin.ok("GET", via_hash))["metadata"]["uid"] == by_name["metadata"]["uid"]
    status, body = await admin.get("/clusters/Not_Valid/api/v1/namespaces")
    assert status == 400 and "does not match the regex" in body["message"]


async def test_4_wildcard_is_list_watch_only_for_masters_and_not_for_bound_resources(
    admin: Http, shard: Http
):
    await create_workspace(admin, "root", "org")
    await admin.ok("POST", f"/clusters/root:org{CM}", configmap("x"))
    listed = await shard.ok("GET", "/clusters/*/api/v1/configmaps")
    clusters = {i["metadata"]["annotations"]["kcp.io/cluster"] for i in listed["items"]}
    assert len(clusters) >= 2
    status, _ = await shard.post("/clusters/*/api/v1/namespaces/default/configmaps", configmap("z"))
    assert status == 405
    status, _ = await admin.get("/clusters/*/api/v1/configmaps")
    assert status == 403
    status, _ = await shard.get("/clusters/*/apis/workload.kcp.io/v1alpha1/synctargets")
    assert status == 404


def deployment(name: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }


async def test_4_wildcard_of_a_bound_resource_names_its_identity(admin: Http, shard: Http):
    await create_workspace(admin, "root", "a")
    await create_workspace(admin, "root", "b")
    identity = await bind_kube(admin, "root:a")
    assert await bind_kube(admin, "root:b") == identity
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    await admin.ok("POST", f"/clusters/root:a{deployments}", deployment("one"))
    await admin.ok("POST", f"/clusters/root:b{deployments}", deployment("two"))
    path = f"/clusters/*/apis/apps/v1/deployments:{identity}"
    listed = await shard.ok("GET", path)
    assert listed["kind"] == "DeploymentList"
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["one", "two"]
    rv = listed["metadata"]["resourceVersion"]
    for wrong in ("/clusters/*/apis/apps/v1/deployments", f"{path[:-4]}0000", f"{path}/one"):
        status, _ = await shard.get(wrong)
        assert status == 404, wrong
    status, _ = await shard.post(f"/clusters/*{deployments}:{identity}", deployment("x"))
    assert status in (404, 405)
    status, _ = await admin.get(path)
    assert status == 403

    async def later() -> None:
        await admin.ok("POST", f"/clusters/root:b{deployments}", deployment("three"))

    task = asyncio.create_task(later())
    events = await shard.watch(
        f"{path}?watch=1&resourceVersion={rv}",
        lambda evs: any(e["object"]["metadata"]["name"] == "three" for e in evs),
    )
    await task
    assert [e["type"] for e in events] == ["ADDED"]


async def test_5_service_account_token_rewrites_bare_paths(admin: Http, kcp):
    ws = await create_workspace(admin, "root", "org")

    async def token() -> str | None:
        sa = await admin.ok(
            "GET", "/clusters/root:org/api/v1/namespaces/default/serviceaccounts/default"
        )
        if not sa.get("secrets"):
            return None
        secret = await admin.ok(
            "GET",
            f"/clusters/root:org/api/v1/namespaces/default/secrets/{sa['secrets'][0]['name']}",
        )
        return base64.b64decode(secret["data"]["token"]).decode()

    sa_token = await wait_until(token)
    await admin.ok("POST", f"/clusters/root:org{CM}", configmap("mine"))
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    await admin.ok(
        "POST",
        f"/clusters/root:org{rbac}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-cm"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    )
    await admin.ok(
        "POST",
        f"/clusters/root:org{rbac}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "read-cm"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-cm"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
        },
    )
    sa = admin.as_token(sa_token)
    listed = await sa.ok("GET", CM)
    assert "mine" in [i["metadata"]["name"] for i in listed["items"]]
    assert listed["items"][0]["metadata"]["annotations"]["kcp.io/cluster"] == ws["spec"]["cluster"]
    await create_workspace(admin, "root", "other")
    status, _ = await sa.get(f"/clusters/root:other{CM}")
    assert status == 403


async def test_6_workspace_type_defaults_follow_the_parent(admin: Http):
    org = await create_workspace(admin, "root", "org")
    assert org["spec"]["type"] == {"name": "organization", "path": "root"}
    child = await create_workspace(admin, "root:org", "leaf")
    assert child["spec"]["type"] == {"name": "universal", "path": "root"}
    status, body = await admin.post(
        f"/clusters/root:org:leaf{WS}",
        {"apiVersion": "tenancy.kcp.io/v1alpha1", "kind": "Workspace", "metadata": {"name": "x"}},
    )
    assert status == 403, body


async def test_7_readiness_is_staged_and_asynchronous(admin: Http):
    created = await admin.ok(
        "POST",
        f"/clusters/root{WS}",
        {"apiVersion": "tenancy.kcp.io/v1alpha1", "kind": "Workspace", "metadata": {"name": "s"}},
    )
    assert created["status"]["phase"] == "Scheduling"
    assert "cluster" not in created.get("spec", {})
    rv = created["metadata"]["resourceVersion"]
    events = await admin.watch(
        f"/clusters/root{WS}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name=s",
        lambda evs: evs[-1]["object"].get("status", {}).get("phase") == "Ready",
    )
    phases = [e["object"].get("status", {}).get("phase") for e in events]
    assert phases.index("Initializing") < phases.index("Ready")
    first_init = next(e for e in events if e["object"]["status"].get("phase") == "Initializing")
    assert first_init["object"]["spec"]["cluster"]


async def test_9_workspace_url_field_and_phase_label(admin: Http):
    ws = await create_workspace(admin, "root", "org")
    assert "URL" in ws["spec"] and "url" not in ws["spec"]

    async def labelled() -> bool:
        got = await admin.ok("GET", f"/clusters/root{WS}/org")
        return got["metadata"].get("labels", {}).get("tenancy.kcp.io/phase") == "Ready"

    await wait_until(labelled)


async def test_10_default_bindings_and_compute_binding(admin: Http):
    await create_workspace(admin, "root", "org")
    await create_workspace(admin, "root:org", "wmw")
    bindings = await admin.ok("GET", "/clusters/root:org:wmw/apis/apis.kcp.io/v1alpha1/apibindings")
    exports = sorted(b["spec"]["reference"]["export"]["name"] for b in bindings["items"])
    assert exports == sorted(
        [
            "tenancy.kcp.io",
            "scheduling.kcp.io",
            "workload.kcp.io",
            "apiresource.kcp.io",
            "topology.kcp.io",
        ]
    )
    status, _ = await admin.get(
        "/clusters/root:org:wmw/apis/apps/v1/namespaces/default/deployments"
    )
    assert status == 404
    await bind_kube(admin, "root:org:wmw")


async def test_12_apiexport_identity_and_virtual_workspace_url(admin: Http, kcp):
    ws = await create_workspace(admin, "root", "espw")
    await admin.ok(
        "POST",
        "/clusters/root:espw/apis/apis.kcp.io/v1alpha1/apiexports",
        {
            "apiVersion": "apis.kcp.io/v1alpha1",
            "kind": "APIExport",
            "metadata": {"name": "demo.io"},
            "spec": {},
        },
    )

    async def ready() -> dict | None:
        export = await admin.ok(
            "GET", "/clusters/root:espw/apis/apis.kcp.io/v1alpha1/apiexports/demo.io"
        )
        conds = {c["type"]: c["status"] for c in export.get("status", {}).get("conditions", [])}
        return export if conds.get("VirtualWorkspaceURLsReady") == "True" else None

    export = await wait_until(ready)
    assert len(export["status"]["identityHash"]) == 64
    assert export["status"]["virtualWorkspaces"][0]["url"] == (
        f"{kcp.url}/services/apiexport/{ws['spec']['cluster']}/demo.io"
    )
    await admin.ok("GET", "/clusters/root:espw/api/v1/namespaces/kcp-system/secrets/demo.io")


async def test_14_namespaces_get_service_account_token_and_ca(admin: Http):
    await create_workspace(admin, "root", "org")

    async def complete() -> bool:
        sa = await admin.ok(
            "GET", "/clusters/root:org/api/v1/namespaces/default/serviceaccounts/default"
        )
        return bool(sa.get("secrets"))

    await wait_until(complete)
    secrets = await admin.ok("GET", "/clusters/root:org/api/v1/namespaces/default/secrets")
    token_secrets = [
        s for s in secrets["items"] if s["type"] == "kubernetes.io/service-account-token"
    ]
    assert token_secrets and token_secrets[0]["metadata"]["name"].startswith("default-token-")
    await admin.ok(
        "GET", "/clusters/root:org/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
    )


async def test_15_schema_served_kube_kinds_only_default_port_protocol(admin: Http):
    await create_workspace(admin, "root", "org")
    await create_workspace(admin, "root:org", "wmw")
    await bind_kube(admin, "root:org:wmw")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {
                    "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]
                },
            },
        },
    }
    path = "/clusters/root:org:wmw/apis/apps/v1/namespaces/default/deployments"

    async def created() -> dict | None:
        status, body = await admin.post(path, deployment)
        return body if status == 201 else None

    dep = await wait_until(created)
    assert "replicas" not in dep["spec"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    assert "status" not in dep or not dep["status"]


async def test_16_nested_cluster_prefix_is_not_served(admin: Http):
    status, _ = await admin.get("/clusters/root/clusters/root/api/v1/namespaces")
    assert status == 404
