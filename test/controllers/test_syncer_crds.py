"""The upstream SyncerConfig e2e scenarios (spec 7.10) on the embedded servers: CRDs and
custom resources down, custom resources up, by name and with wildcards; and the heartbeat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from edgeenv import EdgeEnv, wait_for
from test_syncer_support import Rig, get_or_none, wait_gone, wait_present

from edgemc.apis.edge import ANNOTATION_DOWNSYNCED, ANNOTATION_UPSYNCED
from edgemc.controllers import resources as r
from edgemc.runtime import GroupVersionResource

DOWN = GroupVersionResource("my.domain", "v1alpha1", "sampledownsyncs")
UP = GroupVersionResource("my.domain", "v1alpha1", "sampleupsyncs")


def crd(plural: str, kind: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.my.domain"},
        "spec": {
            "group": "my.domain",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "scope": "Cluster",
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def sample(kind: str, name: str, value: str) -> dict:
    return {
        "apiVersion": "my.domain/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"value": value},
    }


def syncer_config(wildcard: bool) -> dict:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": "syncer-config"},
        "spec": {
            "namespaceScope": {
                "namespaces": ["test"],
                "resources": [{"group": "", "apiVersion": "v1", "resource": "configmaps"}],
            },
            "clusterScope": [
                {
                    "group": "apiextensions.k8s.io",
                    "apiVersion": "v1",
                    "resource": "customresourcedefinitions",
                    "objects": ["sampleupsyncs.my.domain", "sampledownsyncs.my.domain"],
                },
                {
                    "group": "my.domain",
                    "apiVersion": "v1alpha1",
                    "resource": "sampledownsyncs",
                    "objects": ["*"] if wildcard else ["sample-downsync"],
                },
            ],
            "upsync": [
                {
                    "apiGroup": "my.domain",
                    "resources": ["sampleupsyncs"],
                    "names": ["*"] if wildcard else ["sample-upsync"],
                }
            ],
        },
    }


@pytest.fixture
async def rig(env: EdgeEnv, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(env, tmp_path)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()


@pytest.mark.parametrize("wildcard", [False, True], ids=["names", "wildcard"])
async def test_crds_and_custom_resources_down_and_up(rig: Rig, wildcard: bool) -> None:
    mb, edge = rig.mailbox, rig.edge
    await mb.create(r.SYNCER_CONFIGS, syncer_config(wildcard))
    await mb.create(
        r.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test"}}
    )
    await mb.create(r.CRDS, crd("sampleupsyncs", "SampleUpsync"))
    await mb.create(r.CRDS, crd("sampledownsyncs", "SampleDownsync"))

    # The CR can only be created once the CRD is served in the mailbox.
    async def create_cr() -> bool:
        try:
            await mb.create(DOWN, sample("SampleDownsync", "sample-downsync", "down"))
        except Exception:
            return False
        return True

    await wait_for(create_cr, 10, "mailbox serving the CRD")
    if wildcard:
        await mb.create(DOWN, sample("SampleDownsync", "another", "down"))
    async with rig.syncer():
        await wait_present(edge, r.NAMESPACES, "test")
        for name in ("sampleupsyncs.my.domain", "sampledownsyncs.my.domain"):
            got = await wait_present(edge, r.CRDS, name)
            assert got["metadata"]["annotations"][ANNOTATION_DOWNSYNCED] == "true"
        cr = await wait_present(edge, DOWN, "sample-downsync")
        assert cr["spec"] == {"value": "down"}
        if wildcard:
            await wait_present(edge, DOWN, "another")

        await edge.create(UP, sample("SampleUpsync", "sample-upsync", "up"))
        up = await wait_present(mb, UP, "sample-upsync")
        assert up["spec"] == {"value": "up"}
        assert up["metadata"]["annotations"][ANNOTATION_UPSYNCED] == "true"
        if not wildcard:
            await edge.create(UP, sample("SampleUpsync", "not-selected", "up"))

        # An update at the edge arrives upstream (the C4 variant of the test).
        current = await edge.get(UP, "sample-upsync")
        current["spec"] = {"value": "changed"}
        await edge.update(UP, current)

        async def updated() -> bool:
            got = await mb.get(UP, "sample-upsync")
            return got["spec"] == {"value": "changed"}

        await wait_for(updated, 10, "the edge update in the mailbox")
        if not wildcard:
            assert await get_or_none(mb, UP, "not-selected") is None

        # The edge object goes -> its upsynced copy goes.
        await edge.delete(UP, "sample-upsync")
        await wait_gone(mb, UP, "sample-upsync")


async def test_heartbeat_is_written(rig: Rig) -> None:
    mb = rig.mailbox
    await mb.create(r.SYNCER_CONFIGS, syncer_config(False))
    async with rig.syncer():

        async def beat() -> str | None:
            got = await mb.get(r.SYNCER_CONFIGS, "syncer-config")
            return (got.get("status") or {}).get("lastSyncerHeartbeatTime")

        first = await wait_for(beat, 10, "a heartbeat")

        async def later() -> bool:
            return (await beat() or "") > first

        await wait_for(later, 5, "a later heartbeat")
        got = await mb.get(r.SYNCER_CONFIGS, "syncer-config")
        assert got["spec"] == syncer_config(False)["spec"]


async def test_edge_sync_config(rig: Rig) -> None:
    """Spec 7.10 TestEdgeSyncerWithEdgeSyncConfig: the older config kind, by kind and name."""
    mb, edge = rig.mailbox, rig.edge
    sample_gvr = GroupVersionResource("my.domain", "v1alpha1", "samples")
    await mb.create(
        r.EDGE_SYNC_CONFIGS,
        {
            "apiVersion": "edge.kcp.io/v1alpha1",
            "kind": "EdgeSyncConfig",
            "metadata": {"name": "test"},
            "spec": {
                "downSyncedResources": [
                    {"kind": "Namespace", "group": "", "version": "v1", "name": "test"},
                    {
                        "kind": "ConfigMap",
                        "group": "",
                        "version": "v1",
                        "namespace": "test",
                        "name": "test",
                    },
                    {
                        "kind": "CustomResourceDefinition",
                        "group": "apiextensions.k8s.io",
                        "version": "v1",
                        "name": "samples.my.domain",
                    },
                    {
                        "kind": "Sample",
                        "group": "my.domain",
                        "version": "v1alpha1",
                        "name": "sample-downsync",
                    },
                ],
                "upSyncedResources": [
                    {
                        "kind": "Sample",
                        "group": "my.domain",
                        "version": "v1alpha1",
                        "name": "sample-upsync",
                    }
                ],
            },
        },
    )
    await mb.create(
        r.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test"}}
    )
    await mb.create(
        r.CONFIGMAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"namespace": "test", "name": "test"},
            "data": {"a": "b"},
        },
    )
    await mb.create(r.CRDS, crd("samples", "Sample"))

    async def create_cr() -> bool:
        try:
            await mb.create(sample_gvr, sample("Sample", "sample-downsync", "down"))
        except Exception:
            return False
        return True

    await wait_for(create_cr, 10, "mailbox serving the CRD")
    async with rig.syncer():
        await wait_present(edge, r.NAMESPACES, "test")
        await wait_present(edge, r.CONFIGMAPS, "test", "test")
        await wait_present(edge, r.CRDS, "samples.my.domain")
        await wait_present(edge, sample_gvr, "sample-downsync")
        await edge.create(sample_gvr, sample("Sample", "sample-upsync", "up"))
        await wait_present(mb, sample_gvr, "sample-upsync")
