"""Syncer fault tests: the edge server restarted, the mailbox unreachable, the syncer
restarted - each time the edge converges to the mailbox with nothing lost or duplicated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from edgeenv import EdgeEnv, wait_for
from test_syncer_support import Rig

from edgemc.apis.edge import ANNOTATION_DOWNSYNCED, ANNOTATION_UPSYNCED
from edgemc.controllers import resources as r
from edgemc.runtime import Key, Manager

NS = "work"


def config() -> dict:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": "the-one"},
        "spec": {
            "namespaceScope": {
                "namespaces": [NS],
                "resources": [
                    {"group": "", "apiVersion": "v1", "resource": "configmaps"},
                    {"group": "apps", "apiVersion": "v1", "resource": "deployments"},
                ],
            },
            "upsync": [
                {"apiGroup": "", "resources": ["secrets"], "namespaces": [NS], "names": ["*"]}
            ],
        },
    }


def cm(name: str, value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": NS, "name": name},
        "data": {"v": value},
    }


def secret(name: str, value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"namespace": NS, "name": name},
        "stringData": {"v": value},
        "type": "Opaque",
    }


@pytest.fixture
async def rig(env: EdgeEnv, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(env, tmp_path)
    await rig.start(proxy=True)
    mb = rig.mailbox
    await mb.create(
        r.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    )
    for i in range(5):
        await mb.create(r.CONFIGMAPS, cm(f"cm-{i}", "v0"))
    await mb.create(r.SYNCER_CONFIGS, config())
    try:
        yield rig
    finally:
        await rig.stop()


async def edge_copies(rig: Rig) -> dict[str, dict]:
    items = (await rig.edge.list(r.CONFIGMAPS, NS))["items"]
    return {
        o["metadata"]["name"]: o["data"]
        for o in items
        if (o["metadata"].get("annotations") or {}).get(ANNOTATION_DOWNSYNCED) == "true"
    }


async def mailbox_originals(rig: Rig) -> dict[str, dict]:
    items = (await rig.mailbox.list(r.CONFIGMAPS, NS))["items"]
    return {
        o["metadata"]["name"]: o["data"]
        for o in items
        if o["metadata"]["name"] != "kube-root-ca.crt"
    }


async def wait_converged(rig: Rig, within: float = 20.0) -> None:
    async def same() -> bool:
        try:
            return await edge_copies(rig) == await mailbox_originals(rig)
        except Exception:
            return False

    await wait_for(same, within, "edge copies equal to the mailbox originals")


async def mutate_mailbox(rig: Rig) -> None:
    mb = rig.mailbox
    await mb.delete(r.CONFIGMAPS, "cm-0", NS)
    current = await mb.get(r.CONFIGMAPS, "cm-1", NS)
    current["data"] = {"v": "v1"}
    await mb.update(r.CONFIGMAPS, current)
    await mb.create(r.CONFIGMAPS, cm("cm-new", "v0"))


async def upsynced(rig: Rig) -> dict[str, dict]:
    items = (await rig.mailbox.list(r.SECRETS, NS))["items"]
    return {
        o["metadata"]["name"]: o.get("data")
        for o in items
        if (o["metadata"].get("annotations") or {}).get(ANNOTATION_UPSYNCED) == "true"
    }


async def wait_retried(mgr: Manager, key: Key, times: int = 2) -> None:
    """Wait until the syncer failed `key` `times` times (the link is really down)."""
    queue = mgr.controllers[0].queue

    async def failed() -> bool:
        return queue.num_requeues(key) >= times

    # Each failure includes the client's own connection retries, so allow for a slow machine.
    await wait_for(failed, 60, f"{key} to fail {times} times")


async def test_edge_server_restart(rig: Rig) -> None:
    async with rig.syncer() as mgr:
        await wait_converged(rig)
        await rig.stop_edge()
        await mutate_mailbox(rig)
        await wait_retried(mgr, Key("down|v1/configmaps", NS, "cm-new"))
        await rig.start_edge()
        await wait_converged(rig)
        assert set(await edge_copies(rig)) == {"cm-1", "cm-2", "cm-3", "cm-4", "cm-new"}


async def test_mailbox_unreachable(rig: Rig) -> None:
    assert rig.proxy is not None
    async with rig.syncer() as mgr:
        await wait_converged(rig)
        await rig.proxy.cut()
        await mutate_mailbox(rig)
        # Meanwhile at the edge: a new object to upsync and a copy deleted by someone;
        # the copy comes back from the syncer's cache while the mailbox is away.
        await rig.edge.create(r.SECRETS, secret("report", "edge"))
        await rig.edge.delete(r.CONFIGMAPS, "cm-2", NS)
        await wait_for(lambda: _edge_has(rig, "cm-2"), 10, "cm-2 back at the edge")
        await wait_retried(mgr, Key("up|v1/secrets", NS, "report"))
        await rig.proxy.start()
        await wait_converged(rig)

        async def report_up() -> bool:
            return "report" in await upsynced(rig)

        await wait_for(report_up, 20, "the edge secret upsynced")
        assert list(await upsynced(rig)) == ["report"]


async def test_syncer_restart(rig: Rig) -> None:
    async with rig.syncer():
        await wait_converged(rig)
        await rig.edge.create(r.SECRETS, secret("report", "edge"))
        await wait_for(lambda: _has_report(rig), 10, "upsync")
    await mutate_mailbox(rig)
    await rig.edge.delete(r.SECRETS, "report", NS)
    await rig.edge.create(r.SECRETS, secret("report2", "edge"))
    async with rig.syncer():
        await wait_converged(rig)

        async def up_now() -> bool:
            return list(await upsynced(rig)) == ["report2"]

        await wait_for(up_now, 10, "only report2 upsynced")


async def _edge_has(rig: Rig, name: str) -> bool:
    return name in await edge_copies(rig)


async def _has_report(rig: Rig) -> bool:
    return "report" in await upsynced(rig)


async def test_config_shrunk_while_the_syncer_was_down(rig: Rig) -> None:
    """Restart-safe deletion: nothing in memory remembers configmaps were synced; the markers
    at the edge do."""
    async with rig.syncer():
        await wait_converged(rig)
        await rig.edge.create(r.SECRETS, secret("report", "edge"))
        await wait_for(lambda: _has_report(rig), 10, "upsync")
    current = await rig.mailbox.get(r.SYNCER_CONFIGS, "the-one")
    current["spec"]["namespaceScope"]["resources"] = [
        {"group": "apps", "apiVersion": "v1", "resource": "deployments"}
    ]
    del current["spec"]["upsync"]
    await rig.mailbox.update(r.SYNCER_CONFIGS, current)
    async with rig.syncer():

        async def swept() -> bool:
            return not await edge_copies(rig) and not await upsynced(rig)

        await wait_for(swept, 15, "marked copies of unselected resources deleted")
        # The edge original of the upsynced copy and the namespace stay.
        assert await rig.edge.get(r.SECRETS, "report", NS)
        assert await rig.edge.get(r.NAMESPACES, NS)


async def test_dropped_watches_and_expired_history(rig: Rig) -> None:
    assert rig.edge_server is not None
    async with rig.syncer():
        await wait_converged(rig)
        for server in (rig.edge_server, rig.env.server):
            server.compact()
            server.drop_watches()
        await mutate_mailbox(rig)
        await rig.edge.delete(r.CONFIGMAPS, "cm-3", NS)
        await wait_converged(rig)
