"""The `mailbox-controller` component: one mailbox workspace per SyncTarget.

For every SyncTarget in any inventory workspace (seen through the `workload.kcp.io`
APIExport's view) it keeps, in the edge service provider workspace (the current context), a
Workspace named `<SyncTarget's logical cluster>-mb-<SyncTarget uid>`, annotated
`edge.kcp.io/sync-target-name=<SyncTarget name>`, holding APIBinding `bind-edge` to the ESPW's
`edge.kcp.io` export. A SyncTarget deleted takes its mailbox with it; a mailbox deleted by
hand comes back; a wrong annotation is repaired (the 2023q1 original did not).

Clients (spec 4.1): `main` = the ESPW; `inventory` (default context `root`) finds the
`workload.kcp.io` export and its view; `mbws` (default context `base`) writes the APIBinding
inside each mailbox through `/clusters/<mailbox logical cluster>`.

Keys are mailbox names; the decision for one name is the pure function `decide`.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import re
from typing import Any

from edgemc.apis import edge
from edgemc.apis.kcp import PHASE_READY, WORKLOAD_EXPORT
from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.runtime import (
    AlreadyExists,
    ApiError,
    Client,
    Controller,
    Key,
    Manager,
    NotFound,
    Result,
    ServerError,
    get_logger,
)
from edgemc.runtime.cache import Obj, cluster_of
from edgemc.runtime.informer import Informer
from edgemc.runtime.kcp import wait_for_apiexport_view

CONTROLLER_NAME = "mailbox-controller"
FIELD_MANAGER = "mailbox-controller"
BY_MAILBOX = "mailbox"
BY_NAME = "name"
# How long to wait before looking again at a mailbox that is being deleted or not yet ready.
RECHECK_SECONDS = 1.0
# Pause between start-up attempts while the server cannot be reached (each attempt already
# retries its request for a few seconds inside the client).
UNREACHABLE_RETRY_SECONDS = 2.0

log = get_logger("edgemc.controllers.mailbox", controller=CONTROLLER_NAME)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Action(enum.Enum):
    """What one reconcile of a mailbox name has to do."""

    IGNORE = "ignore"  # not a mailbox name, or not a valid workspace name
    NOTHING = "nothing"
    CREATE = "create"
    DELETE = "delete"
    WAIT = "wait"  # the workspace is going away, or not ready yet
    ANNOTATE = "annotate"
    BIND = "bind"


def mailbox_name_of(target: Obj) -> str:
    """The mailbox workspace name of a SyncTarget (read through a view or `/clusters/*`)."""
    return edge.mailbox_workspace_name(cluster_of(target), target["metadata"]["uid"])


def valid_workspace_name(name: str) -> bool:
    """Whether `name` can name a Workspace (a DNS label)."""
    return len(name) <= 63 and _DNS_LABEL.match(name) is not None


def _live(obj: Obj | None) -> bool:
    return obj is not None and not obj["metadata"].get("deletionTimestamp")


def _annotation(ws: Obj) -> str | None:
    return (ws["metadata"].get("annotations") or {}).get(edge.ANNOTATION_SYNC_TARGET_NAME)


def decide(name: str, target: Obj | None, workspace: Obj | None) -> Action:
    """The action for mailbox `name`, given its live SyncTarget (if any) and its Workspace."""
    if not edge.is_mailbox_workspace_name(name) or not valid_workspace_name(name):
        return Action.IGNORE
    if not _live(target):
        return Action.DELETE if _live(workspace) else Action.NOTHING
    assert target is not None
    if workspace is None:
        return Action.CREATE
    if not _live(workspace):
        return Action.WAIT
    if _annotation(workspace) != target["metadata"]["name"]:
        return Action.ANNOTATE
    ready = (workspace.get("status") or {}).get("phase") == PHASE_READY
    if not ready or not (workspace.get("spec") or {}).get("cluster"):
        return Action.WAIT
    return Action.BIND


def desired_workspace(name: str, target: Obj) -> Obj:
    """The mailbox Workspace of `target` as the controller creates it."""
    return {
        "apiVersion": "tenancy.kcp.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {
            "name": name,
            "annotations": {edge.ANNOTATION_SYNC_TARGET_NAME: target["metadata"]["name"]},
        },
        "spec": {},
    }


def desired_binding(espw_path: str) -> Obj:
    """APIBinding `bind-edge` to the ESPW's `edge.kcp.io` export."""
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": edge.MAILBOX_BINDING_NAME},
        "spec": {"reference": {"export": {"path": espw_path, "name": edge.EXPORT_NAME}}},
    }


class MailboxController:
    """Reconciles mailbox names against the SyncTarget and Workspace caches."""

    def __init__(
        self,
        mgr: Manager,
        *,
        espw: Client,
        workload_view: Client,
        mbws: Client,
        espw_path: str,
        workers: int,
    ) -> None:
        self.espw = espw
        self.mbws = mbws
        self.espw_path = espw_path
        self.targets: Informer = mgr.informers.informer(
            r.SYNC_TARGETS, client=workload_view.cluster("*")
        )
        self.targets.add_indexers({BY_MAILBOX: lambda obj: [mailbox_name_of(obj)]})
        self.workspaces: Informer = mgr.informers.informer(r.WORKSPACES, client=espw)
        self.workspaces.add_indexers({BY_NAME: lambda obj: [obj["metadata"]["name"]]})
        self.controller = Controller(CONTROLLER_NAME, self.reconcile, workers=workers)
        self.controller.watch(self.targets, lambda obj: self._key(mailbox_name_of(obj)))
        self.controller.watch(self.workspaces, lambda obj: self._key(obj["metadata"]["name"]))
        mgr.add(self.controller)

    @staticmethod
    def _key(name: str) -> Key:
        return Key("", "", name)

    def _target(self, name: str) -> Obj | None:
        live = [t for t in self.targets.store.by_index(BY_MAILBOX, name) if _live(t)]
        return live[0] if live else None

    async def reconcile(self, key: Key) -> Result | None:
        name = key.name
        target = self._target(name)
        found = self.workspaces.store.by_index(BY_NAME, name)
        workspace = found[0] if found else None
        action = decide(name, target, workspace)
        if action is Action.IGNORE:
            if edge.is_mailbox_workspace_name(name):
                log.error(
                    "Cannot make a mailbox: not a valid workspace name",
                    None,
                    mbwsName=name,
                    syncTarget=target and target["metadata"]["name"],
                )
            return None
        if action is Action.NOTHING:
            return None
        if action is Action.WAIT:
            return Result.requeue_after(RECHECK_SECONDS)
        if action is Action.CREATE:
            assert target is not None
            await self._create(name, target)
            return None
        if action is Action.DELETE:
            assert workspace is not None
            await self._delete(workspace)
            return None
        if action is Action.ANNOTATE:
            assert target is not None and workspace is not None
            await self._annotate(workspace, target["metadata"]["name"])
            return None
        assert workspace is not None
        await self._bind(workspace)
        return None

    async def _create(self, name: str, target: Obj) -> None:
        try:
            created = await self.espw.create(
                r.WORKSPACES, desired_workspace(name, target), field_manager=FIELD_MANAGER
            )
        except AlreadyExists:
            return
        log.v(2).info(
            "Created missing workspace",
            mbwsName=name,
            syncTarget=target["metadata"]["name"],
            resourceVersion=created["metadata"].get("resourceVersion"),
        )

    async def _delete(self, workspace: Obj) -> None:
        meta = workspace["metadata"]
        try:
            await self.espw.delete(r.WORKSPACES, meta["name"], preconditions={"uid": meta["uid"]})
        except NotFound:
            return
        log.v(2).info("Deleted unwanted workspace", mbwsName=meta["name"])

    async def _annotate(self, workspace: Obj, target_name: str) -> None:
        patch: dict[str, Any] = {
            "metadata": {
                "annotations": {edge.ANNOTATION_SYNC_TARGET_NAME: target_name},
                "resourceVersion": workspace["metadata"]["resourceVersion"],
            }
        }
        await self.espw.patch(
            r.WORKSPACES,
            workspace["metadata"]["name"],
            patch,
            patch_type="merge",
            field_manager=FIELD_MANAGER,
        )
        log.v(2).info(
            "Repaired workspace annotation",
            mbwsName=workspace["metadata"]["name"],
            was=_annotation(workspace),
            syncTarget=target_name,
        )

    async def _bind(self, workspace: Obj) -> None:
        cluster = workspace["spec"]["cluster"]
        client = self.mbws.cluster(cluster)
        try:
            existing = await client.get(r.API_BINDINGS, edge.MAILBOX_BINDING_NAME)
        except NotFound:
            existing = None
        if existing is not None:
            export = ((existing.get("spec") or {}).get("reference") or {}).get("export") or {}
            wanted = {"path": self.espw_path, "name": edge.EXPORT_NAME}
            if {k: export.get(k) for k in wanted} != wanted:
                log.warning(
                    "APIBinding points elsewhere; leaving it",
                    mbwsName=workspace["metadata"]["name"],
                    binding=edge.MAILBOX_BINDING_NAME,
                    export=export,
                )
            return
        try:
            created = await client.create(
                r.API_BINDINGS, desired_binding(self.espw_path), field_manager=FIELD_MANAGER
            )
        except AlreadyExists:
            return
        log.v(2).info(
            "Created APIBinding",
            mbwsName=workspace["metadata"]["name"],
            mbwsCluster=cluster,
            bindingName=edge.MAILBOX_BINDING_NAME,
            resourceVersion=created["metadata"].get("resourceVersion"),
        )


async def wait_for_workload_view(inventory: Client) -> str:
    """The `workload.kcp.io` view URL; a server not reachable (yet) is waited out, logged."""
    while True:
        try:
            return await wait_for_apiexport_view(inventory, WORKLOAD_EXPORT)
        except ApiError as err:
            # code 0: no HTTP answer at all (refused, reset, timed out); 5xx: server trouble.
            # Anything else (bad credentials, ...) will not heal by waiting.
            if err.code != 0 and not isinstance(err, ServerError):
                raise
            log.warning(
                "Cannot reach the server, will retry",
                url=inventory.base_url,
                retryInSeconds=UNREACHABLE_RETRY_SECONDS,
                reason=str(err),
            )
        await asyncio.sleep(UNREACHABLE_RETRY_SECONDS)


async def build(mgr: Manager, args: argparse.Namespace, clients: app.Clients) -> None:
    """Find the `workload.kcp.io` view, then register the informers and the controller."""
    if args.concurrency < 1:
        raise ValueError("--concurrency must be at least 1")
    espw = await clients.get("main")
    inventory = await clients.get("inventory")
    mbws = await clients.get("mbws")
    view = await wait_for_workload_view(inventory)
    MailboxController(
        mgr,
        espw=espw,
        workload_view=inventory.with_base_url(view),
        mbws=mbws,
        espw_path=args.espw_path,
        workers=args.concurrency,
    )


def _add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--espw-path",
        default="root:espw",
        help="workspace path of the edge.kcp.io export, put in each bind-edge APIBinding",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="reconcile workers")


APP = app.App(
    name=CONTROLLER_NAME,
    description="Keep one mailbox workspace, with APIBinding bind-edge, per SyncTarget.",
    build=build,
    client_flags=(
        app.ClientFlag("inventory", "root", "workspace of the workload.kcp.io APIExport"),
        app.ClientFlag("mbws", "base", "all-cluster client writing APIBindings in mailboxes"),
    ),
    add_flags=_add_flags,
)


def main(argv: list[str] | None = None) -> int:
    return app.main(APP, argv)
