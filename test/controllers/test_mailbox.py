"""The mailbox controller on the embedded kcp server: one mailbox per SyncTarget, kept so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from edgeenv import ESPW, EdgeEnv, wait_for

from edgemc.apis import edge
from edgemc.controllers import mailbox
from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.controllers.mailbox import Action, decide
from edgemc.runtime import Manager, NotFound

IMW = "root:imw-1"


def target(name: str = "florin", uid: str = "u1", deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid, "annotations": {"kcp.io/cluster": "c1"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


def workspace(annotation: str | None = "florin", **status: Any) -> dict[str, Any]:
    annotations = {edge.ANNOTATION_SYNC_TARGET_NAME: annotation} if annotation else {}
    return {
        "metadata": {"name": "c1-mb-u1", "uid": "w1", "annotations": annotations},
        "spec": {"cluster": status.pop("cluster", "mbc")},
        "status": {"phase": status.pop("phase", "Ready")},
    }


@pytest.mark.parametrize(
    ("name", "st", "ws", "action"),
    [
        ("not-a-mailbox", target(), None, Action.IGNORE),
        ("C1-mb-U1", target(), None, Action.IGNORE),
        ("c1-mb-u1", target(), None, Action.CREATE),
        ("c1-mb-u1", None, workspace(), Action.DELETE),
        ("c1-mb-u1", target(deleting=True), workspace(), Action.DELETE),
        ("c1-mb-u1", None, None, Action.NOTHING),
        ("c1-mb-u1", target(), workspace(annotation="guilder"), Action.ANNOTATE),
        ("c1-mb-u1", target(), workspace(annotation=None), Action.ANNOTATE),
        ("c1-mb-u1", target(), workspace(phase="Initializing"), Action.WAIT),
        ("c1-mb-u1", target(), workspace(), Action.BIND),
    ],
)
def test_decide(name: str, st: Any, ws: Any, action: Action) -> None:
    assert decide(name, st, ws) is action


def test_decide_waits_for_a_deleting_workspace() -> None:
    ws = workspace()
    ws["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert decide("c1-mb-u1", target(), ws) is Action.WAIT
    assert decide("c1-mb-u1", None, ws) is Action.NOTHING


@asynccontextmanager
async def controller(env: EdgeEnv) -> AsyncIterator[Manager]:
    argv = [f"--kubeconfig={env.kubeconfig(ESPW)}", "-v=2"]
    async with running(mailbox.APP, argv) as mgr:
        yield mgr


async def mailboxes(env: EdgeEnv) -> dict[str, dict[str, Any]]:
    """SyncTarget name -> mailbox Workspace (only Ready ones with bind-edge Bound)."""
    out = {}
    for ws in (await env.ws(ESPW).list(r.WORKSPACES))["items"]:
        name = (ws["metadata"].get("annotations") or {}).get(edge.ANNOTATION_SYNC_TARGET_NAME)
        cluster = (ws.get("spec") or {}).get("cluster")
        if not name or not cluster:
            continue
        try:
            binding = await env.ws(cluster).get(r.API_BINDINGS, edge.MAILBOX_BINDING_NAME)
        except NotFound:
            continue
        if (binding.get("status") or {}).get("phase") == "Bound":
            out[name] = ws
    return out


async def expect(env: EdgeEnv, names: set[str], within: float = 20.0) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await mailboxes(env)
        all_ws = (await env.ws(ESPW).list(r.WORKSPACES))["items"]
        if set(found) == names and len(all_ws) == len(names):
            return found
        return None

    return await wait_for(probe, within, f"mailboxes of {sorted(names)}")


async def seed_inventory(env: EdgeEnv) -> dict[str, dict[str, Any]]:
    await env.create_workspace(IMW)
    targets = {
        "florin": await env.ensure_location(IMW, "florin", {"env": "prod"}),
        "guilder": await env.ensure_location(IMW, "guilder", {"env": "prod", "extended": "si"}),
    }
    await env.install_edge_api()
    return targets


async def test_mailboxes_follow_sync_targets(env: EdgeEnv) -> None:
    targets = await seed_inventory(env)
    imw_cluster = await env.cluster_of(IMW)
    async with controller(env):
        found = await expect(env, {"florin", "guilder"})
        for name, ws in found.items():
            uid = targets[name]["metadata"]["uid"]
            assert ws["metadata"]["name"] == f"{imw_cluster}-mb-{uid}"
            binding = await env.ws(ws["spec"]["cluster"]).get(r.API_BINDINGS, "bind-edge")
            assert binding["spec"]["reference"]["export"] == {
                "path": "root:espw",
                "name": "edge.kcp.io",
            }

        await env.ensure_location(IMW, "gouda", {"env": "dev"})
        found = await expect(env, {"florin", "guilder", "gouda"})

        await env.ws(IMW).delete(r.SYNC_TARGETS, "gouda")
        found = await expect(env, {"florin", "guilder"})

        # Deleted by hand: re-created; annotation broken by hand: repaired.
        florin_ws = found["florin"]["metadata"]["name"]
        await env.ws(ESPW).delete(r.WORKSPACES, florin_ws)

        async def recreated() -> bool:
            found = await mailboxes(env)
            ws = found.get("florin")
            return ws is not None and ws["metadata"]["uid"] != found_uid

        found_uid = found["florin"]["metadata"]["uid"]
        await wait_for(recreated, 20, "florin's mailbox re-created")
        guilder_ws = found["guilder"]["metadata"]["name"]
        await env.ws(ESPW).patch(
            r.WORKSPACES,
            guilder_ws,
            {"metadata": {"annotations": {edge.ANNOTATION_SYNC_TARGET_NAME: "wrong"}}},
        )
        await expect(env, {"florin", "guilder"})


async def test_restart_makes_no_duplicates_and_catches_up(env: EdgeEnv) -> None:
    await seed_inventory(env)
    async with controller(env):
        before = await expect(env, {"florin", "guilder"})
    await env.ws(IMW).delete(r.SYNC_TARGETS, "florin")
    await env.ensure_location(IMW, "gouda", {"env": "dev"})
    async with controller(env):
        after = await expect(env, {"guilder", "gouda"})
    assert after["guilder"]["metadata"]["uid"] == before["guilder"]["metadata"]["uid"]


async def test_many_sync_targets_converge(env: EdgeEnv) -> None:
    await env.create_workspace(IMW)
    await env.install_edge_api()
    names = {f"edge-{i}" for i in range(60)}
    client = env.ws(IMW)
    for name in names:
        await client.create(
            r.SYNC_TARGETS,
            {
                "apiVersion": "workload.kcp.io/v1alpha1",
                "kind": "SyncTarget",
                "metadata": {"name": name, "labels": {"id": name}},
            },
        )
    async with controller(env):
        await expect(env, names, within=60)


async def test_missing_export_is_waited_out(env: EdgeEnv) -> None:
    """The ESPW exists before its edge.kcp.io export: bindings come once the export does."""
    await env.create_workspace(IMW)
    await env.ensure_location(IMW, "florin", {"env": "prod"})
    await env.create_workspace(ESPW)
    async with controller(env):

        async def workspace_made() -> bool:
            return bool((await env.ws(ESPW).list(r.WORKSPACES))["items"])

        await wait_for(workspace_made, 20, "florin's mailbox workspace")
        await env.install_edge_api()
        await expect(env, {"florin"}, within=30)
