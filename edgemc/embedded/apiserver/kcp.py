"""The kcp mode of the embedded server: routing, identities, bootstrap and admin.kubeconfig.

`build_kcp_server` turns an `ApiServer` into a kcp v0.11 look-alike: `/clusters/<path>` and
`/clusters/*` URLs, APIExport virtual workspaces under `/services/apiexport/...`, kcp's
system types in every workspace, `root`'s exports and the `root:compute` workspace at start,
the `kcp.io/cluster` annotation on every object, and kcp's users and ServiceAccount tokens.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from aiohttp import web

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.apis import APIBINDINGS, Apis
from edgemc.embedded.apiserver.auth import (
    CLUSTER_EXTRA,
    KCP_ADMIN,
    SHARD_ADMIN,
    ServiceAccountTokens,
    unverified_cluster,
)
from edgemc.embedded.apiserver.crds import types_from_crd
from edgemc.embedded.apiserver.kcpschemas import (
    COMPUTE_EXPORT,
    ROOT_EXPORTS,
    SYSTEM_CRDS,
    WORKSPACE_TYPES,
)
from edgemc.embedded.apiserver.objects import Operation, Scope, User
from edgemc.embedded.apiserver.reactor import wait_all_idle
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig, _load_or_create_token
from edgemc.embedded.apiserver.tenancy import (
    CLUSTER_ANNOTATION,
    DEFAULT_EXPORTS,
    LOGICALCLUSTERS,
    PATH_RE,
    ROOT,
    Tenancy,
    binding_name,
)
from edgemc.embedded.apiserver.tmc import Tmc

# Built-in kinds of kcp's generic control plane; workload kinds come from `root:compute`.
KCP_BUILTINS = {
    ("", "namespaces"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "events"),
    ("", "limitranges"),
    ("", "resourcequotas"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("coordination.k8s.io", "leases"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
}


class KcpServer(ApiServer):
    """An ApiServer serving kcp logical clusters."""

    def __init__(self, config: ServerConfig) -> None:
        config.builtin_types = tuple(
            rt for rt in config.builtin_types if (rt.group, rt.resource) in KCP_BUILTINS
        )
        super().__init__(config)
        self.kcp_admin_token = _load_or_create_token(config.data_dir, "kcp-admin")
        self.sa_tokens = ServiceAccountTokens(_load_or_create_token(config.data_dir, "sa-signing"))
        self.tenancy = Tenancy(self.store, self.service, self.registry, lambda: self.url)
        self.apis = Apis(self.store, self.service, self.registry, self.tenancy, lambda: self.url)
        self.tmc = Tmc(self.store, self.service, self.registry, self.tenancy)
        self.tenancy.initialize_cluster = self._initialize_cluster
        system_types = [rt for crd in SYSTEM_CRDS for rt in types_from_crd(crd, source="system")]
        self.registry.add_provider(lambda _cluster: system_types, index=1)
        self.registry.add_provider(self.apis.bound_types, index=2)
        self.service.mutators.insert(0, self._stamp_cluster)
        self.service.mutators.insert(1, self.tenancy.admit)
        self.service.mutators.insert(2, self.apis.admit)
        self.service.mutators.insert(3, self.tmc.admit)
        self.authenticators = [self._admin_tokens, self._service_account_token]
        self.mint_token = self._mint
        self.resolve_scope = self._kcp_scope
        self.on_start.append(self._bootstrap)

    # -- identities ----------------------------------------------------------------------

    def _admin_tokens(self, token: str) -> User | None:
        if token == self.kcp_admin_token:
            return KCP_ADMIN
        if token == self.admin_token:
            return SHARD_ADMIN
        return None

    def _mint(self, cluster: str, namespace: str, name: str, uid: str) -> str:
        return self.sa_tokens.mint(cluster, namespace, name, uid)

    def _service_account_token(self, token: str) -> User | None:
        claims = self.sa_tokens.verify(token)
        if claims is None:
            return None
        cluster = claims.get("kubernetes.io/serviceaccount/clusterName", "")
        namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
        # A token is valid while a token Secret holding it exists (deleting it revokes).
        for _, secret in self.store.list(("", "secrets", ""), cluster, namespace):
            if secret.get("type") == "kubernetes.io/service-account-token":
                data = secret.get("data", {}).get("token", "")
                if base64.b64decode(data).decode(errors="replace") == token:
                    return self.sa_tokens.user_for(claims)
        return None

    # -- routing -------------------------------------------------------------------------

    def _kcp_scope(
        self, request: web.Request, parts: list[str], user: User
    ) -> tuple[Scope, list[str]]:
        if parts[:1] == ["clusters"] and len(parts) >= 2:
            path = parts[1]
            if not PATH_RE.match(path):
                raise errors.bad_request(f'invalid cluster: "{path}" does not match the regex')
            rest = parts[2:]
            prefix = f"/clusters/{path}"
            if path == "*":
                if "system:masters" not in user.groups:
                    raise errors.forbidden(
                        f'User "{user.name}" cannot list resources in the `*` logical cluster'
                    )
                types = self.registry.types_for("*")
                scope = Scope("*", types, user, prefix, identity_types=self.apis.identity_types)
                return scope, rest
            cluster = self.tenancy.resolve(path)
            self._check_access(user, cluster)
            return Scope(cluster, self.registry.types_for(cluster), user, prefix), rest
        if parts[:2] == ["services", "apiexport"] and len(parts) >= 6 and parts[4] == "clusters":
            return self._virtual_scope(parts, user)
        if parts[:1] in (["clusters"], ["services"]):
            raise errors.resource_not_found()
        header = request.headers.get("Authorization", "")
        cluster = ""
        if header.lower().startswith("bearer ") and not request.headers.get(
            "X-Kubernetes-Sharded-Request"
        ):
            cluster = unverified_cluster(header[7:].strip())
        if not cluster:
            cluster = "system:admin"
        else:
            self._check_access(user, cluster)
        return Scope(cluster, self.registry.types_for(cluster), user), parts

    def _check_access(self, user: User, cluster: str) -> None:
        if "system:masters" in user.groups:
            return
        if not self.tenancy.cluster_exists(cluster):
            raise errors.forbidden(
                f'User "{user.name}" cannot access workspace {cluster}: LogicalCluster not found'
            )
        home = user.extra.get(CLUSTER_EXTRA)
        if home and home[0] != cluster:
            raise errors.forbidden(
                f'User "{user.name}" cannot access workspace {cluster}: foreign service account'
            )

    def _virtual_scope(self, parts: list[str], user: User) -> tuple[Scope, list[str]]:
        export_cluster, export_name, target = parts[2], parts[3], parts[5]
        types = self.apis.export_types(export_cluster, export_name)
        if types is None:
            raise errors.resource_not_found()
        if ":" in target and target != "*":
            raise errors.resource_not_found()
        prefix = "/" + "/".join(parts[:6])
        rest = parts[6:]
        if target == "*" and len(rest) >= 4 and rest[0] in ("api", "apis"):
            ns_index = 2 if rest[0] == "api" else 3
            if rest[ns_index : ns_index + 1] == ["namespaces"] and len(rest) > ns_index + 2:
                raise errors.bad_request(
                    "a wildcard request in a virtual workspace cannot be namespaced"
                )

        def bound(cluster: str) -> bool:
            return self.apis.binds(cluster, export_cluster, export_name)

        if target != "*" and not bound(target):
            raise errors.resource_not_found()
        scope = Scope(target, types, user, prefix, cluster_filter=bound)
        return scope, rest

    # -- admission -----------------------------------------------------------------------

    @staticmethod
    def _stamp_cluster(op: Operation) -> None:
        """Every object carries the name of the logical cluster it lives in."""
        if op.obj is not None:
            op.obj["metadata"].setdefault("annotations", {})[CLUSTER_ANNOTATION] = op.scope.cluster

    # -- workspaces ----------------------------------------------------------------------

    def _initialize_cluster(self, cluster: str, path: str, type_name: str) -> bool:
        scope = self.system_scope(cluster)
        ns_rt = scope.types.by_group_resource("", "namespaces")
        assert ns_rt is not None
        if self.store.get(("", "namespaces", ""), cluster, "", "default") is None:
            self.service.create(
                scope,
                ns_rt,
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
            )
        binding_rt = scope.types.by_group_resource("apis.kcp.io", "apibindings")
        assert binding_rt is not None
        done = True
        for export in DEFAULT_EXPORTS:
            name = binding_name(cluster, path, export)
            binding = self.store.get(APIBINDINGS, cluster, "", name)
            if binding is None:
                self.service.create(
                    scope,
                    binding_rt,
                    "",
                    {
                        "apiVersion": "apis.kcp.io/v1alpha1",
                        "kind": "APIBinding",
                        "metadata": {"name": name},
                        "spec": {"reference": {"export": {"path": ROOT, "name": export}}},
                    },
                )
                done = False
            elif binding.get("status", {}).get("phase") != "Bound":
                done = False
        return done

    # -- bootstrap -----------------------------------------------------------------------

    def _ensure(self, cluster: str, group: str, resource: str, obj: dict[str, Any]) -> dict:
        scope = self.system_scope(cluster)
        rt = scope.types.by_group_resource(group, resource)
        if rt is None:
            raise RuntimeError(f"{resource}.{group} is not served in {cluster}")
        name = obj["metadata"]["name"]
        ns = obj["metadata"].get("namespace", "")
        existing = self.store.get((rt.group, rt.resource, rt.identity), cluster, ns, name)
        if existing is not None:
            return existing
        return self.service.create(scope, rt, ns, obj)[0]

    async def _wait(self, condition) -> None:  # type: ignore[no-untyped-def]
        for _ in range(2000):
            if condition():
                return
            await asyncio.sleep(0.005)
        raise RuntimeError("kcp bootstrap did not converge")

    async def _bootstrap(self) -> None:
        self.tenancy.start()
        self.apis.start()
        self.tmc.start()
        self._ensure(
            ROOT,
            "core.kcp.io",
            "logicalclusters",
            {
                "apiVersion": "core.kcp.io/v1alpha1",
                "kind": "LogicalCluster",
                "metadata": {
                    "name": "cluster",
                    "annotations": {
                        "kcp.io/path": ROOT,
                        "internal.tenancy.kcp.io/type": "root:root",
                    },
                },
            },
        )
        lc = self.store.get(LOGICALCLUSTERS, ROOT, "", "cluster")
        assert lc is not None
        if lc.get("status", {}).get("phase") != "Ready":
            scope = self.system_scope(ROOT)
            rt = scope.types.by_group_resource("core.kcp.io", "logicalclusters")
            assert rt is not None
            self.service.update(
                scope,
                rt,
                "",
                "cluster",
                {**lc, "status": {"phase": "Ready", "URL": f"{self.url}/clusters/{ROOT}"}},
                subresource="status",
            )
        self._ensure(
            ROOT,
            "",
            "namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
        )
        for export, schemas in ROOT_EXPORTS.items():
            self._publish(ROOT, export, schemas)
            self._ensure(
                ROOT,
                "apis.kcp.io",
                "apibindings",
                {
                    "apiVersion": "apis.kcp.io/v1alpha1",
                    "kind": "APIBinding",
                    "metadata": {"name": export},
                    "spec": {"reference": {"export": {"name": export}}},
                },
            )
        await self._wait(lambda: all(self.apis.binds(ROOT, ROOT, e) for e in ROOT_EXPORTS))
        for wtype in WORKSPACE_TYPES:
            self._ensure(ROOT, "tenancy.kcp.io", "workspacetypes", wtype)
        ws = self._ensure(
            ROOT,
            "tenancy.kcp.io",
            "workspaces",
            {
                "apiVersion": "tenancy.kcp.io/v1alpha1",
                "kind": "Workspace",
                "metadata": {"name": "compute"},
                "spec": {"type": {"name": "universal", "path": ROOT}},
            },
        )
        rt = self.registry.types_for(ROOT).by_group_resource("tenancy.kcp.io", "workspaces")
        assert rt is not None

        def compute_ready() -> bool:
            current = self.store.get((rt.group, rt.resource, rt.identity), ROOT, "", "compute")
            return current is not None and current.get("status", {}).get("phase") == "Ready"

        await self._wait(compute_ready)
        ws = self.store.get((rt.group, rt.resource, rt.identity), ROOT, "", "compute")
        assert ws is not None
        self._publish(
            ws["spec"]["cluster"],
            "kubernetes",
            COMPUTE_EXPORT,
            {"extra.apis.kcp.io/compute.workload.kcp.io": "true"},
        )

    def _publish(
        self, cluster: str, export: str, schemas: tuple[dict, ...], annotations: dict | None = None
    ) -> None:
        for schema in schemas:
            self._ensure(cluster, "apis.kcp.io", "apiresourceschemas", schema)
        self._ensure(
            cluster,
            "apis.kcp.io",
            "apiexports",
            {
                "apiVersion": "apis.kcp.io/v1alpha1",
                "kind": "APIExport",
                "metadata": {
                    "name": export,
                    **({"annotations": annotations} if annotations else {}),
                },
                "spec": {"latestResourceSchemas": [s["metadata"]["name"] for s in schemas]},
            },
        )

    async def wait_idle(self) -> None:
        assert self.lifecycle is not None
        await wait_all_idle(
            self.lifecycle.reactor,
            self.tenancy.reactor,
            self.apis.exports,
            self.apis.bindings,
            self.tmc.reactor,
        )

    async def stop(self) -> None:
        await self.tenancy.reactor.stop()
        await self.apis.stop()
        await self.tmc.stop()
        await super().stop()

    # -- kubeconfig ----------------------------------------------------------------------

    def kubeconfig(self, name: str = "root", server_path: str = "") -> dict[str, Any]:
        """Laid out like `kcp start`'s admin.kubeconfig."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "root", "cluster": self.cluster_entry("/clusters/root")},
                {"name": "base", "cluster": self.cluster_entry()},
            ],
            "users": [
                {"name": "kcp-admin", "user": {"token": self.kcp_admin_token}},
                {"name": "shard-admin", "user": {"token": self.admin_token}},
            ],
            "contexts": [
                {"name": "root", "context": {"cluster": "root", "user": "kcp-admin"}},
                {"name": "base", "context": {"cluster": "base", "user": "kcp-admin"}},
                {"name": "system:admin", "context": {"cluster": "base", "user": "shard-admin"}},
            ],
            "current-context": "root",
            "preferences": {},
        }


def build_kcp_server(config: ServerConfig) -> KcpServer:
    config.kcp = True
    return KcpServer(config)
