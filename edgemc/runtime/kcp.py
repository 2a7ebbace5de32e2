"""kcp URL shapes and APIExport virtual-workspace discovery (nothing specific to edge-mc).

Base URLs a client may hold:

* a plain server, `https://host:6443`;
* a logical cluster / workspace, `https://host:6443/clusters/root:espw`;
* the wildcard, `https://host:6443/clusters/*` (list and watch only);
* an APIExport view, `https://host:6443/services/apiexport/<cluster>/<export>`, itself
  scoped further with `/clusters/<name>` or `/clusters/*`.

On the wildcard, a resource served through an APIBinding is named with the identity of its
APIExport (`deployments:<identityHash>`); `wildcard_resource` says how a resource is named
there.

Objects read through any of them carry their logical cluster *name* in the `kcp.io/cluster`
annotation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edgemc.runtime.cache import CLUSTER_ANNOTATION, cluster_of
from edgemc.runtime.client import Client, GroupVersionResource
from edgemc.runtime.errors import Forbidden, NotFound
from edgemc.runtime.logging import get_logger

__all__ = [
    "APIEXPORTS",
    "BUILTIN_RESOURCES",
    "CLUSTER_ANNOTATION",
    "cluster_of",
    "split_cluster_url",
    "wait_for_apiexport_view",
    "wildcard_resource",
]

log = get_logger("edgemc.runtime.kcp")

APIEXPORTS = GroupVersionResource("apis.kcp.io", "v1alpha1", "apiexports")

# (group, resource) of what kcp's generic control plane serves in every logical cluster
# itself; a shard admin lists and watches these on `/clusters/*` without an identity.
BUILTIN_RESOURCES = frozenset(
    {
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
        ("events.k8s.io", "events"),
        ("certificates.k8s.io", "certificatesigningrequests"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    }
)


def wildcard_resource(
    resource: GroupVersionResource, bindings: Iterable[dict[str, Any]]
) -> GroupVersionResource | None:
    """How `/clusters/*` names `resource` of a logical cluster whose APIBindings are
    `bindings`: with the identity hash of the APIExport that binds it there
    (`deployments:<identityHash>`), unchanged for a built-in, None otherwise (a CRD's
    resource, or a binding whose status does not list it yet: kcp answers 404)."""
    for binding in bindings:
        for bound in (binding.get("status") or {}).get("boundResources") or []:
            if (bound.get("group") or "", bound.get("resource")) == (
                resource.group,
                resource.resource,
            ):
                identity = (bound.get("schema") or {}).get("identityHash")
                if identity:
                    return GroupVersionResource(
                        resource.group, resource.version, f"{resource.resource}:{identity}"
                    )
    if (resource.group, resource.resource) in BUILTIN_RESOURCES:
        return resource
    return None


def split_cluster_url(url: str) -> tuple[str, str | None]:
    """Split `<base>/clusters/<name>[/...]` into (base, name); (url, None) if unscoped.

    The base keeps any virtual-workspace prefix (`/services/apiexport/<c>/<e>`).
    """
    parts = urlsplit(url.rstrip("/"))
    segments = parts.path.split("/")
    for i in range(len(segments) - 1):
        if segments[i] == "clusters" and i + 1 < len(segments) and segments[i + 1]:
            base = urlunsplit(parts._replace(path="/".join(segments[:i]), query="", fragment=""))
            return base, segments[i + 1]
    return url.rstrip("/"), None


def _condition_true(obj: dict, condition: str) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == condition:
            return cond.get("status") == "True"
    return False


async def wait_for_apiexport_view(
    client: Client,
    export_name: str,
    *,
    poll_interval: float = 2.0,
) -> str:
    """Wait for APIExport `export_name` in the client's workspace to publish its view URL.

    Ready means condition VirtualWorkspaceURLsReady is True and status.virtualWorkspaces is
    non-empty; returns the first URL. The export not existing yet is waited out like not
    being ready, and so is 403 Forbidden: kcp answers that for a workspace that does not
    exist (yet), so a component may start before its workspace is made. edge-mc polls every
    15 s; the shorter default makes start-up snappier and costs one GET per poll.
    Bound the wait with `asyncio.timeout` if needed.
    """
    forbidden_logged = missing_logged = False
    while True:
        try:
            export = await client.get(APIEXPORTS, export_name)
        except NotFound:
            if not missing_logged:
                log.warning(
                    "APIExport not found yet, will retry",
                    exportName=export_name,
                    url=client.base_url,
                )
                missing_logged = True
            export = None
        except Forbidden as err:
            if not forbidden_logged:
                log.warning(
                    "Cannot read APIExport yet, will retry",
                    exportName=export_name,
                    url=client.base_url,
                    reason=str(err),
                )
                forbidden_logged = True
            export = None
        if export is not None and _condition_true(export, "VirtualWorkspaceURLsReady"):
            workspaces = (export.get("status") or {}).get("virtualWorkspaces") or []
            if workspaces and workspaces[0].get("url"):
                url = workspaces[0]["url"]
                log.info("Found APIExport view", exportName=export_name, serverURL=url)
                return url
        log.v(2).info(
            "APIExport view not ready yet", exportName=export_name, exists=export is not None
        )
        await asyncio.sleep(poll_interval)
