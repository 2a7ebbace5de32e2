"""Workspaces and the edge API put in place through the API, as the seed's commands do.

`ensure_workspace` is `kubectl ws create` (parents included, waits for Ready);
`ensure_espw` is `kubectl ws create espw` followed by `kubectl create -f config/crds` and
`kubectl create -f config/exports` (idempotent); `workspace_kubeconfig` is what `kubectl ws
<path>` leaves in an admin.kubeconfig. `up` uses them before it starts the controllers.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from edgemc.apis import kcp as kcpapi
from edgemc.controllers import resources as r
from edgemc.runtime import AlreadyExists, Client, GroupVersionResource, NotFound

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
ESPW_PATH = "root:espw"
CURRENT_CONTEXT = "workspace.kcp.io/current"


async def ensure_workspace(
    admin: Client, path: str, *, type_name: str | None = None, within: float = 30.0
) -> dict[str, Any]:
    """Create workspace `path` (and missing parents) through the unscoped `admin` client and
    wait until it is Ready; returns the Workspace (its `spec.cluster` is the logical cluster)."""
    parent, _, name = path.rpartition(":")
    if not parent:
        raise ValueError(f"{path!r} is not a workspace path below root")
    if parent != kcpapi.ROOT_CLUSTER:
        await ensure_workspace(admin, parent, within=within)
    body: dict[str, Any] = {
        "apiVersion": "tenancy.kcp.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": name},
    }
    if type_name:
        body["spec"] = {"type": {"name": type_name, "path": kcpapi.ROOT_CLUSTER}}
    client = admin.cluster(parent)
    try:
        await client.create(r.WORKSPACES, body)
    except AlreadyExists:
        pass
    async with asyncio.timeout(within):
        while True:
            ws = await client.get(r.WORKSPACES, name)
            if (ws.get("status") or {}).get("phase") == kcpapi.PHASE_READY:
                return ws
            await asyncio.sleep(0.05)


async def resource_for(client: Client, api_version: str, kind: str) -> GroupVersionResource:
    """The resource serving `kind` in `api_version` where `client` points, from discovery."""
    doc = await client.server_resources(api_version)
    for res in doc.get("resources", []):
        if res.get("kind") == kind and "/" not in res["name"]:
            group, _, version = api_version.rpartition("/")
            return GroupVersionResource(group, version, res["name"])
    raise LookupError(f"{kind} is not served in {api_version} at {client.base_url}")


async def create_objects(client: Client, objects: Iterable[dict[str, Any]]) -> None:
    """Create each object where `client` points; ones that already exist are left as they are."""
    for obj in objects:
        gvr = await resource_for(client, obj["apiVersion"], obj["kind"])
        try:
            await client.create(gvr, obj, namespace=obj.get("metadata", {}).get("namespace"))
        except AlreadyExists:
            pass


def load_yaml_objects(*paths: Path) -> list[dict[str, Any]]:
    """The objects of YAML files, or of the `*.yaml` files of directories, in name order."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return [obj for f in files for obj in yaml.safe_load_all(f.read_text()) if obj]


async def ensure_espw(
    admin: Client, path: str = ESPW_PATH, config_dir: Path = CONFIG_DIR
) -> dict[str, Any]:
    """The edge service provider workspace with the edge API's CRDs, schemas and export."""
    if not (config_dir / "crds").is_dir() or not (config_dir / "exports").is_dir():
        raise FileNotFoundError(f"{config_dir} has no crds/ and exports/ (run from a checkout)")
    ws = await ensure_workspace(admin, path)
    client = admin.cluster(path)
    await create_objects(client, load_yaml_objects(config_dir / "crds", config_dir / "exports"))
    return ws


async def has_workspace(admin: Client, path: str) -> bool:
    parent, _, name = path.rpartition(":")
    try:
        await admin.cluster(parent).get(r.WORKSPACES, name)
    except NotFound:
        return False
    return True


def workspace_kubeconfig(admin_kubeconfig: dict[str, Any], path: str) -> dict[str, Any]:
    """`admin_kubeconfig` (kcp's layout) with the current context on workspace `path`, the
    way `kubectl ws <path>` leaves it: contexts root, base and system:admin stay usable."""
    config = copy.deepcopy(admin_kubeconfig)
    base = next(c["cluster"] for c in config["clusters"] if c["name"] == "base")
    cluster = dict(base, server=f"{base['server'].rstrip('/')}/clusters/{path}")
    config["clusters"] = [c for c in config["clusters"] if c["name"] != CURRENT_CONTEXT]
    config["contexts"] = [c for c in config["contexts"] if c["name"] != CURRENT_CONTEXT]
    config["clusters"].append({"name": CURRENT_CONTEXT, "cluster": cluster})
    user = next(c["context"]["user"] for c in config["contexts"] if c["name"] == "base")
    config["contexts"].append(
        {"name": CURRENT_CONTEXT, "context": {"cluster": CURRENT_CONTEXT, "user": user}}
    )
    config["current-context"] = CURRENT_CONTEXT
    return config
