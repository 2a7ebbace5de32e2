"""Shared rig of the summarizer tests: Stage 5's inputs, made through the API as the other
components would make them. No tests here.

`SeedRig` builds the seed's shape: inventory workspace with florin and guilder, the two
workload workspaces with their namespaces, Deployments and EdgePlacements, the slices the
scheduler would write, mailbox workspaces with `bind-edge`/`bind-kube`, the copies the
placement translator would make, and SyncerConfig `the-one` whose heartbeat and the copies'
status the tests set as the edge syncers would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from edgeenv import ESPW, EdgeEnv, wait_for

from edgemc.apis import edge
from edgemc.apis.meta import format_timestamp
from edgemc.controllers import resources as r
from edgemc.runtime import AlreadyExists, Client, Conflict, NotFound

Obj = dict[str, Any]
IMW = "root:imw-1"
WMW_C = "root:my-org:wmw-c"
WMW_S = "root:my-org:wmw-s"


def binding(name: str, path: str, export: str) -> Obj:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


def deployment(namespace: str, name: str, app: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "httpd", "image": "library/httpd:2.4"}]},
            },
        },
    }


def placement(name: str, location_labels: dict[str, str], ns_labels: dict[str, str]) -> Obj:
    return {
        "apiVersion": edge.API_VERSION,
        "kind": "EdgePlacement",
        "metadata": {"name": name},
        "spec": {
            "locationSelectors": [{"matchLabels": location_labels}],
            "namespaceSelector": {"matchLabels": ns_labels},
        },
    }


def ago(seconds: float) -> str:
    return format_timestamp(datetime.now(UTC) - timedelta(seconds=seconds))


async def wait_bound(client: Client, *resources: Any) -> None:
    async def bound() -> bool:
        try:
            for res in resources:
                await client.list(res)
        except NotFound:
            return False
        return True

    await wait_for(bound, 15, "APIBindings to serve their resources")


class SeedRig:
    """The seed's Stage 1-4 results, made directly (see the module docstring)."""

    def __init__(self, env: EdgeEnv) -> None:
        self.env = env
        self.imw_cluster = ""
        self.targets: dict[str, Obj] = {}  # SyncTarget by name
        self.mailboxes: dict[str, Client] = {}  # mailbox client by SyncTarget name

    def mailbox_name(self, target: str) -> str:
        uid = self.targets[target]["metadata"]["uid"]
        return edge.mailbox_workspace_name(self.imw_cluster, uid)

    async def setup(self) -> None:
        env = self.env
        await env.install_edge_api()
        await env.create_workspace(IMW)
        self.imw_cluster = await env.cluster_of(IMW)
        self.targets["florin"] = await env.ensure_location(IMW, "florin", {"env": "prod"})
        self.targets["guilder"] = await env.ensure_location(
            IMW, "guilder", {"env": "prod", "extended": "si"}
        )
        for target in ("florin", "guilder"):
            await self.make_mailbox(target)
        await self.make_workload(WMW_C, "commonstuff", {"common": "si"}, "commond", "common")
        await self.make_workload(WMW_S, "specialstuff", {"special": "si"}, "speciald", "special")
        await self.place(WMW_C, "edge-placement-c", {"env": "prod"}, {"common": "si"})
        await self.place(
            WMW_S, "edge-placement-s", {"env": "prod", "extended": "si"}, {"special": "si"}
        )
        await self.slice(WMW_C, "edge-placement-c", ["florin", "guilder"])
        await self.slice(WMW_S, "edge-placement-s", ["guilder"])

    async def make_mailbox(self, target: str) -> None:
        name = self.mailbox_name(target)
        ws = await self.env.create_workspace(f"{ESPW}:{name}")
        ws_client = self.env.ws(ESPW)
        ws["metadata"].setdefault("annotations", {})[edge.ANNOTATION_SYNC_TARGET_NAME] = target
        await ws_client.update(r.WORKSPACES, ws)
        mb = self.env.ws(ws["spec"]["cluster"])
        await mb.create(r.API_BINDINGS, binding("bind-edge", ESPW, edge.EXPORT_NAME))
        await mb.create(r.API_BINDINGS, binding("bind-kube", "root:compute", "kubernetes"))
        await wait_bound(mb, r.SYNCER_CONFIGS, r.DEPLOYMENTS)
        await mb.create(
            r.SYNCER_CONFIGS,
            {
                "apiVersion": edge.API_VERSION,
                "kind": "SyncerConfig",
                "metadata": {"name": edge.SYNCER_CONFIG_NAME},
                "spec": {},
            },
        )
        self.mailboxes[target] = mb
        await self.heartbeat(target)

    async def make_workload(
        self, wmw: str, namespace: str, labels: dict[str, str], name: str, app: str
    ) -> None:
        await self.env.create_workspace(wmw)
        client = self.env.ws(wmw)
        await client.create(r.API_BINDINGS, binding("bind-kube", "root:compute", "kubernetes"))
        await client.create(r.API_BINDINGS, binding("bind-espw", ESPW, edge.EXPORT_NAME))
        await wait_bound(client, r.DEPLOYMENTS, r.EDGE_PLACEMENTS)
        await client.create(
            r.NAMESPACES,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": labels},
            },
        )
        await client.create(r.DEPLOYMENTS, deployment(namespace, name, app))

    async def place(
        self, wmw: str, name: str, locations: dict[str, str], namespaces: dict[str, str]
    ) -> None:
        await self.env.ws(wmw).create(r.EDGE_PLACEMENTS, placement(name, locations, namespaces))

    async def slice(self, wmw: str, name: str, targets: list[str]) -> None:
        destinations = [
            {
                "cluster": self.imw_cluster,
                "locationName": t,
                "syncTargetName": t,
                "syncTargetUID": self.targets[t]["metadata"]["uid"],
            }
            for t in targets
        ]
        sps = {
            "apiVersion": edge.API_VERSION,
            "kind": "SinglePlacementSlice",
            "metadata": {"name": name},
            "destinations": destinations,
        }
        client = self.env.ws(wmw)
        try:
            await client.create(r.SINGLE_PLACEMENT_SLICES, sps)
        except AlreadyExists:  # a new set of destinations, as the scheduler writes it
            await client.patch(
                r.SINGLE_PLACEMENT_SLICES, name, {"destinations": destinations}, patch_type="merge"
            )

    async def project(self, wmw: str, target: str, namespace: str, name: str) -> Obj:
        """The placement translator's copy of a Deployment (and its namespace) in a mailbox."""
        source = await self.env.ws(wmw).get(r.DEPLOYMENTS, name, namespace)
        mb = self.mailboxes[target]
        try:
            await mb.create(
                r.NAMESPACES,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": {edge.LABEL_PROJECTED: "yes"}},
                },
            )
        except AlreadyExists:
            pass  # made for an earlier object
        copy = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "namespace": namespace,
                "name": name,
                "labels": {edge.LABEL_PROJECTED: edge.PROJECTED_VALUE},
            },
            "spec": source["spec"],
        }
        return await mb.create(r.DEPLOYMENTS, copy)

    async def report(self, target: str, namespace: str, name: str, **counts: int) -> None:
        """The edge syncer's status return: the edge Deployment's status onto the copy."""
        mb = self.mailboxes[target]
        while True:
            copy = await mb.get(r.DEPLOYMENTS, name, namespace)
            status = {"observedGeneration": copy["metadata"]["generation"], **counts}
            try:
                await mb.update_status(r.DEPLOYMENTS, {**copy, "status": status})
                return
            except Conflict:
                continue

    @contextlib.asynccontextmanager
    async def syncers_beating(self, period: float = 0.5) -> AsyncIterator[set[str]]:
        """Heartbeats every `period` s for the targets in the yielded set (edit it to silence
        one), as running edge syncers would write them."""
        beating = set(self.targets)

        async def beat() -> None:
            while True:
                for target in sorted(beating):
                    await self.heartbeat(target)
                await asyncio.sleep(period)

        task = asyncio.create_task(beat())
        try:
            yield beating
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def heartbeat(self, target: str, when: str | None = None) -> None:
        """The edge syncer's heartbeat on `the-one` (an old `when` simulates a silent syncer)."""
        patch = {"status": {"lastSyncerHeartbeatTime": when or format_timestamp()}}
        await self.mailboxes[target].patch(r.SYNCER_CONFIGS, edge.SYNCER_CONFIG_NAME, patch)
