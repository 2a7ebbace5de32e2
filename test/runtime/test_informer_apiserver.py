"""Informer against the embedded API server over real HTTP.

Covers: initial list, adds/updates/deletes, resuming after a dropped watch without missing
or repeating an event, and relisting after 410 Gone with synthetic (tombstone) deletes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from edgemc.embedded.apiserver.faults import FaultConfig
from edgemc.runtime.cache import BY_NAMESPACE
from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource
from edgemc.runtime.informer import DeletedFinalStateUnknown, Informer, InformerFactory

from .conftest import ThreadedServer
from .waiting import wait_until

CM = GroupVersionResource("", "v1", "configmaps")
NS = GroupVersionResource("", "v1", "namespaces")
SKIP = "kube-root-ca.crt"  # published into every namespace by the server


def rv(obj: dict) -> str:
    return obj["metadata"]["resourceVersion"]


@dataclass
class Recorder:
    """Every event an informer delivers, as (kind, name, rvs...)."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    tombstones: list[DeletedFinalStateUnknown] = field(default_factory=list)

    def attach(self, informer: Informer) -> None:
        informer.add_handler(self.on_add, self.on_update, self.on_delete)

    def on_add(self, obj: dict) -> None:
        if obj["metadata"]["name"] != SKIP:
            self.events.append(("add", obj["metadata"]["name"], rv(obj)))

    def on_update(self, old: dict, new: dict) -> None:
        if new["metadata"]["name"] != SKIP:
            self.events.append(("update", new["metadata"]["name"], rv(old), rv(new)))

    def on_delete(self, obj: dict | DeletedFinalStateUnknown) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self.tombstones.append(obj)
            self.events.append(("delete-unknown", obj.obj["metadata"]["name"], rv(obj.obj)))
        else:
            self.events.append(("delete", obj["metadata"]["name"], rv(obj)))

    def rvs(self) -> list[str]:
        return [e[-1] for e in self.events if e[0] != "delete-unknown"]


def configmap(name: str, ns: str = "t", **data: str) -> dict:
    meta = {"name": name, "namespace": ns}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@pytest.fixture
async def client(threaded_apiserver: ThreadedServer) -> AsyncIterator[Client]:
    c = Client(ClusterConfig.for_server(threaded_apiserver.url, threaded_apiserver.token))
    for ns in ("t", "u"):
        await c.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    yield c
    await c.close()


@pytest.fixture
async def informer(client: Client) -> AsyncIterator[Informer]:
    inf = Informer(client, CM)
    yield inf
    await inf.stop()


async def test_initial_list_then_adds_updates_deletes(client: Client, informer: Informer) -> None:
    for name, ns in (("a", "t"), ("b", "t"), ("c", "u")):
        await client.create(CM, configmap(name, ns, v="1"))
    rec = Recorder()
    rec.attach(informer)
    informer.start()
    async with asyncio.timeout(10):
        await informer.wait_for_sync()
    assert informer.has_synced()
    assert sorted(e[1] for e in rec.events) == ["a", "b", "c"]
    assert all(e[0] == "add" for e in rec.events)
    assert {o["metadata"]["name"] for o in informer.store.by_index(BY_NAMESPACE, "u")} >= {"c"}
    assert informer.store.get("t/a") is not None

    rec.events.clear()
    created = await client.create(CM, configmap("d", v="1"))
    updated = await client.patch(CM, "a", {"data": {"v": "2"}}, "t")
    await client.delete(CM, "b", "t")
    await wait_until(lambda: len(rec.events) == 3)
    assert rec.events[0] == ("add", "d", rv(created))
    assert rec.events[1][:2] == ("update", "a") and rec.events[1][3] == rv(updated)
    assert rec.events[2][:2] == ("delete", "b")
    assert informer.store.get("t/b") is None
    assert informer.store.get("t/a")["data"] == {"v": "2"}  # type: ignore[index]
    assert informer.relists == 0

    # A handler added late sees the current contents as adds.
    late = Recorder()
    late.attach(informer)
    assert sorted(e[1] for e in late.events) == ["a", "c", "d"]


async def test_resume_after_dropped_watch_misses_and_repeats_nothing(
    threaded_apiserver: ThreadedServer, client: Client, informer: Informer
) -> None:
    for name in ("keep", "change", "remove"):
        await client.create(CM, configmap(name, v="1"))
    rec = Recorder()
    rec.attach(informer)
    informer.start()
    async with asyncio.timeout(10):
        await informer.wait_for_sync()
    synced_rv = informer.last_resource_version
    await wait_until(lambda: informer.watches == 1)
    rec.events.clear()

    # Informer frozen (no await) from here: cut its watch, then write behind its back.
    assert threaded_apiserver.drop_watches() >= 1
    path = "/api/v1/namespaces/t/configmaps"
    added = threaded_apiserver.request("POST", path, configmap("new", v="1"))
    changed = threaded_apiserver.request(
        "PATCH", f"{path}/change", {"data": {"v": "2"}}, "application/merge-patch+json"
    )
    threaded_apiserver.request("DELETE", f"{path}/remove")
    changed_again = threaded_apiserver.request(
        "PATCH", f"{path}/change", {"data": {"v": "3"}}, "application/merge-patch+json"
    )

    await wait_until(lambda: informer.last_resource_version == rv(changed_again))
    assert informer.relists == 0  # resumed from its resourceVersion, no LIST needed
    assert informer.watches == 2
    assert [e[:2] for e in rec.events] == [
        ("add", "new"),
        ("update", "change"),
        ("delete", "remove"),
        ("update", "change"),
    ]
    assert rec.events[0][2] == rv(added) and rec.events[1][3] == rv(changed)
    assert len(set(rec.rvs())) == len(rec.rvs()) == 4  # nothing repeated
    assert all(int(r) > int(synced_rv) for r in rec.rvs())

    # Still watching after the resume.
    later = await client.create(CM, configmap("later"))
    await wait_until(lambda: rec.events[-1][:2] == ("add", "later"))
    assert rec.events[-1][2] == rv(later)


async def test_relist_after_410_delivers_differences_with_tombstones(
    threaded_apiserver: ThreadedServer, client: Client, informer: Informer
) -> None:
    for name in ("keep", "change", "remove"):
        await client.create(CM, configmap(name, v="1"))
    rec = Recorder()
    rec.attach(informer)
    informer.start()
    async with asyncio.timeout(10):
        await informer.wait_for_sync()
    last_known = dict(informer.store.get("t/remove") or {})
    old_change_rv = rv(informer.store.get("t/change") or {})
    await wait_until(lambda: informer.watches == 1)
    rec.events.clear()

    # Frozen informer: drop its watch, change things, and forget the history it would need.
    assert threaded_apiserver.drop_watches() >= 1
    path = "/api/v1/namespaces/t/configmaps"
    added = threaded_apiserver.request("POST", path, configmap("new", v="1"))
    changed = threaded_apiserver.request(
        "PATCH", f"{path}/change", {"data": {"v": "2"}}, "application/merge-patch+json"
    )
    threaded_apiserver.request("DELETE", f"{path}/remove")
    threaded_apiserver.compact()

    await wait_until(lambda: informer.relists == 1 and len(rec.events) >= 3)
    await asyncio.sleep(0)
    assert sorted(rec.events) == sorted(
        [
            ("add", "new", rv(added)),
            ("update", "change", old_change_rv, rv(changed)),
            ("delete-unknown", "remove", rv(last_known)),
        ]
    )
    (tombstone,) = rec.tombstones
    assert tombstone.key == "t/remove" and tombstone.obj == last_known
    assert informer.store.get("t/remove") is None
    assert informer.store.get("t/new") is not None

    # And it watches again from the relist's resourceVersion.
    later = await client.create(CM, configmap("later"))
    await wait_until(lambda: rec.events[-1][:2] == ("add", "later"))
    assert rec.events[-1][2] == rv(later)
    assert informer.relists == 1


async def test_bookmark_or_event_rv_is_the_resume_point(client: Client, informer: Informer) -> None:
    informer.start()
    async with asyncio.timeout(10):
        await informer.wait_for_sync()
    created = await client.create(CM, configmap("x"))
    await wait_until(lambda: informer.last_resource_version == rv(created))


async def test_factory_shares_informers(client: Client) -> None:
    shapes = InformerFactory(client)
    a = shapes.informer(CM, "t")
    assert shapes.informer(CM, "t") is a
    assert shapes.informer(CM, "u") is not a
    assert shapes.informer(CM, "t", label_selector="x=y") is not a
    other_url = client.with_base_url(client.base_url + "/x")
    assert shapes.informer(CM, "t", client=other_url) is not a

    web = configmap("web")
    web["metadata"]["labels"] = {"app": "web"}
    await client.create(CM, web)
    await client.create(CM, configmap("other"))
    factory = InformerFactory(client)
    everything = factory.informer(CM, "t")
    selected = factory.informer(CM, "t", label_selector="app=web")
    factory.start()
    try:
        async with asyncio.timeout(10):
            await factory.wait_for_sync()
        assert selected.store.list_keys() == ["t/web"]
        assert {"t/web", "t/other"} <= set(everything.store.list_keys())
        late = factory.informer(NS)  # created after start: started at once
        async with asyncio.timeout(10):
            await late.wait_for_sync()
        assert "t" in late.store
        await factory.discard(selected)  # stopped and forgotten: asked again, a new one
        assert selected not in factory.informers()
        again = factory.informer(CM, "t", label_selector="app=web")
        assert again is not selected
        async with asyncio.timeout(10):
            await again.wait_for_sync()
        await client.create(CM, {**web, "metadata": {**web["metadata"], "name": "web2"}})
        await wait_until(lambda: "t/web2" in again.store.list_keys())
        assert "t/web2" not in selected.store.list_keys()
    finally:
        await factory.stop()


async def test_410_again_before_any_progress_relists_with_a_backoff(
    threaded_apiserver: ThreadedServer, client: Client, informer: Informer
) -> None:
    """A server that forgets history faster than the informer lists (every resumed watch
    answered 410): the first 410 relists at once, later ones in a row back off, growing."""
    waits: list[int] = []

    async def record_backoff(attempt: int) -> None:
        waits.append(attempt)

    informer._sleep_backoff = record_backoff  # type: ignore[method-assign]
    await client.create(CM, configmap("one"))
    threaded_apiserver.call(
        lambda: setattr(threaded_apiserver.server.faults, "config", FaultConfig(gone=1.0))
    )
    informer.start()
    await wait_until(lambda: informer.relists >= 4)
    threaded_apiserver.call(
        lambda: setattr(threaded_apiserver.server.faults, "config", FaultConfig())
    )
    # relist 1 followed a first 410 (no wait); each later one a 410 with no progress between.
    assert waits[:3] == [0, 1, 2]
    later = await client.create(CM, configmap("later"))
    await wait_until(lambda: informer.store.get("t/later") is not None)
    assert rv(informer.store.get("t/later") or {}) == rv(later)
