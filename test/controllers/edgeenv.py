"""A kcp-mode embedded server and the set-up steps the component tests share.

`EdgeEnv` gives admin clients for any workspace, kubeconfigs laid out like kcp's
admin.kubeconfig with the current context on a chosen workspace (what `kubectl ws` leaves
behind), and the seed's Stage 1 building blocks: workspaces, the edge API in the ESPW, and
SyncTarget/Location pairs as `ensure-location.sh` makes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from kubectl_runner import Kubectl
from polling import wait_for as wait_for  # re-exported for the component tests

from edgemc.apis import kcp as kcpapi
from edgemc.controllers import resources as r
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.bootstrap import (
    create_objects,
    ensure_espw,
    ensure_workspace,
    load_yaml_objects,
    resource_for,
    workspace_kubeconfig,
)
from edgemc.runtime import AlreadyExists, Client, ClusterConfig, NotFound

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT / "config"
ESPW = "root:espw"


class EdgeEnv:
    """One kcp-mode server (over HTTPS on a free port) with admin access to every workspace."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.server: KcpServer = build_kcp_server(ServerConfig(port=0))
        self.admin: Client | None = None

    async def start(self) -> None:
        await self.server.start()
        config = ClusterConfig.for_server(self.server.url, self.server.kcp_admin_token)
        config.ssl = self.server.client_ssl()
        self.admin = Client(config)

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.close()
        await self.server.stop()

    def ws(self, path: str) -> Client:
        """kcp-admin's client for the workspace (path or logical-cluster name) `path`."""
        assert self.admin is not None
        return self.admin.cluster(path)

    def kubeconfig(self, workspace: str = ESPW, name: str | None = None) -> Path:
        """An admin.kubeconfig (contexts root, base, system:admin) whose current context is
        `workspace`, as `kubectl ws <workspace>` would leave it; returns its path."""
        config = workspace_kubeconfig(self.server.kubeconfig(), workspace)
        path = self.dir / (name or f"{workspace.replace(':', '_')}.kubeconfig")
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        os.chmod(path, 0o600)
        return path

    def kubectl(self, workspace: str = ESPW) -> Kubectl:
        """The real kubectl with an admin.kubeconfig whose current workspace is `workspace`."""
        return Kubectl(self.kubeconfig(workspace), self.dir / "kubectl-cache")

    # -- workspaces ---------------------------------------------------------------------

    async def create_workspace(self, path: str, type_name: str | None = None) -> dict[str, Any]:
        """Create workspace `path` (e.g. "root:my-org:wmw-c"), parents included; wait Ready.

        Returns the Workspace object (its `spec.cluster` is the logical cluster name).
        """
        assert self.admin is not None
        return await ensure_workspace(self.admin, path, type_name=type_name)

    async def cluster_of(self, path: str) -> str:
        """The logical cluster name of workspace `path`."""
        parent, _, name = path.rpartition(":")
        ws = await self.ws(parent).get(r.WORKSPACES, name)
        return ws["spec"]["cluster"]

    # -- the seed's Stage 1 building blocks ----------------------------------------------

    async def apply_yaml_files(self, workspace: str, *paths: Path) -> None:
        """Create every object of the YAML files (or directories of them) in `workspace`."""
        await create_objects(self.ws(workspace), load_yaml_objects(*paths))

    async def install_edge_api(self, espw: str = ESPW) -> None:
        """The ESPW with `kubectl create -f config/crds` and `-f config/exports` done."""
        assert self.admin is not None
        await ensure_espw(self.admin, espw, CONFIG)

    async def ensure_location(
        self, imw: str, name: str, labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """What `ensure-location.sh NAME k=v...` makes in `imw`; returns the SyncTarget."""
        client = self.ws(imw)
        labels = dict(labels or {})
        target, location = kcpapi.ensure_location_objects(name, labels)
        created = await create_object(client, target)
        await create_object(client, location)
        await self.server.wait_idle()
        try:
            await client.delete(r.LOCATIONS, kcpapi.DEFAULT_LOCATION_NAME)
        except NotFound:
            pass
        return created


async def create_object(client: Client, obj: dict[str, Any]) -> dict[str, Any]:
    """Create `obj` (any kind the workspace serves); an existing one is returned as is."""
    gvr = await resource_for(client, obj["apiVersion"], obj["kind"])
    namespace = obj.get("metadata", {}).get("namespace")
    try:
        return await client.create(gvr, obj, namespace=namespace)
    except AlreadyExists:
        return await client.get(gvr, obj["metadata"]["name"], namespace=namespace)
