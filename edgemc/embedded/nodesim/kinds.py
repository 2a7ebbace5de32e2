"""The resources the node simulator reads and writes, its shared small types and times, and
the Node kind it adds to a server.

The plain embedded server does not serve core/v1 Nodes (nothing else needs them); an edge
cluster adds `NODE_TYPE`, with the upstream schema, so its node shows in `kubectl get nodes`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.runtime import GroupVersionResource

PODS = GroupVersionResource("", "v1", "pods")
NODES = GroupVersionResource("", "v1", "nodes")
CONFIGMAPS = GroupVersionResource("", "v1", "configmaps")
SECRETS = GroupVersionResource("", "v1", "secrets")
SERVICE_ACCOUNTS = GroupVersionResource("", "v1", "serviceaccounts")
LEASES = GroupVersionResource("coordination.k8s.io", "v1", "leases")
DEPLOYMENTS = GroupVersionResource("apps", "v1", "deployments")
REPLICASETS = GroupVersionResource("apps", "v1", "replicasets")

# Mints a ServiceAccount token: (namespace, name, uid) -> bearer token.
TokenMinter = Callable[[str, str, str], str]

NODE_TYPE = ResourceType(
    group="",
    version="v1",
    resource="nodes",
    kind="Node",
    namespaced=False,
    singular="node",
    list_kind="NodeList",
    short_names=("no",),
    subresources=("status",),
    schema={"$ref": "#/$defs/io.k8s.api.core.v1.Node"},
    builtin=True,
    source="builtin",
)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """A MicroTime (Lease renewTime)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
