"""Syncer downsync, status return and deletion against real servers (spec 7.4, 7.5, 7.10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from edgeenv import EdgeEnv, wait_for
from test_syncer_support import Rig, get_or_none, wait_gone, wait_present

from edgemc.apis.edge import ANNOTATION_DOWNSYNCED
from edgemc.controllers import resources as r
from edgemc.controllers.syncer.objects import DIGEST_ANNOTATION

SEED_RESOURCES = [
    {"group": "", "apiVersion": "v1", "resource": "configmaps"},
    {"group": "apps", "apiVersion": "v1", "resource": "deployments"},
    {"group": "", "apiVersion": "v1", "resource": "secrets"},
    {"group": "", "apiVersion": "v1", "resource": "serviceaccounts"},
    {"group": "", "apiVersion": "v1", "resource": "pods"},
    {"group": "coordination.k8s.io", "apiVersion": "v1", "resource": "leases"},
]


def syncer_config(name: str, namespaces: list[str], resources: list[dict] | None = None) -> dict:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": name},
        "spec": {
            "namespaceScope": {
                "namespaces": namespaces,
                "resources": SEED_RESOURCES if resources is None else resources,
            }
        },
    }


def deployment(ns: str, name: str, port: int = 8081) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": ns, "name": name, "labels": {"edge.kcp.io/projected": "yes"}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "httpd",
                            "image": "library/httpd:2.4",
                            "ports": [{"containerPort": 80, "hostPort": port}],
                        }
                    ]
                },
            },
        },
    }


def configmap(ns: str, name: str, text: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": ns, "name": name},
        "data": {"index.html": text},
    }


def namespace(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@pytest.fixture
async def rig(env: EdgeEnv, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(env, tmp_path)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()


async def test_seed_objects_downsync_and_status_returns(rig: Rig) -> None:
    mb = rig.mailbox
    await mb.create(r.NAMESPACES, namespace("commonstuff", {"common": "si"}))
    await mb.create(r.CONFIGMAPS, configmap("commonstuff", "httpd-htdocs", "common"))
    await mb.create(r.DEPLOYMENTS, deployment("commonstuff", "commond"))
    await mb.create(r.SYNCER_CONFIGS, syncer_config("the-one", ["commonstuff"]))
    async with rig.syncer():

        async def labelled() -> dict | None:
            got = await get_or_none(rig.edge, r.NAMESPACES, "commonstuff")
            return got if got and got["metadata"].get("labels", {}).get("common") == "si" else None

        ns = await wait_for(labelled, 10, "namespace commonstuff with its labels")
        assert ns["metadata"]["annotations"][ANNOTATION_DOWNSYNCED] == "true"
        cm = await wait_present(rig.edge, r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        assert cm["data"] == {"index.html": "common"}
        dep = await wait_present(rig.edge, r.DEPLOYMENTS, "commond", "commonstuff")
        meta = dep["metadata"]
        assert meta["annotations"][ANNOTATION_DOWNSYNCED] == "true"
        assert meta["labels"] == {"edge.kcp.io/projected": "yes"}
        assert "kcp.io/cluster" not in meta["annotations"]
        assert not meta.get("ownerReferences")
        upstream = await mb.get(r.DEPLOYMENTS, "commond", "commonstuff")
        assert meta["uid"] != upstream["metadata"]["uid"]

        # Status return, twice (spec 7.10 TestEdgeSyncerForUpdateStatus).
        for replicas in (1, 2):
            status = {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1}
            current = await rig.edge.get(r.DEPLOYMENTS, "commond", "commonstuff")
            current["status"] = status
            await rig.edge.update_status(r.DEPLOYMENTS, current)

            async def returned(status: dict = status) -> bool:
                got = await mb.get(r.DEPLOYMENTS, "commond", "commonstuff")
                return got.get("status") == status

            await wait_for(returned, 10, f"status {status} in the mailbox")

        # An upstream change goes down; the edge status stays.
        upstream = await mb.get(r.DEPLOYMENTS, "commond", "commonstuff")
        upstream["spec"]["template"]["spec"]["containers"][0]["image"] = "library/httpd:2.5"
        await mb.update(r.DEPLOYMENTS, upstream)

        async def image_changed() -> bool:
            got = await rig.edge.get(r.DEPLOYMENTS, "commond", "commonstuff")
            return got["spec"]["template"]["spec"]["containers"][0]["image"] == "library/httpd:2.5"

        await wait_for(image_changed, 10, "new image at the edge")
        # From now on nothing changes the Deployment, so the syncer must not write it.
        edge_dep = await rig.edge.get(r.DEPLOYMENTS, "commond", "commonstuff")
        rv = edge_dep["metadata"]["resourceVersion"]
        assert DIGEST_ANNOTATION in edge_dep["metadata"]["annotations"]

        # Deletion upstream deletes the marked copy.
        await mb.delete(r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        await wait_gone(rig.edge, r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        again = await rig.edge.get(r.DEPLOYMENTS, "commond", "commonstuff")
        assert again["metadata"]["resourceVersion"] == rv


async def test_unmarked_edge_object_is_never_overwritten_or_deleted(rig: Rig) -> None:
    mb = rig.mailbox
    await rig.edge.create(r.NAMESPACES, namespace("commonstuff"))
    await rig.edge.create(r.CONFIGMAPS, configmap("commonstuff", "mine", "edge-owned"))
    await mb.create(r.NAMESPACES, namespace("commonstuff"))
    await mb.create(r.CONFIGMAPS, configmap("commonstuff", "mine", "mailbox"))
    await mb.create(r.CONFIGMAPS, configmap("commonstuff", "theirs", "mailbox"))
    await mb.create(r.SYNCER_CONFIGS, syncer_config("the-one", ["commonstuff"]))
    async with rig.syncer():
        await wait_present(rig.edge, r.CONFIGMAPS, "theirs", "commonstuff")
        mine = await rig.edge.get(r.CONFIGMAPS, "mine", "commonstuff")
        assert mine["data"] == {"index.html": "edge-owned"}
        await mb.delete(r.CONFIGMAPS, "mine", "commonstuff")
        await mb.delete(r.CONFIGMAPS, "theirs", "commonstuff")
        await wait_gone(rig.edge, r.CONFIGMAPS, "theirs", "commonstuff")
        mine = await get_or_none(rig.edge, r.CONFIGMAPS, "mine", "commonstuff")
        assert mine is not None and mine["data"] == {"index.html": "edge-owned"}


async def test_turbo_for_deletion_scenario(rig: Rig) -> None:
    """Spec 7.10: config emptied, upstream Deployment and the kube binding deleted -> the
    edge Deployment goes, namespace `optimized` stays."""
    mb = rig.mailbox
    await mb.create(r.NAMESPACES, namespace("optimized"))
    await mb.create(r.DEPLOYMENTS, deployment("optimized", "cpu-usage"))
    await mb.create(r.SYNCER_CONFIGS, syncer_config("the-one", ["optimized"]))
    async with rig.syncer():
        await wait_present(rig.edge, r.DEPLOYMENTS, "cpu-usage", "optimized")
        config = await mb.get(r.SYNCER_CONFIGS, "the-one")
        config["spec"] = {"namespaceScope": {}}
        await mb.update(r.SYNCER_CONFIGS, config)
        await mb.delete(r.DEPLOYMENTS, "cpu-usage", "optimized")
        await mb.delete(r.API_BINDINGS, "bind-kube")
        await wait_gone(rig.edge, r.DEPLOYMENTS, "cpu-usage", "optimized")
        assert await get_or_none(rig.edge, r.NAMESPACES, "optimized") is not None


async def test_objects_leaving_the_config_are_deleted_at_the_edge(rig: Rig) -> None:
    mb = rig.mailbox
    for ns in ("a", "b"):
        await mb.create(r.NAMESPACES, namespace(ns))
        await mb.create(r.CONFIGMAPS, configmap(ns, "cm", ns))
    await mb.create(r.SYNCER_CONFIGS, syncer_config("one", ["a"]))
    await mb.create(r.SYNCER_CONFIGS, syncer_config("two", ["b"]))
    # No periodic resync within the test: every change must be event-driven.
    async with rig.syncer("--resync-period=600"):
        await wait_present(rig.edge, r.CONFIGMAPS, "cm", "a")
        await wait_present(rig.edge, r.CONFIGMAPS, "cm", "b")
        await mb.delete(r.SYNCER_CONFIGS, "two")
        await wait_gone(rig.edge, r.CONFIGMAPS, "cm", "b")
        assert await get_or_none(rig.edge, r.CONFIGMAPS, "cm", "a") is not None
        # An edge copy deleted by someone comes back (drift repair).
        await rig.edge.delete(r.CONFIGMAPS, "cm", "a")
        await wait_present(rig.edge, r.CONFIGMAPS, "cm", "a")
