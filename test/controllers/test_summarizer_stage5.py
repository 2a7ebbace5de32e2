"""Seed Stage 5 with real kubectl: the status summarizer over the seed's two workloads.

The inputs of the other components (slices, mailboxes, copies, returned status, heartbeats)
are written through the API; the summarizer runs in this event loop with a staleness
threshold of a few seconds.
"""

from __future__ import annotations

from typing import Any

from edgeenv import ESPW, EdgeEnv, wait_for
from test_summarizer_support import WMW_C, WMW_S, SeedRig, ago

from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.summarizer import APP, STATUS_SUMMARIES
from edgemc.runtime import Client, NotFound

THRESHOLD = "3"
READY = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}


async def summary(client: Client, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(STATUS_SUMMARIES, name, namespace)
    except NotFound:
        return None


def status_of(obj: dict[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get("status") or {}


async def wait_status(
    client: Client,
    namespace: str,
    name: str,
    what: str,
    workload: dict[str, int] | None = None,
    **expected: Any,
) -> dict[str, Any]:
    """Wait until the summary's status has the `expected` counts (and `workload` counts)."""

    async def probe() -> dict[str, Any] | None:
        got = await summary(client, namespace, name)
        status = status_of(got)
        counts = status.get("workload") or {}
        if any(status.get(k) != v for k, v in expected.items()):
            return None
        if any(counts.get(k) != v for k, v in (workload or {}).items()):
            return None
        return got

    return await wait_for(probe, 15, what)


def table(out: str) -> list[dict[str, str]]:
    lines = [line.split() for line in out.strip().splitlines()]
    return [dict(zip(lines[0], row, strict=False)) for row in lines[1:]]


async def test_stage5_commond_and_speciald(env: EdgeEnv) -> None:
    rig = SeedRig(env)
    await rig.setup()
    wmw_c, wmw_s = env.ws(WMW_C), env.ws(WMW_S)
    argv = ["--kubeconfig", str(env.kubeconfig(ESPW)), "--staleness-threshold", THRESHOLD]
    async with rig.syncers_beating() as beating, app.running(APP, argv):
        # Placed but not yet projected: both destinations are missing.
        missing = await wait_status(
            wmw_c, "commonstuff", "deployments.apps-commond", "summary", destinations=2, missing=2
        )
        assert {b["reason"] for b in missing["status"]["broken"]} == {"NotProjected"}
        assert missing["subject"]["name"] == "commond"
        labels = missing["metadata"]["labels"]
        assert labels["edge.kcp.io/edge-placement"] == "edge-placement-c"
        assert labels["edge.kcp.io/subject-resource"] == "deployments.apps"

        # The translator's copies, then the syncers' status return.
        for target in ("florin", "guilder"):
            await rig.project(WMW_C, target, "commonstuff", "commond")
        await rig.project(WMW_S, "guilder", "specialstuff", "speciald")
        await wait_status(
            wmw_c, "commonstuff", "deployments.apps-commond", "copies", missing=0, reporting=0
        )
        # The mailboxes' copies are watched through one wildcard watch, by identity.
        mailboxes = {await env.cluster_of(f"{ESPW}:{rig.mailbox_name(t)}") for t in rig.targets}
        watches = env.server.store.watches_by_target()
        deployments = [(k, c) for k, c in watches if k[:2] == ("apps", "deployments")]
        assert [k[2] != "" for k, c in deployments if c is None] == [True]
        assert not [c for _, c in deployments if c in mailboxes]
        for target in ("florin", "guilder"):
            await rig.report(target, "commonstuff", "commond", **READY)
        await rig.report("guilder", "specialstuff", "speciald", **READY)

        common = await wait_status(
            wmw_c,
            "commonstuff",
            "deployments.apps-commond",
            "2 of 2 ready",
            destinations=2,
            reporting=2,
            current=2,
            ready=2,
            stale=0,
            missing=0,
        )
        assert common["status"]["workload"]["readyReplicas"] == 2
        assert "broken" not in common["status"]
        await wait_status(
            wmw_s,
            "specialstuff",
            "deployments.apps-speciald",
            "1 of 1 ready",
            destinations=1,
            ready=1,
        )

        kubectl_c = env.kubectl(WMW_C)
        out = await kubectl_c.arun("get", "statussummaries", "-n", "commonstuff")
        row = table(out.stdout)[0]
        assert row["NAME"] == "deployments.apps-commond"
        assert (row["KIND"], row["SUBJECT"], row["DESTINATIONS"], row["READY"]) == (
            "Deployment",
            "commond",
            "2",
            "2",
        )
        assert (row["STALE"], row["MISSING"]) == ("0", "0")
        out = await env.kubectl(WMW_S).arun("get", "statussummaries", "-n", "specialstuff")
        row = table(out.stdout)[0]
        assert (row["SUBJECT"], row["DESTINATIONS"], row["READY"]) == ("speciald", "1", "1")

        # Karmada-like aggregation into the source Deployment in wmw-c.
        async def aggregated() -> dict[str, Any] | None:
            dep = await wmw_c.get(r.DEPLOYMENTS, "commond", "commonstuff")
            return dep if status_of(dep).get("readyReplicas") == 2 else None

        dep = await wait_for(aggregated, 15, "source status aggregated")
        assert status_of(dep)["replicas"] == 2
        assert status_of(dep)["availableReplicas"] == 2
        out = await kubectl_c.arun("get", "deploy", "-n", "commonstuff")
        assert table(out.stdout)[0]["READY"].startswith("2/")

        # An edge Deployment scaled: guilder reports 3 replicas, 1 of them ready.
        await rig.report(
            "guilder",
            "commonstuff",
            "commond",
            replicas=3,
            readyReplicas=1,
            availableReplicas=1,
            updatedReplicas=3,
        )
        # spec.replicas is 1 everywhere, so 1 ready of 3 still meets it
        await wait_status(
            wmw_c,
            "commonstuff",
            "deployments.apps-commond",
            "scaled",
            workload={"replicas": 4, "readyReplicas": 2, "updatedReplicas": 4},
            ready=2,
        )
        await rig.report("guilder", "commonstuff", "commond", replicas=1, readyReplicas=0)
        scaled = await wait_status(
            wmw_c,
            "commonstuff",
            "deployments.apps-commond",
            "guilder not ready",
            workload={"readyReplicas": 1},
            ready=1,
        )
        [broken] = scaled["status"]["broken"]
        assert (broken["syncTargetName"], broken["reason"]) == ("guilder", "NotReady")
        await wait_for(lambda: _source_ready(wmw_c, 1), 15, "source status follows the scaled edge")
        await rig.report("guilder", "commonstuff", "commond", **READY)
        await wait_status(wmw_c, "commonstuff", "deployments.apps-commond", "ready again", ready=2)

        # florin's syncer goes silent: an old heartbeat is stale at once...
        beating.discard("florin")
        await rig.heartbeat("florin", ago(600))
        stale = await wait_status(
            wmw_c, "commonstuff", "deployments.apps-commond", "florin stale", stale=1, ready=1
        )
        [broken] = stale["status"]["broken"]
        assert (broken["syncTargetName"], broken["reason"]) == ("florin", "Stale")
        out = await kubectl_c.arun("get", "statussummaries", "-n", "commonstuff")
        assert table(out.stdout)[0]["STALE"] == "1"
        # ... and a fresh one that is not renewed turns stale after the threshold, by itself.
        beating.add("florin")
        await wait_status(wmw_c, "commonstuff", "deployments.apps-commond", "fresh", stale=0)
        beating.discard("florin")
        await wait_status(wmw_c, "commonstuff", "deployments.apps-commond", "stale by age", stale=1)

        # No longer placed: the summary goes away.
        await wmw_s.patch(r.NAMESPACES, "specialstuff", {"metadata": {"labels": {"special": "no"}}})

        async def removed() -> bool:
            return await summary(wmw_s, "specialstuff", "deployments.apps-speciald") is None

        await wait_for(removed, 15, "summary of an unplaced object removed")


async def _source_ready(client: Client, ready: int) -> bool:
    dep = await client.get(r.DEPLOYMENTS, "commond", "commonstuff")
    return status_of(dep).get("readyReplicas") == ready
