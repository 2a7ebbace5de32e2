"""The resources the edge-mc components read and write, as runtime GroupVersionResources."""

from __future__ import annotations

from edgemc.apis import edge, kcp
from edgemc.runtime import GroupVersionResource


def _gvr(resource: kcp.GroupVersionResource) -> GroupVersionResource:
    return GroupVersionResource(resource.group, resource.version, resource.resource)


def edge_resource(plural: str) -> GroupVersionResource:
    return GroupVersionResource(edge.GROUP, edge.VERSION, plural)


WORKSPACES = _gvr(kcp.WORKSPACES)
LOGICAL_CLUSTERS = _gvr(kcp.LOGICAL_CLUSTERS)
API_EXPORTS = _gvr(kcp.API_EXPORTS)
API_BINDINGS = _gvr(kcp.API_BINDINGS)
SYNC_TARGETS = _gvr(kcp.SYNC_TARGETS)
LOCATIONS = _gvr(kcp.LOCATIONS)

EDGE_PLACEMENTS = edge_resource("edgeplacements")
SINGLE_PLACEMENT_SLICES = edge_resource("singleplacementslices")
SYNCER_CONFIGS = edge_resource("syncerconfigs")
CUSTOMIZERS = edge_resource("customizers")
EDGE_SYNC_CONFIGS = edge_resource("edgesyncconfigs")

NAMESPACES = GroupVersionResource("", "v1", "namespaces")
CONFIGMAPS = GroupVersionResource("", "v1", "configmaps")
SECRETS = GroupVersionResource("", "v1", "secrets")
SERVICE_ACCOUNTS = GroupVersionResource("", "v1", "serviceaccounts")
EVENTS = GroupVersionResource("", "v1", "events")
DEPLOYMENTS = GroupVersionResource("apps", "v1", "deployments")
CRDS = GroupVersionResource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
CLUSTER_ROLES = GroupVersionResource("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTER_ROLE_BINDINGS = GroupVersionResource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings"
)
