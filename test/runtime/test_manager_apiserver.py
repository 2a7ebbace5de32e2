"""An example controller reconciling real objects end to end through a Manager.

The controller mirrors every ConfigMap labelled `mirror=yes` in namespace `src` into
namespace `dst` (same data, label `mirror-of=<name>`), and deletes mirrors whose source is
gone. It reads only from informer caches and writes through the client, the way every
edgemc controller is meant to. Also covers /healthz, /readyz, /metrics and leader election.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from edgemc.embedded.apiserver.server import ApiServer
from edgemc.runtime import (
    AlreadyExists,
    Client,
    Controller,
    Key,
    Manager,
    ManagerOptions,
    NotFound,
    Result,
)
from edgemc.runtime.client import GroupVersionResource
from edgemc.runtime.informer import Informer
from edgemc.runtime.leaderelection import LEASES

from .waiting import wait_until

CM = GroupVersionResource("", "v1", "configmaps")
NS = GroupVersionResource("", "v1", "namespaces")


class Mirror:
    """The example controller: pure decision (`desired`) separated from the writes."""

    def __init__(self, mgr: Manager) -> None:
        self.client = mgr.client
        self.sources: Informer = mgr.informers.informer(CM, "src", label_selector="mirror=yes")
        self.mirrors: Informer = mgr.informers.informer(CM, "dst", label_selector="mirror-of")
        self.controller = Controller("test-mirror", self.reconcile, workers=2)
        self.controller.watch(self.sources)
        self.controller.watch(
            self.mirrors,
            lambda o: Key("", "src", o["metadata"]["labels"]["mirror-of"]),
        )
        mgr.add(self.controller)

    @staticmethod
    def desired(source: dict | None) -> dict | None:
        if source is None:
            return None
        name = source["metadata"]["name"]
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "dst", "labels": {"mirror-of": name}},
            "data": source.get("data") or {},
        }

    async def reconcile(self, key: Key) -> Result:
        want = self.desired(self.sources.store.get_by(key.cluster, key.namespace, key.name))
        have = self.mirrors.store.get_by("", "dst", key.name)
        if want is None:
            if have is not None:
                try:
                    await self.client.delete(CM, key.name, "dst")
                except NotFound:
                    pass
            return Result.done()
        if have is None:
            try:
                await self.client.create(CM, want)
            except AlreadyExists:
                return Result.requeue()  # our cache is behind; look again shortly
        elif have.get("data") != want["data"]:
            want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
            await self.client.update(CM, want)  # a Conflict raises: retried with backoff
        return Result.done()


def source(name: str, **data: str) -> dict:
    meta = {"name": name, "namespace": "src", "labels": {"mirror": "yes"}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@pytest.fixture
async def client(apiserver: ApiServer, tmp_path: Path) -> AsyncIterator[Client]:
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    c = await Client.from_kubeconfig(str(kubeconfig))
    for ns in ("src", "dst"):
        await c.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    yield c
    await c.close()


def metric(text: str, sample: str, /, **labels: str) -> float:
    """The value of one sample in Prometheus text exposition."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$", line)
        if not m or m.group(1) != sample:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    raise AssertionError(f"no sample {sample}{labels}")


async def fetch(
    session: aiohttp.ClientSession, addr: tuple[str, int], path: str
) -> tuple[int, str]:
    async with session.get(f"http://{addr[0]}:{addr[1]}{path}") as resp:
        return resp.status, await resp.text()


async def test_example_controller_end_to_end_with_metrics(client: Client) -> None:
    await client.create(CM, source("pre", v="0"))  # exists before the manager starts
    mgr = Manager(client, ManagerOptions(name="mirror-test"))
    mirror = Mirror(mgr)
    run = asyncio.create_task(mgr.run_until_stopped(handle_signals=False))
    try:
        await wait_until(lambda: mgr.ready())
        assert mgr.metrics_address is not None and mgr.health_address is not None
        assert mgr.metrics_address[1] != 0  # port 0 was bound to a real port

        async def mirror_data(name: str) -> dict | None:
            try:
                return (await client.get(CM, name, "dst")).get("data")
            except NotFound:
                return None

        async def eventually(name: str, data: dict | None) -> None:
            async with asyncio.timeout(10):
                while True:
                    if await mirror_data(name) == data:
                        return
                    await asyncio.sleep(0.01)

        await eventually("pre", {"v": "0"})
        await client.create(CM, source("a", v="1"))
        await eventually("a", {"v": "1"})
        await client.patch(CM, "a", {"data": {"v": "2"}}, "src")
        await eventually("a", {"v": "2"})
        await client.delete(CM, "a", "dst")  # someone deletes the mirror: it comes back
        await eventually("a", {"v": "2"})
        await client.delete(CM, "a", "src")  # the source goes: so does the mirror
        await eventually("a", None)
        await wait_until(lambda: len(mirror.controller.queue) == 0)

        async with aiohttp.ClientSession() as session:
            assert await fetch(session, mgr.health_address, "/healthz") == (200, "ok")
            assert await fetch(session, mgr.health_address, "/readyz") == (200, "ok")
            code, text = await fetch(session, mgr.metrics_address, "/metrics")
        assert code == 200
        ctl = {"controller": "test-mirror"}
        assert metric(text, "controller_runtime_reconcile_total", result="success", **ctl) >= 5
        assert metric(text, "controller_runtime_reconcile_time_seconds_count", **ctl) >= 5
        assert metric(text, "controller_runtime_reconcile_errors_total", **ctl) >= 0
        assert metric(text, "workqueue_adds_total", name="test-mirror") >= 5
        assert metric(text, "workqueue_depth", name="test-mirror") == 0
        assert metric(text, "workqueue_queue_duration_seconds_count", name="test-mirror") >= 5
        assert metric(text, "workqueue_work_duration_seconds_count", name="test-mirror") >= 5
        host = client.host
        assert metric(text, "rest_client_requests_total", code="201", method="POST", host=host) >= 2
        assert (
            metric(text, "rest_client_requests_total", code="200", method="DELETE", host=host) >= 1
        )
    finally:
        mgr.request_stop()
        assert await asyncio.wait_for(run, 30) == 0


async def test_readyz_is_503_until_caches_sync(client: Client) -> None:
    mgr = Manager(
        client, ManagerOptions(name="ready-test", metrics_addr="", health_addr="127.0.0.1:0")
    )
    # An informer on a resource the server does not serve never syncs.
    mgr.informers.informer(GroupVersionResource("nope.example.com", "v1", "things"))
    start = asyncio.create_task(mgr.start())
    try:
        await wait_until(lambda: mgr.health_address is not None)
        assert mgr.metrics_address is None
        async with aiohttp.ClientSession() as session:
            assert (await fetch(session, mgr.health_address, "/healthz"))[0] == 200  # type: ignore[arg-type]
            assert (await fetch(session, mgr.health_address, "/readyz"))[0] == 503  # type: ignore[arg-type]
    finally:
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
        await mgr.stop()


async def test_leader_election_hands_over_on_release(client: Client) -> None:
    def options(name: str) -> ManagerOptions:
        return ManagerOptions(
            name=name,
            metrics_addr="",
            health_addr="",
            leader_elect=True,
            leader_election_id="mirror-lock",
            lease_duration=3.0,
            renew_deadline=2.0,
            retry_period=0.05,
        )

    reconciled: dict[str, int] = {"first": 0, "second": 0}

    def build(name: str) -> Manager:
        mgr = Manager(client, options(name))
        ctl = Controller(f"le-{name}", _count(reconciled, name))
        ctl.watch(mgr.informers.informer(CM, "src"))
        mgr.add(ctl)
        return mgr

    first, second = build("first"), build("second")
    run_first = asyncio.create_task(first.run_until_stopped(handle_signals=False))
    await wait_until(lambda: reconciled["first"] > 0)
    lease = await client.get(LEASES, "mirror-lock", "default")
    assert first._elector is not None
    assert lease["spec"]["holderIdentity"] == first._elector.config.identity

    run_second = asyncio.create_task(second.run_until_stopped(handle_signals=False))
    await wait_until(lambda: second.informers.has_synced())
    renewed = (await client.get(LEASES, "mirror-lock", "default"))["spec"]["renewTime"]
    assert reconciled["second"] == 0  # a follower: caches warm, controllers not running
    assert second._elector is not None and not second._elector.is_leader

    first.request_stop()
    assert await asyncio.wait_for(run_first, 30) == 0
    await wait_until(lambda: reconciled["second"] > 0)  # released: taken over at once
    lease = await client.get(LEASES, "mirror-lock", "default")
    assert lease["spec"]["holderIdentity"] == second._elector.config.identity
    assert lease["spec"]["leaseTransitions"] >= 1
    assert lease["spec"]["renewTime"] != renewed
    second.request_stop()
    assert await asyncio.wait_for(run_second, 30) == 0


def _count(counter: dict[str, int], name: str):
    async def reconcile(key: Key) -> None:
        counter[name] += 1

    return reconcile
