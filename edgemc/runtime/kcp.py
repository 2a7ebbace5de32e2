"""kcp URL shapes and APIExport virtual-workspace discovery (nothing specific to edge-mc).

Base URLs a client may hold:

* a plain server, `https://host:6443`;
* a logical cluster / workspace, `https://host:6443/clusters/root:espw`;
* the wildcard, `https://host:6443/clusters/*` (list and watch only);
* an APIExport view, `https://host:6443/services/apiexport/<cluster>/<export>`, itself
  scoped further with `/clusters/<name>` or `/clusters/*`.

Objects read through any of them carry their logical cluster *name* in the `kcp.io/cluster`
annotation.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from edgemc.runtime.cache import CLUSTER_ANNOTATION, cluster_of
from edgemc.runtime.client import Client, GroupVersionResource
from edgemc.runtime.errors import Forbidden, NotFound
from edgemc.runtime.logging import get_logger

__all__ = [
    "APIEXPORTS",
    "CLUSTER_ANNOTATION",
    "cluster_of",
    "split_cluster_url",
    "wait_for_apiexport_view",
]

log = get_logger("edgemc.runtime.kcp")

APIEXPORTS = GroupVersionResource("apis.kcp.io", "v1alpha1", "apiexports")


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
