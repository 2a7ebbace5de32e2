"""The edge scheduler against the embedded kcp-mode server: every trigger, restarts, the seed.

Each test starts the real component (`running(APP, ...)` with an admin.kubeconfig whose
current context is root:espw, as after `kubectl ws root:espw`) and watches its effects
through the API, never through its internals, except for the write counter and the queue's
idleness used to prove that a restart makes no needless writes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import seed_example
import yaml
from edgeenv import ESPW, EdgeEnv, create_object, wait_for
from seed_example import BIND_KUBE, EP_C, EP_S, workload

from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.controllers.scheduler import APP, WRITES
from edgemc.runtime import Client, Manager, NotFound
from edgemc.runtime import logging as klog

IMW = "root:imw-1"
WMW_C = "root:my-org:wmw-c"
WMW_S = "root:my-org:wmw-s"

BIND_ESPW = {
    "apiVersion": "apis.kcp.io/v1alpha1",
    "kind": "APIBinding",
    "metadata": {"name": "bind-espw"},
    "spec": {"reference": {"export": {"path": "root:espw", "name": "edge.kcp.io"}}},
}


def placement(name: str, *selectors: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "EdgePlacement",
        "metadata": {"name": name},
        "spec": {"locationSelectors": list(selectors)},
    }


async def make_wmw(env: EdgeEnv, path: str) -> Client:
    """A workload workspace binding the edge API (bind-espw); returns its admin client."""
    await env.create_workspace(path)
    client = env.ws(path)
    await create_object(client, BIND_ESPW)
    await env.server.wait_idle()
    return client


async def inventory(env: EdgeEnv) -> None:
    """The seed's Stage 1: florin (env=prod), guilder (env=prod, extended=si), the ESPW."""
    await env.create_workspace(IMW)
    await env.ensure_location(IMW, "florin", {"env": "prod"})
    await env.ensure_location(IMW, "guilder", {"env": "prod", "extended": "si"})
    await env.install_edge_api()


@asynccontextmanager
async def scheduler(env: EdgeEnv) -> AsyncIterator[Manager]:
    async with running(APP, [f"--kubeconfig={env.kubeconfig(ESPW)}"]) as mgr:
        yield mgr


async def slice_or_none(client: Client, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(r.SINGLE_PLACEMENT_SLICES, name)
    except NotFound:
        return None


async def wait_for_destinations(
    client: Client, name: str, expected: list[tuple[str, str]] | None, within: float = 10.0
) -> dict[str, Any] | None:
    """Wait until slice `name` lists exactly `expected` (location, syncTarget) pairs, in
    order; `None` waits for the slice to be gone. Returns the slice."""
    seen: dict[str, Any] | None = None

    async def probe() -> bool:
        nonlocal seen
        seen = await slice_or_none(client, name)
        if expected is None:
            return seen is None
        if seen is None:
            return False
        got = [(d["locationName"], d["syncTargetName"]) for d in seen["destinations"]]
        return got == expected

    await wait_for(probe, within, f"slice {name} with {expected}")
    return seen


async def wait_for_status(
    client: Client, name: str, reason: str, count: int, within: float = 10.0
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await client.get(r.EDGE_PLACEMENTS, name)
        status = obj.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
        if ready and ready[0]["reason"] == reason and status["matchingLocationCount"] == count:
            return obj
        return None

    return await wait_for(probe, within, f"{name} status {reason}/{count}")


async def wait_until_idle(mgr: Manager) -> None:
    """Wait until the scheduler has synced and has nothing queued, delayed or in flight."""

    async def idle() -> bool:
        if not mgr.controllers or not mgr.ready():
            return False  # still building (waiting for the views) or syncing
        queue = mgr.controllers[0].queue
        return not len(queue) and not queue.processing() and not queue.waiting()

    await wait_for(idle, 10.0, "an idle scheduler")


def writes_made() -> float:
    """Successful writes so far (the counter is process-wide: use differences)."""
    return sum(
        sample.value
        for metric in WRITES.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["result"] == "ok"
    )


def resource_versions(*objs: dict[str, Any]) -> list[str]:
    return [o["metadata"]["resourceVersion"] for o in objs]


# -- EdgePlacement triggers ------------------------------------------------------------------


async def test_placement_create_update_delete(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    async with scheduler(env):
        await wmw.create(r.EDGE_PLACEMENTS, placement("ep", {"matchLabels": {"env": "prod"}}))
        sps = await wait_for_destinations(wmw, "ep", [("florin", "florin"), ("guilder", "guilder")])
        ep = await wait_for_status(wmw, "ep", "Resolved", 2)
        assert sps is not None
        assert sps["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "edge.kcp.io/v1alpha1",
                "kind": "EdgePlacement",
                "name": "ep",
                "uid": ep["metadata"]["uid"],
            }
        ]
        cluster = await env.cluster_of(IMW)
        assert {d["cluster"] for d in sps["destinations"]} == {cluster}
        assert ep["status"]["specGeneration"] == ep["metadata"]["generation"]

        ep["spec"]["locationSelectors"] = [{"matchLabels": {"extended": "si"}}]
        await wmw.update(r.EDGE_PLACEMENTS, ep)
        await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])
        ep = await wait_for_status(wmw, "ep", "Resolved", 1)
        assert ep["status"]["specGeneration"] == ep["metadata"]["generation"] == 2

        ep["spec"]["locationSelectors"] = [{"matchLabels": {"env": "test"}}]
        await wmw.update(r.EDGE_PLACEMENTS, ep)
        await wait_for_destinations(wmw, "ep", [])
        await wait_for_status(wmw, "ep", "NoLocationMatched", 0)

        await wmw.delete(r.EDGE_PLACEMENTS, "ep")
        await wait_for_destinations(wmw, "ep", None)


async def test_invalid_selector_is_a_condition_not_a_crash(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    bad = {"matchExpressions": [{"key": "env", "operator": "Near", "values": ["prod"]}]}
    async with scheduler(env):
        await wmw.create(
            r.EDGE_PLACEMENTS, placement("typo", bad, {"matchLabels": {"extended": "si"}})
        )
        await wmw.create(r.EDGE_PLACEMENTS, placement("empty"))
        await wmw.create(r.EDGE_PLACEMENTS, placement("fine", {"matchLabels": {"env": "prod"}}))
        ep = await wait_for_status(wmw, "typo", "InvalidSelector", 1)
        ready = ep["status"]["conditions"][0]
        assert ready["status"] == "False"
        assert "spec.locationSelectors[0]" in ready["message"] and "Near" in ready["message"]
        # The valid alternative still applies; the invalid one selects nothing.
        await wait_for_destinations(wmw, "typo", [("guilder", "guilder")])
        await wait_for_status(wmw, "empty", "NoLocationSelectors", 0)
        await wait_for_destinations(wmw, "empty", [])
        await wait_for_destinations(wmw, "fine", [("florin", "florin"), ("guilder", "guilder")])


async def test_slice_edits_and_deletion_are_undone(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    async with scheduler(env):
        await wmw.create(r.EDGE_PLACEMENTS, placement("ep", {"matchLabels": {"extended": "si"}}))
        sps = await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])
        assert sps is not None
        sps["destinations"] = []
        await wmw.update(r.SINGLE_PLACEMENT_SLICES, sps)
        await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])
        await wmw.delete(r.SINGLE_PLACEMENT_SLICES, "ep")
        await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])


# -- Location triggers -----------------------------------------------------------------------


async def test_location_relabel_moves_the_placement(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    imw = env.ws(IMW)
    async with scheduler(env):
        await wmw.create(r.EDGE_PLACEMENTS, placement("ep", {"matchLabels": {"extended": "si"}}))
        await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])

        florin = await imw.get(r.LOCATIONS, "florin")
        florin["metadata"]["labels"]["extended"] = "si"
        await imw.update(r.LOCATIONS, florin)
        await wait_for_destinations(wmw, "ep", [("florin", "florin"), ("guilder", "guilder")])
        await wait_for_status(wmw, "ep", "Resolved", 2)

        guilder = await imw.get(r.LOCATIONS, "guilder")
        del guilder["metadata"]["labels"]["extended"]
        await imw.update(r.LOCATIONS, guilder)
        await wait_for_destinations(wmw, "ep", [("florin", "florin")])

        await imw.delete(r.LOCATIONS, "florin")
        await wait_for_destinations(wmw, "ep", [])
        await wait_for_status(wmw, "ep", "NoLocationMatched", 0)


async def test_location_instance_selector_change(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    imw = env.ws(IMW)
    async with scheduler(env):
        await wmw.create(r.EDGE_PLACEMENTS, placement("ep", {"matchLabels": {"extended": "si"}}))
        await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])

        guilder = await imw.get(r.LOCATIONS, "guilder")
        guilder["spec"]["instanceSelector"] = {"matchLabels": {"id": "florin"}}
        await imw.update(r.LOCATIONS, guilder)
        await wait_for_destinations(wmw, "ep", [("guilder", "florin")])

        guilder = await imw.get(r.LOCATIONS, "guilder")
        guilder["spec"]["instanceSelector"] = {"matchLabels": {"id": "nowhere"}}
        await imw.update(r.LOCATIONS, guilder)
        await wait_for_destinations(wmw, "ep", [])
        ep = await wait_for_status(wmw, "ep", "LocationSelectsNoSyncTarget", 1)
        assert "guilder" in ep["status"]["conditions"][0]["message"]

        guilder = await imw.get(r.LOCATIONS, "guilder")
        guilder["spec"]["instanceSelector"] = {"matchLabels": {"env": "prod"}}
        await imw.update(r.LOCATIONS, guilder)
        await wait_for_destinations(wmw, "ep", [("guilder", "florin"), ("guilder", "guilder")])


# -- SyncTarget triggers ---------------------------------------------------------------------


async def test_sync_target_label_change_create_and_delete(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    imw = env.ws(IMW)
    async with scheduler(env):
        await wmw.create(r.EDGE_PLACEMENTS, placement("ep", {"matchLabels": {"env": "prod"}}))
        await wait_for_destinations(wmw, "ep", [("florin", "florin"), ("guilder", "guilder")])

        florin = await imw.get(r.SYNC_TARGETS, "florin")
        florin["metadata"]["labels"]["id"] = "retired"
        await imw.update(r.SYNC_TARGETS, florin)
        await wait_for_destinations(wmw, "ep", [("guilder", "guilder")])
        await wait_for_status(wmw, "ep", "Resolved", 2)

        spare = {
            "apiVersion": "workload.kcp.io/v1alpha1",
            "kind": "SyncTarget",
            "metadata": {"name": "florin-2", "labels": {"id": "florin"}},
        }
        created = await imw.create(r.SYNC_TARGETS, spare)
        sps = await wait_for_destinations(
            wmw, "ep", [("florin", "florin-2"), ("guilder", "guilder")]
        )
        assert sps is not None
        assert sps["destinations"][0]["syncTargetUID"] == created["metadata"]["uid"]

        await imw.delete(r.SYNC_TARGETS, "guilder")
        await wait_for_destinations(wmw, "ep", [("florin", "florin-2")])
        await imw.delete(r.SYNC_TARGETS, "florin-2")
        await wait_for_destinations(wmw, "ep", [])
        await wait_for_status(wmw, "ep", "LocationSelectsNoSyncTarget", 2)


# -- restarts --------------------------------------------------------------------------------


async def test_restart_recomputes_without_needless_writes(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    imw = env.ws(IMW)
    await wmw.create(r.EDGE_PLACEMENTS, placement("all", {"matchLabels": {"env": "prod"}}))
    await wmw.create(r.EDGE_PLACEMENTS, placement("si", {"matchLabels": {"extended": "si"}}))
    await wmw.create(r.EDGE_PLACEMENTS, placement("gone", {"matchLabels": {"env": "prod"}}))
    async with scheduler(env) as mgr:
        await wait_for_destinations(wmw, "si", [("guilder", "guilder")])
        await wait_for_destinations(wmw, "gone", [("florin", "florin"), ("guilder", "guilder")])
        await wait_for_status(wmw, "all", "Resolved", 2)
        await wait_until_idle(mgr)
    untouched = [
        await wmw.get(r.EDGE_PLACEMENTS, "all"),
        await wmw.get(r.SINGLE_PLACEMENT_SLICES, "all"),
    ]

    # A restart with nothing changed writes nothing.
    before = writes_made()
    async with scheduler(env) as mgr:
        await wait_until_idle(mgr)
    assert writes_made() == before
    assert resource_versions(
        await wmw.get(r.EDGE_PLACEMENTS, "all"), await wmw.get(r.SINGLE_PLACEMENT_SLICES, "all")
    ) == resource_versions(*untouched)

    # Changes made while it is down are found on restart: a Location relabelled so that
    # "si" moves, and a slice left behind by a placement that is gone. The server's garbage
    # collector removes slices whose owner is gone, but the scheduler does not rely on it:
    # "stale" names a placement that no longer exists by an owner reference whose uid the
    # collector still finds alive (that of "all"), and the scheduler must delete it.
    florin = await imw.get(r.LOCATIONS, "florin")
    florin["metadata"]["labels"]["extended"] = "si"
    await imw.update(r.LOCATIONS, florin)
    guilder = await imw.get(r.LOCATIONS, "guilder")
    del guilder["metadata"]["labels"]["extended"]
    await imw.update(r.LOCATIONS, guilder)
    stale_owner = {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "EdgePlacement",
        "name": "stale",
        "uid": untouched[0]["metadata"]["uid"],
    }
    stale = {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SinglePlacementSlice",
        "metadata": {"name": "stale", "ownerReferences": [stale_owner]},
        "destinations": [],
    }
    await wmw.create(r.SINGLE_PLACEMENT_SLICES, stale)
    await wmw.delete(r.EDGE_PLACEMENTS, "gone")
    await env.server.wait_idle()
    assert await slice_or_none(wmw, "stale") is not None

    before = writes_made()
    async with scheduler(env) as mgr:
        await wait_for_destinations(wmw, "si", [("florin", "florin")])
        await wait_for_destinations(wmw, "stale", None)
        await wait_for_destinations(wmw, "gone", None)
        await wait_until_idle(mgr)
    # The minimum: one slice update for "si", one slice delete for "stale"; no status
    # changed (every count and reason is as before).
    assert writes_made() - before == 2
    assert resource_versions(
        await wmw.get(r.EDGE_PLACEMENTS, "all"), await wmw.get(r.SINGLE_PLACEMENT_SLICES, "all")
    ) == resource_versions(*untouched)


async def test_restart_mid_way_finishes_with_the_minimum_writes(env: EdgeEnv) -> None:
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    names = [f"ep-{i}" for i in range(30)]
    for name in names:
        await wmw.create(r.EDGE_PLACEMENTS, placement(name, {"matchLabels": {"env": "prod"}}))

    async def some_slice() -> bool:
        return bool((await wmw.list(r.SINGLE_PLACEMENT_SLICES))["items"])

    before = writes_made()
    async with scheduler(env):
        await wait_for(some_slice, 10.0, "a first slice")
    done_first = (await wmw.list(r.SINGLE_PLACEMENT_SLICES))["items"]
    async with scheduler(env) as mgr:
        for name in names:
            await wait_for_destinations(wmw, name, [("florin", "florin"), ("guilder", "guilder")])
            await wait_for_status(wmw, name, "Resolved", 2)
        await wait_until_idle(mgr)
    # One create and one status write per placement, across both runs: nothing redone.
    assert writes_made() - before == 2 * len(names)
    assert 0 < len(done_first) < len(names)  # it was indeed stopped mid-way


# -- the seed's Stage 2, with real kubectl ---------------------------------------------------


async def test_seed_stage2_table(env: EdgeEnv, caplog: Any) -> None:
    await inventory(env)
    seed = ((WMW_C, "common", 8081, EP_C), (WMW_S, "special", 8082, EP_S))
    for path, kind, port, ep in seed:
        await env.create_workspace(path)
        kubectl = env.kubectl(path)
        await kubectl.arun("apply", "-f", "-", input=BIND_KUBE)
        await env.server.wait_idle()
        await kubectl.arun("apply", "-f", "-", input=workload(kind, port))
        await kubectl.arun("apply", "-f", "-", input=seed_example.BIND_ESPW)
        await env.server.wait_idle()
        await kubectl.arun("apply", "-f", "-", input=ep)

    wmw_c, wmw_s = env.ws(WMW_C), env.ws(WMW_S)
    klog.set_verbosity(2)
    caplog.set_level(logging.INFO, logger="edgemc.controllers.scheduler")
    try:
        async with scheduler(env):
            await wait_for_destinations(
                wmw_c, "edge-placement-c", [("florin", "florin"), ("guilder", "guilder")]
            )
            await wait_for_destinations(wmw_s, "edge-placement-s", [("guilder", "guilder")])
            await wait_for_status(wmw_c, "edge-placement-c", "Resolved", 2)
            await wait_for_status(wmw_s, "edge-placement-s", "Resolved", 1)
    finally:
        klog.set_verbosity(0)

    imw_cluster, wmw_c_cluster = await env.cluster_of(IMW), await env.cluster_of(WMW_C)
    florin = await env.ws(IMW).get(r.SYNC_TARGETS, "florin")
    guilder = await env.ws(IMW).get(r.SYNC_TARGETS, "guilder")
    kubectl_c = env.kubectl(WMW_C)
    listing = yaml.safe_load(
        (await kubectl_c.arun("get", "SinglePlacementSlice", "-o", "yaml")).stdout
    )
    [sps] = listing["items"]
    assert sps["destinations"] == [
        {
            "cluster": imw_cluster,
            "locationName": name,
            "syncTargetName": name,
            "syncTargetUID": st["metadata"]["uid"],
        }
        for name, st in (("florin", florin), ("guilder", guilder))
    ]
    assert sps["metadata"]["annotations"]["kcp.io/cluster"] == wmw_c_cluster
    assert sps["metadata"]["ownerReferences"][0]["name"] == "edge-placement-c"

    table = (await kubectl_c.arun("get", "sps")).stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE"]
    assert table[1].split()[0] == "edge-placement-c"
    table = (await env.kubectl(WMW_S).arun("get", "epl", "-o", "wide")).stdout.splitlines()
    assert table[0].split() == ["NAME", "LOCATIONS", "READY", "REASON", "AGE"]
    assert table[1].split()[:4] == ["edge-placement-s", "1", "True", "Resolved"]

    lines = [rec for rec in caplog.records if "SinglePlacementSlice" in rec.getMessage()]
    assert {(rec.getMessage(), rec.klog_pairs["singlePlacementSlice"]) for rec in lines} == {
        ("created SinglePlacementSlice", "edge-placement-c"),
        ("created SinglePlacementSlice", "edge-placement-s"),
    }
    assert lines[0].klog_pairs["controller"] == "edge-scheduler"


async def test_command_logs_like_the_seed(env: EdgeEnv) -> None:
    """`python -m edgemc.cmd scheduler` with the ESPW as current context, -v=2 by default."""
    await inventory(env)
    wmw = await make_wmw(env, WMW_C)
    await wmw.create(
        r.EDGE_PLACEMENTS, placement("edge-placement-c", {"matchLabels": {"env": "prod"}})
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgemc.cmd",
        "scheduler",
        f"--kubeconfig={env.kubeconfig(ESPW)}",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_for_destinations(
            wmw, "edge-placement-c", [("florin", "florin"), ("guilder", "guilder")], within=30
        )
        await wait_for_status(wmw, "edge-placement-c", "Resolved", 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await proc.communicate()
    assert proc.returncode == 0
    lines = stderr.decode().splitlines()
    espw_cluster = await env.cluster_of(ESPW)
    wmw_cluster = await env.cluster_of(WMW_C)
    assert any(
        '"Found APIExport view" exportName="edge.kcp.io"' in line
        and f"/services/apiexport/{espw_cluster}/edge.kcp.io" in line
        for line in lines
    )
    [created] = [line for line in lines if '"created SinglePlacementSlice"' in line]
    assert created.startswith("I")
    assert (
        f'controller="edge-scheduler" key="{wmw_cluster}|edge-placement-c" '
        f'workloadWorkspace="{wmw_cluster}" singlePlacementSlice="edge-placement-c" '
        "destinations=2"
    ) in created
