"""RBAC over HTTP on the kcp-mode server: ServiceAccount tokens against Roles and bindings.

The module's `kcp` fixture turns RBAC on; conftest's `admin` (kcp-admin) and `shard`
(system:masters) clients use it and are never checked.
"""

from __future__ import annotations

import base64
from typing import Any

from kcphttp import Http, bind_kube, create_workspace, wait_until

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def role(kind: str, name: str, rules: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "rules": rules,
    }


def binding(kind: str, name: str, role_kind: str, sa: tuple[str, str], ns: str = "") -> dict:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "namespace": sa[0], "name": sa[1]}],
    }


async def ensure_namespace(admin: Http, ws: str, ns: str) -> None:
    status, _ = await admin.post(
        f"/clusters/{ws}/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
    )
    assert status in (201, 409)


async def service_account_token(admin: Http, ws: str, ns: str, name: str) -> str:
    """Create ServiceAccount ns/name in `ws` and return its (auto-generated) token."""
    await ensure_namespace(admin, ws, ns)
    base = f"/clusters/{ws}/api/v1/namespaces/{ns}"
    status, _ = await admin.post(
        f"{base}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
    )
    assert status in (201, 409)

    async def token() -> str | None:
        sa = await admin.ok("GET", f"{base}/serviceaccounts/{name}")
        if not sa.get("secrets"):
            return None
        secret = await admin.ok("GET", f"{base}/secrets/{sa['secrets'][0]['name']}")
        data = secret.get("data", {}).get("token")
        return base64.b64decode(data).decode() if data else None

    return await wait_until(token)


async def compute_workspace(admin: Http, name: str) -> str:
    """A workspace under root:org with the kubernetes export bound (pods, deployments)."""
    status, _ = await admin.get("/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/org")
    if status == 404:
        await create_workspace(admin, "root", "org")
    await create_workspace(admin, "root:org", name)
    ws = f"root:org:{name}"
    await bind_kube(admin, ws)
    return ws


async def test_role_in_one_namespace_grants_only_there(admin: Http) -> None:
    ws = await compute_workspace(admin, "wl")
    for ns in ("a", "b"):
        await ensure_namespace(admin, ws, ns)
        await admin.ok("POST", f"/clusters/{ws}{pods(ns)}", pod(f"p-{ns}"))
    token = await service_account_token(admin, ws, "a", "reader")
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    await admin.ok(
        "POST", f"/clusters/{ws}{RBAC}/namespaces/a/roles", role("Role", "r", rules, "a")
    )
    await admin.ok(
        "POST",
        f"/clusters/{ws}{RBAC}/namespaces/a/rolebindings",
        binding("RoleBinding", "r", "Role", ("a", "reader"), "a"),
    )
    sa = admin.as_token(token)
    listed = await sa.ok("GET", f"/clusters/{ws}{pods('a')}")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["p-a"]
    # The bare URL is routed by the token's cluster claim and authorized the same way.
    assert (await sa.ok("GET", f"{pods('a')}/p-a"))["metadata"]["name"] == "p-a"
    status, body = await sa.get(f"/clusters/{ws}{pods('b')}")
    assert status == 403
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:a:reader" cannot list resource "pods" '
        'in API group "" in the namespace "b"'
    )
    status, body = await sa.get(f"/clusters/{ws}/api/v1/namespaces/a/secrets")
    assert status == 403 and 'cannot list resource "secrets"' in body["message"]
    status, body = await sa.post(f"/clusters/{ws}{pods('a')}", pod("new"))
    assert status == 403 and 'cannot create resource "pods"' in body["message"]
    status, body = await sa.request("DELETE", f"/clusters/{ws}{pods('a')}/p-a")
    assert status == 403 and body["message"].startswith('pods "p-a" is forbidden')
    assert body["details"] == {"name": "p-a", "kind": "pods"}
    status, _ = await sa.get(f"/clusters/{ws}/api/v1/pods")  # all namespaces = cluster scope
    assert status == 403
    # Discovery stays open (system:discovery), nothing was changed by the refused writes.
    assert (await sa.ok("GET", f"/clusters/{ws}/api/v1"))["kind"] == "APIResourceList"
    assert (await sa.ok("GET", f"/clusters/{ws}/apis"))["kind"] == "APIGroupList"
    await sa.ok("GET", f"/clusters/{ws}/version")
    still = await admin.ok("GET", f"/clusters/{ws}{pods('a')}")
    assert [i["metadata"]["name"] for i in still["items"]] == ["p-a"]
    # Watches are authorized too.
    events = await sa.watch(f"/clusters/{ws}{pods('a')}?watch=true", lambda e: len(e) >= 1)
    assert events[0]["object"]["metadata"]["name"] == "p-a"
    status, _ = await sa.get(f"/clusters/{ws}{pods('b')}?watch=true")
    assert status == 403
    # Removing the binding takes the rights away at once.
    await admin.ok("DELETE", f"/clusters/{ws}{RBAC}/namespaces/a/rolebindings/r")
    status, _ = await sa.get(f"/clusters/{ws}{pods('a')}")
    assert status == 403


async def test_cluster_role_binding_grants_cluster_wide(admin: Http) -> None:
    ws = await compute_workspace(admin, "wl")
    await ensure_namespace(admin, ws, "b")
    token = await service_account_token(admin, ws, "default", "ops")
    sa = admin.as_token(token)
    status, _ = await sa.get(f"/clusters/{ws}/api/v1/pods")
    assert status == 403
    rules = [{"apiGroups": ["*"], "resources": ["pods", "namespaces"], "verbs": ["*"]}]
    await admin.ok("POST", f"/clusters/{ws}{RBAC}/clusterroles", role("ClusterRole", "ops", rules))
    await admin.ok(
        "POST",
        f"/clusters/{ws}{RBAC}/clusterrolebindings",
        binding("ClusterRoleBinding", "ops", "ClusterRole", ("default", "ops")),
    )
    await sa.ok("POST", f"/clusters/{ws}{pods('b')}", pod("x"))
    await sa.ok("POST", f"/clusters/{ws}{pods('default')}", pod("y"))
    listed = await sa.ok("GET", f"/clusters/{ws}/api/v1/pods")
    assert {i["metadata"]["name"] for i in listed["items"]} == {"x", "y"}
    await sa.ok("GET", f"/clusters/{ws}/api/v1/namespaces")
    status, _ = await sa.get(f"/clusters/{ws}/api/v1/namespaces/b/configmaps")
    assert status == 403


async def test_resource_names_restrict_get_and_deny_list(admin: Http) -> None:
    ws = await compute_workspace(admin, "wl")
    for name in ("allowed", "other"):
        await admin.ok("POST", f"/clusters/{ws}{pods('default')}", pod(name))
    token = await service_account_token(admin, ws, "default", "narrow")
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["allowed"], "verbs": ["*"]}
    ]
    await admin.ok(
        "POST",
        f"/clusters/{ws}{RBAC}/namespaces/default/roles",
        role("Role", "narrow", rules, "default"),
    )
    await admin.ok(
        "POST",
        f"/clusters/{ws}{RBAC}/namespaces/default/rolebindings",
        binding("RoleBinding", "narrow", "Role", ("default", "narrow"), "default"),
    )
    sa = admin.as_token(token)
    await sa.ok("GET", f"/clusters/{ws}{pods('default')}/allowed")
    status, _ = await sa.get(f"/clusters/{ws}{pods('default')}/other")
    assert status == 403
    status, _ = await sa.get(f"/clusters/{ws}{pods('default')}")
    assert status == 403
    status, _ = await sa.post(f"/clusters/{ws}{pods('default')}", pod("allowed-2"))
    assert status == 403
    status, _ = await sa.request(
        "PATCH",
        f"/clusters/{ws}{pods('default')}/allowed",
        {"metadata": {"labels": {"x": "y"}}},
        "application/merge-patch+json",
    )
    assert status == 200


async def test_status_subresource_needs_its_own_rule(admin: Http) -> None:
    ws = await compute_workspace(admin, "wl")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    path = f"/clusters/{ws}/apis/apps/v1/namespaces/default/deployments"
    await admin.ok("POST", path, deployment)
    token = await service_account_token(admin, ws, "default", "status-writer")
    rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]
    await admin.ok(
        "POST",
        f"/clusters/{ws}{RBAC}/namespaces/default/roles",
        role("Role", "sw", rules, "default"),
    )
    await admin.ok(
        "POST",
        f"/clusters/{ws}{RBAC}/namespaces/default/rolebindings",
        {**binding("RoleBinding", "sw", "Role", ("default", "status-writer"), "default")},
    )
    sa = admin.as_token(token)
    patch = {"status": {"observedGeneration": 1}}
    await sa.ok("GET", f"{path}/d")
    status, body = await sa.request(
        "PATCH", f"{path}/d/status", patch, "application/merge-patch+json"
    )
    assert status == 403
    assert body["message"] == (
        'deployments.apps "d" is forbidden: User "system:serviceaccount:default:status-writer" '
        'cannot patch resource "deployments/status" in API group "apps" in the namespace "default"'
    )
    rules.append({"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["patch"]})
    current = await admin.ok("GET", f"/clusters/{ws}{RBAC}/namespaces/default/roles/sw")
    await admin.ok(
        "PUT", f"/clusters/{ws}{RBAC}/namespaces/default/roles/sw", {**current, "rules": rules}
    )
    status, body = await sa.request(
        "PATCH", f"{path}/d/status", patch, "application/merge-patch+json"
    )
    assert status == 200, body


async def test_token_of_one_workspace_is_refused_in_another(admin: Http) -> None:
    await create_workspace(admin, "root", "x")
    await create_workspace(admin, "root", "y")
    token = await service_account_token(admin, "root:x", "default", "everything")
    # Even a binding in Y naming the same ServiceAccount name gives a foreign token nothing.
    for ws in ("root:x", "root:y"):
        rules = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
        await admin.ok(
            "POST", f"/clusters/{ws}{RBAC}/clusterroles", role("ClusterRole", "all", rules)
        )
        crb = binding("ClusterRoleBinding", "all", "ClusterRole", ("default", "everything"))
        await admin.ok("POST", f"/clusters/{ws}{RBAC}/clusterrolebindings", crb)
    sa = admin.as_token(token)
    await sa.ok("GET", "/clusters/root:x/api/v1/namespaces/default/configmaps")
    for path in (
        "/clusters/root:y/api/v1/namespaces/default/configmaps",
        "/clusters/root:y/api",
        "/clusters/root/api/v1/namespaces",
        "/clusters/*/api/v1/configmaps",
    ):
        status, body = await sa.get(path)
        assert status == 403, path
        assert body["reason"] == "Forbidden"
    status, _ = await sa.post(
        "/clusters/root:y/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planted"}},
    )
    assert status == 403
    status, _ = await admin.get("/clusters/root:y/api/v1/namespaces/default/configmaps/planted")
    assert status == 404
    # Through an APIExport virtual workspace (export in root) the token has no content rights.
    export = await admin.ok(
        "GET", "/clusters/root/apis/apis.kcp.io/v1alpha1/apiexports/tenancy.kcp.io"
    )
    vw = export["status"]["virtualWorkspaces"][0]["url"].removeprefix(admin.base)
    status, _ = await sa.get(f"{vw}/clusters/*/apis/tenancy.kcp.io/v1alpha1/workspaces")
    assert status == 403


async def test_revoked_token_and_anonymous_get_401(admin: Http) -> None:
    await create_workspace(admin, "root", "x")
    token = await service_account_token(admin, "root:x", "default", "short-lived")
    sa = admin.as_token(token)
    await sa.ok("GET", "/clusters/root:x/api")
    base = "/clusters/root:x/api/v1/namespaces/default"
    account = await admin.ok("GET", f"{base}/serviceaccounts/short-lived")
    await admin.ok("DELETE", f"{base}/secrets/{account['secrets'][0]['name']}")
    status, body = await sa.get("/clusters/root:x/api")
    assert status == 401 and body["reason"] == "Unauthorized"
    anonymous = admin.as_token("")
    status, _ = await anonymous.get("/clusters/root:x/api/v1/namespaces")
    assert status == 401
    # Health and version stay public, as upstream's system:public-info-viewer.
    status, _ = await anonymous.get("/version")
    assert status == 200
    # ... to requests without credentials: a token that fails authentication is refused.
    status, body = await admin.as_token("not-a-token").get("/version")
    assert status == 401 and body["reason"] == "Unauthorized"


async def test_admins_bypass_rbac(admin: Http, shard: Http) -> None:
    await create_workspace(admin, "root", "x")
    await admin.ok("GET", "/clusters/root:x/api/v1/namespaces/default/secrets")
    await shard.ok("GET", "/clusters/*/api/v1/configmaps")
    await shard.ok("GET", "/api/v1/namespaces")  # the system:admin cluster
