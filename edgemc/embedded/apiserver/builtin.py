"""The built-in Kubernetes kinds the server serves, each with its upstream schema.

Schemas are the upstream OpenAPI definitions of Kubernetes v1.32 as shipped (converted to
JSON-schema form) by the kubernetes-validate package. Nodes refer to each other with
`{"$ref": "#/$defs/<definition name>"}` and mark optional fields nullable with types such as
`["string", "null"]`. The 1.3 MB document is parsed once, on first use (~80 ms with orjson);
until then a built-in type's `schema` is just a `$ref` node, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import orjson

from edgemc.embedded.apiserver.resources import ResourceType, Schema

DEFINITIONS_RESOURCE = "kubernetes-json-schema/v1.32.0-local/_definitions.json"
REF_PREFIX = "#/$defs/"

# Discovery facts of a v1.32 kube-apiserver: namespaces have no deletecollection verb.
_NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")


@functools.cache
def definitions() -> dict[str, Schema]:
    """All upstream definitions by name (`io.k8s.api.apps.v1.Deployment`), loaded once."""
    resource = importlib.resources.files("kubernetes_validate") / DEFINITIONS_RESOURCE
    return orjson.loads(resource.read_bytes())["$defs"]


def ref_name(node: Schema) -> str | None:
    """The definition name a `{"$ref": "#/$defs/<name>"}` node points to, else None."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        return ref[len(REF_PREFIX) :]
    return None


def resolve_schema(node: Schema | None) -> Schema | None:
    """Follow `$ref` links until a node with content; other nodes are returned unchanged.

    Siblings of a `$ref` (descriptions, patch-strategy extensions) are not merged in: they
    describe the field, not the value, and every consumer here needs the value's schema.
    """
    seen = 0
    while node is not None and "$ref" in node:
        name = ref_name(node)
        if name is None:
            raise ValueError(f"unsupported $ref {node['$ref']!r}")
        node = definitions().get(name)
        seen += 1
        if seen > 32:
            raise ValueError(f"$ref cycle at {name}")
    return node


def _ref(name: str) -> Schema:
    return {"$ref": REF_PREFIX + name}


def _builtin(
    group: str,
    version: str,
    resource: str,
    kind: str,
    definition: str,
    *,
    namespaced: bool = True,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: tuple[str, ...] = (),
    verbs: tuple[str, ...] | None = None,
) -> ResourceType:
    extra: dict[str, Any] = {"verbs": verbs} if verbs else {}
    return ResourceType(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        list_kind=kind + "List",
        short_names=short_names,
        categories=categories,
        subresources=subresources,
        schema=_ref(definition),
        builtin=True,
        source="builtin",
        **extra,
    )


_CORE = "io.k8s.api.core.v1."
_RBAC = "io.k8s.api.rbac.v1."
_RBAC_GROUP = "rbac.authorization.k8s.io"

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    # core/v1
    _builtin("", "v1", "namespaces", "Namespace", _CORE + "Namespace", namespaced=False,
             short_names=("ns",), subresources=("status",), verbs=_NO_DELETECOLLECTION),
    _builtin("", "v1", "configmaps", "ConfigMap", _CORE + "ConfigMap", short_names=("cm",)),
    _builtin("", "v1", "secrets", "Secret", _CORE + "Secret"),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", _CORE + "ServiceAccount",
             short_names=("sa",)),
    _builtin("", "v1", "services", "Service", _CORE + "Service", short_names=("svc",),
             categories=("all",), subresources=("status",)),
    _builtin("", "v1", "pods", "Pod", _CORE + "Pod", short_names=("po",), categories=("all",),
             subresources=("status",)),
    _builtin("", "v1", "events", "Event", _CORE + "Event", short_names=("ev",)),
    _builtin("", "v1", "limitranges", "LimitRange", _CORE + "LimitRange",
             short_names=("limits",)),
    _builtin("", "v1", "resourcequotas", "ResourceQuota", _CORE + "ResourceQuota",
             short_names=("quota",), subresources=("status",)),
    # rbac.authorization.k8s.io/v1
    _builtin(_RBAC_GROUP, "v1", "roles", "Role", _RBAC + "Role"),
    _builtin(_RBAC_GROUP, "v1", "rolebindings", "RoleBinding", _RBAC + "RoleBinding"),
    _builtin(_RBAC_GROUP, "v1", "clusterroles", "ClusterRole", _RBAC + "ClusterRole",
             namespaced=False),
    _builtin(_RBAC_GROUP, "v1", "clusterrolebindings", "ClusterRoleBinding",
             _RBAC + "ClusterRoleBinding", namespaced=False),
    # apps/v1 (the scale subresource is autoscaling/v1 Scale, as upstream)
    _builtin("apps", "v1", "deployments", "Deployment", "io.k8s.api.apps.v1.Deployment",
             short_names=("deploy",), categories=("all",), subresources=("status", "scale")),
    _builtin("apps", "v1", "replicasets", "ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet",
             short_names=("rs",), categories=("all",), subresources=("status", "scale")),
    # coordination.k8s.io/v1
    _builtin("coordination.k8s.io", "v1", "leases", "Lease",
             "io.k8s.api.coordination.v1.Lease"),
    # networking.k8s.io/v1
    _builtin("networking.k8s.io", "v1", "ingresses", "Ingress",
             "io.k8s.api.networking.v1.Ingress", short_names=("ing",),
             subresources=("status",)),
    # apiextensions.k8s.io/v1
    _builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions",
             "CustomResourceDefinition",
             "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
             namespaced=False, short_names=("crd", "crds"), categories=("api-extensions",),
             subresources=("status",)),
)  # fmt: skip

_BY_GROUP_RESOURCE = {(rt.group, rt.resource): rt for rt in BUILTIN_TYPES}


def builtin_type(group: str, resource: str) -> ResourceType | None:
    """The built-in type serving `resource` in `group` ("" = core), or None."""
    return _BY_GROUP_RESOURCE.get((group, resource))


def definition_name(rt: ResourceType) -> str | None:
    """The upstream definition name of a built-in type's schema (None for inline schemas)."""
    return ref_name(rt.schema) if rt.schema else None
