"""The runtime's client and informer against a faulty server: the cache stays exactly right.

One informer follows the ConfigMaps of a namespace while a writer (through the same faulty
server) creates, updates and deletes them, phase by phase under each fault: dropped watches,
410 Gone, 429 and 500 answers, latency, aggressive compaction, a partition (with writes made
while the informer cannot reach the server) and a server restart on the same data directory.
After every phase the informer's cache, and a mirror built only from the events its handlers
received, must equal both what the writer meant and what the server stores.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for

from edgemc.embedded.apiserver.faults import FaultConfig, restart
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.runtime.backoff import Backoff
from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource, RetryPolicy
from edgemc.runtime.errors import AlreadyExists, ApiError, NotFound
from edgemc.runtime.informer import Informer, InformerOptions, final_state

CM = GroupVersionResource("", "v1", "configmaps")
NS = "chaos"
# Fast retries keep the test short; the policies are the runtime's own, only quicker.
QUICK = Backoff(initial=0.01, factor=2.0, cap=0.2)
# The informer follows only the writer's objects (not kube-root-ca.crt), through a selector.
LABELS = {"test": "chaos"}


def client_for(server: ApiServer) -> Client:
    config = ClusterConfig.for_server(server.url, server.admin_token)
    config.ssl = server.client_ssl()
    return Client(config, retry=RetryPolicy(max_retries=8, backoff=QUICK))


class Mirror:
    """Object data by name, kept only from the informer's handler calls."""

    def __init__(self, informer: Informer) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.deliveries = 0
        informer.add_handler(self._put, lambda _old, new: self._put(new), self._delete)

    def _put(self, obj: dict[str, Any]) -> None:
        self.deliveries += 1
        self.data[obj["metadata"]["name"]] = obj.get("data") or {}

    def _delete(self, obj: Any) -> None:
        self.deliveries += 1
        self.data.pop(final_state(obj)["metadata"]["name"], None)


class Writer:
    """Random creates, updates and deletes through a client, retried until they took effect."""

    def __init__(self, client: Client, seed: int) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.want: dict[str, dict[str, str]] = {}
        self.serial = 0
        self.retries = 0

    async def burst(self, n: int) -> None:
        for _ in range(n):
            await self.step()

    async def step(self) -> None:
        self.serial += 1
        names = sorted(self.want)
        roll = self.rng.random()
        if not names or roll < 0.4:
            name, op = f"cm-{self.serial}", "create"
        else:
            name, op = self.rng.choice(names), ("update" if roll < 0.8 else "delete")
        data = {"v": str(self.serial)}
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS, "labels": LABELS},
            "data": data,
        }
        while True:
            try:
                if op == "create":
                    await self.client.create(CM, body)
                elif op == "update":
                    await self.client.update(CM, body)  # no resourceVersion: unconditional
                else:
                    await self.client.delete(CM, name, NS)
                break
            # A create or delete whose answer was lost may have happened: that is success.
            except AlreadyExists:
                if op == "create":
                    break
                raise
            except NotFound:
                if op == "delete":
                    break
                raise
            except ApiError as err:
                if err.code not in (0, 429, 500, 503):
                    raise
                self.retries += 1
                await asyncio.sleep(QUICK.delay(min(self.retries, 4)))  # retry backoff
        if op == "delete":
            self.want.pop(name, None)
        else:
            self.want[name] = data


def stored(server: ApiServer) -> dict[str, dict[str, str]]:
    return {
        obj["metadata"]["name"]: obj.get("data") or {}
        for _, obj in server.store.list(("", "configmaps", ""), "", NS)
        if obj["metadata"].get("labels") == LABELS
    }


def cached(informer: Informer) -> dict[str, dict[str, str]]:
    return {obj["metadata"]["name"]: obj.get("data") or {} for obj in informer.store.list()}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    holder = ApiServer(ServerConfig(data_dir=tmp_path / "data"))
    await holder.start()
    yield holder
    await holder.stop()


async def test_informer_cache_stays_exact_through_every_fault(
    server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = client_for(server)
    await client.create(
        GroupVersionResource("", "v1", "namespaces"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    )
    informer = Informer(
        client, CM, NS, label_selector="test=chaos", options=InformerOptions(backoff=QUICK)
    )
    mirror = Mirror(informer)
    writer = Writer(client, seed=11)
    await writer.burst(10)
    informer.start()
    report: list[str] = []
    started = time.monotonic()

    async def converge(phase: str) -> None:
        begin = time.monotonic()

        async def exact() -> bool:
            want = writer.want
            return stored(server) == want and cached(informer) == want and mirror.data == want

        await wait_for(exact, 20, f"the cache after {phase}")
        report.append(
            f"{phase}: {len(writer.want)} objects exact after {time.monotonic() - begin:.2f}s"
            f" (watches={informer.watches} relists={informer.relists})"
        )

    try:
        await converge("start")
        phases = [
            ("drop-watch", "drop-watch=0.3,seed=1"),
            ("410 gone", "gone=1,drop-watch=0.3,seed=2"),
            ("429 and 500", "429=0.25,500=0.25,retry-after=0,seed=3"),
            ("latency", "latency=5ms,drop-watch=0.1,seed=4"),
            ("compaction", "compact=20ms,drop-watch=0.2,latency=1ms,seed=5"),
        ]
        for phase, spec in phases:
            watches, relists = informer.watches, informer.relists
            server.faults.config = FaultConfig.parse(spec)
            await writer.burst(40)
            await converge(phase)
            server.faults.config = FaultConfig()
            if "drop-watch" in spec:
                assert informer.watches > watches, phase  # it resumed after the cuts
            if phase in ("410 gone", "compaction"):
                assert informer.relists > relists, phase

        # A partition: the server keeps changing while the informer cannot reach it.
        rt = server.registry.types_for("").by_group_resource("", "configmaps")
        assert rt is not None
        async with server.faults.partitioned():
            for i in range(5):
                name = f"offline-{i}"
                meta = {"name": name, "labels": LABELS}
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
                server.service.create(server.system_scope(""), rt, NS, {**body, "data": {}})
                writer.want[name] = {}
            gone = sorted(writer.want)[0]
            server.service.delete(server.system_scope(""), rt, NS, gone)
            del writer.want[gone]
        await converge("partition")

        # A restart on the same data directory, with writes before and after it.
        await writer.burst(10)
        server = await restart(server)
        await writer.burst(10)
        await converge("restart")
        assert informer.store.get(f"{NS}/{sorted(writer.want)[0]}") is not None
    finally:
        await informer.stop()
        await client.close()
        await server.stop()

    counts = server.faults.counts
    assert counts.dropped_watches > 0 and counts.gone > 0 and counts.compactions > 0
    assert counts.too_many_requests > 0 and counts.internal_errors > 0 and counts.partitions == 1
    with capsys.disabled():
        print(f"\nfaults: {counts.summary()} writer-retries={writer.retries}")
        print("\n".join(report))
        print(f"deliveries={mirror.deliveries} total={time.monotonic() - started:.2f}s")


async def test_client_honours_retry_after(server: ApiServer) -> None:
    client = client_for(server)
    try:
        server.faults.config = FaultConfig(too_many_requests=1.0, retry_after=1)
        started = time.monotonic()
        listing = asyncio.create_task(client.list(CM))

        async def refused() -> bool:
            return server.faults.counts.too_many_requests >= 1

        await wait_for(refused, 5, "a 429")
        server.faults.config = FaultConfig()
        answer = await listing
        assert answer["kind"] == "ConfigMapList"
        # The client's own backoff starts at 10 ms; only Retry-After explains a 1 s wait.
        assert time.monotonic() - started >= 0.9
        assert server.faults.counts.too_many_requests == 1
    finally:
        await client.close()
