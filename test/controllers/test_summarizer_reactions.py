"""The status summarizer across a restart (no rewrites), with aggregation switched off per
EdgePlacement, and when a placement goes away (its summaries are removed)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from edgeenv import ESPW, EdgeEnv, wait_for
from test_summarizer_stage5 import READY, status_of, summary, wait_status
from test_summarizer_support import WMW_C, WMW_S, SeedRig

from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.summarizer import APP, WRITES

COMMON = ("commonstuff", "deployments.apps-commond")
SPECIAL = ("specialstuff", "deployments.apps-speciald")


def writes() -> float:
    return sum(s.value for m in WRITES.collect() for s in m.samples if s.name.endswith("_total"))


async def seeded(env: EdgeEnv) -> SeedRig:
    rig = SeedRig(env)
    await rig.setup()
    for target in ("florin", "guilder"):
        await rig.project(WMW_C, target, "commonstuff", "commond")
        await rig.report(target, "commonstuff", "commond", **READY)
    await rig.project(WMW_S, "guilder", "specialstuff", "speciald")
    await rig.report("guilder", "specialstuff", "speciald", **READY)
    return rig


async def test_restart_writes_nothing_that_is_right(env: EdgeEnv) -> None:
    rig = await seeded(env)
    wmw_c, wmw_s = env.ws(WMW_C), env.ws(WMW_S)
    argv = ["--kubeconfig", str(env.kubeconfig(ESPW))]  # default threshold: 60 s
    async with rig.syncers_beating(period=5):
        async with app.running(APP, argv):
            before = await wait_status(wmw_c, *COMMON, "common ready", ready=2)
            await wait_status(wmw_s, *SPECIAL, "special ready", ready=1)

            async def aggregated() -> dict[str, Any] | None:
                dep = await wmw_c.get(r.DEPLOYMENTS, "commond", "commonstuff")
                return dep if status_of(dep).get("readyReplicas") == 2 else None

            source = await wait_for(aggregated, 15, "aggregated")
        written = writes()
        async with app.running(APP, argv):
            # A change after the restart: once it is summarised, the start-up work is done.
            await rig.report("guilder", "specialstuff", "speciald", replicas=1, readyReplicas=0)
            await wait_status(wmw_s, *SPECIAL, "special not ready", ready=0)
            after = await summary(wmw_c, *COMMON)
            assert after is not None
            rv = after["metadata"]["resourceVersion"]
            assert rv == before["metadata"]["resourceVersion"]
            dep = await wmw_c.get(r.DEPLOYMENTS, "commond", "commonstuff")
            assert dep["metadata"]["resourceVersion"] == source["metadata"]["resourceVersion"]
            # the special summary and the special source's status: nothing else
            assert writes() - written == 2


async def test_aggregation_switch_and_placement_removal(env: EdgeEnv) -> None:
    rig = await seeded(env)
    wmw_c = env.ws(WMW_C)
    argv = ["--kubeconfig", str(env.kubeconfig(ESPW))]
    async with rig.syncers_beating(period=5), app.running(APP, argv):
        await wait_status(wmw_c, *COMMON, "common ready", ready=2)
        await wmw_c.patch(
            r.EDGE_PLACEMENTS, "edge-placement-c", {"spec": {"aggregateStatusIntoSource": False}}
        )
        await rig.report("florin", "commonstuff", "commond", replicas=1, readyReplicas=0)
        await wait_status(
            wmw_c, *COMMON, "florin not ready", workload={"readyReplicas": 1}, ready=1
        )
        dep = await wmw_c.get(r.DEPLOYMENTS, "commond", "commonstuff")
        assert status_of(dep)["readyReplicas"] == 2  # left as it was

        await wmw_c.delete(r.EDGE_PLACEMENTS, "edge-placement-c")

        async def removed() -> bool:
            return await summary(wmw_c, *COMMON) is None

        await wait_for(removed, 15, "summary removed with its placement")


async def test_invalid_namespace_selector_is_said_once_per_generation(
    env: EdgeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await seeded(env)
    wmw_c = env.ws(WMW_C)
    bad = {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "EdgePlacement",
        "metadata": {"name": "bad-namespaces"},
        "spec": {
            "namespaceSelector": {
                "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
            },
            "locationSelectors": [{"matchLabels": {"env": "prod"}}],
        },
    }
    await wmw_c.create(r.EDGE_PLACEMENTS, bad)
    argv = ["--kubeconfig", str(env.kubeconfig(ESPW))]
    said = "EdgePlacement has an invalid namespaceSelector"
    caplog.set_level(logging.WARNING, logger="edgemc")
    async with rig.syncers_beating(period=5), app.running(APP, argv):
        await wait_status(wmw_c, *COMMON, "common ready", ready=2)
        for ready in (1, 0, 1):  # three more reconciles of the subject
            await rig.report("florin", "commonstuff", "commond", replicas=1, readyReplicas=ready)
            await wait_status(wmw_c, *COMMON, f"florin ready={ready}", ready=1 + ready)
        assert sum(said in m for m in caplog.messages) == 1
        await wmw_c.patch(r.EDGE_PLACEMENTS, "bad-namespaces", {"metadata": {"labels": {"x": "y"}}})
        await wmw_c.patch(
            r.EDGE_PLACEMENTS,
            "bad-namespaces",
            {"spec": {"namespaceSelector": {"matchExpressions": [
                {"key": "b", "operator": "NotIn", "values": []}]}}},
        )  # fmt: skip
        await rig.report("florin", "commonstuff", "commond", replicas=1, readyReplicas=0)
        await wait_status(wmw_c, *COMMON, "florin not ready again", ready=1)

        async def said_again() -> bool:  # the new generation is said once more
            return sum(said in m for m in caplog.messages) == 2

        await wait_for(said_again, 15, "the new generation's warning")


async def test_new_destination_is_summarized_once_its_copy_lands(
    env: EdgeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A placement gaining a destination: within the projection grace the summary waits for
    the translator's copy instead of reporting it NotProjected and then again."""
    rig = await seeded(env)
    wmw_s = env.ws(WMW_S)
    argv = ["--kubeconfig", str(env.kubeconfig(ESPW)), "--projection-grace=60", "-v=3"]
    caplog.set_level(logging.DEBUG, logger="edgemc")
    async with rig.syncers_beating(period=5), app.running(APP, argv):
        await wait_status(wmw_s, *SPECIAL, "special ready", ready=1, destinations=1)
        written = writes()
        await rig.slice(WMW_S, "edge-placement-s", ["florin", "guilder"])

        async def holding() -> bool:
            return any("Waiting for copies at new destinations" in m for m in caplog.messages)

        await wait_for(holding, 15, "the summarizer waiting for florin's copy")
        assert writes() == written  # nothing said of florin yet
        await rig.project(WMW_S, "florin", "specialstuff", "speciald")
        got = await wait_status(wmw_s, *SPECIAL, "florin counted", destinations=2)
        assert status_of(got)["ready"] == 1  # florin's copy has no status yet
        assert writes() - written == 1
