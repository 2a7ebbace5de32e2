"""Fault injection of the embedded server: spec strings, and each fault as a client sees it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polling import wait_for

from edgemc.embedded.apiserver.faults import FaultConfig, parse_duration, restart
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

CM = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# -- the spec string -------------------------------------------------------------------------


def test_parse_the_full_spec() -> None:
    config = FaultConfig.parse(
        "drop-watch=0.1,gone=0.05,429=0.02,500=0.02,latency=50ms,compact=5s,"
        "partition=10s@30s,retry-after=2,seed=7"
    )
    assert config == FaultConfig(
        seed=7,
        drop_watch=0.1,
        gone=0.05,
        too_many_requests=0.02,
        retry_after=2,
        internal_error=0.02,
        latency=0.05,
        compact_every=5.0,
        partition_for=10.0,
        partition_every=30.0,
    )
    assert FaultConfig.parse(config.spec()) == config
    assert FaultConfig.parse("") == FaultConfig() and FaultConfig().spec() == ""


@pytest.mark.parametrize(
    "spec",
    [
        "drop=0.1",  # unknown key
        "gone",  # no value
        "gone=1.5",  # not a probability
        "429=0.6,500=0.6",  # more than every request
        "latency=fast",
        "latency=-1s",
        "partition=10s",  # no period
        "partition=30s@10s",  # longer than its period
        "seed=x",
    ],
)
def test_bad_specs_are_refused_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match=r"fault|partition|429|probability|negative"):
        FaultConfig.parse(spec)


@given(
    st.builds(
        FaultConfig,
        seed=st.none() | st.integers(0, 2**32),
        drop_watch=st.floats(0, 1),
        gone=st.floats(0, 1),
        too_many_requests=st.floats(0, 0.5),
        retry_after=st.integers(0, 100),
        internal_error=st.floats(0, 0.5),
        latency=st.floats(0, 10),
        compact_every=st.floats(0, 1000),
    )
)
def test_spec_round_trips(config: FaultConfig) -> None:
    assert FaultConfig.parse(config.spec()) == config


def test_durations() -> None:
    assert parse_duration("50ms") == pytest.approx(0.05)
    assert (parse_duration("5s"), parse_duration("2m"), parse_duration("1.5")) == (5, 120, 1.5)


# -- each fault over real sockets ------------------------------------------------------------


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {apiserver.admin_token}"},
        connector=aiohttp.TCPConnector(ssl=apiserver.client_ssl()),
    ) as session:
        yield session


async def test_injected_429_and_500_are_kubernetes_statuses_and_change_nothing(
    apiserver: ApiServer, http: aiohttp.ClientSession
) -> None:
    url = apiserver.url
    apiserver.faults.config = FaultConfig(too_many_requests=1.0, retry_after=3)
    async with http.post(url + CM, json=configmap("a")) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "3"
        body = await resp.json()
    assert body["kind"] == "Status" and body["reason"] == "TooManyRequests"
    assert body["details"] == {"retryAfterSeconds": 3}
    async with http.get(url + "/readyz") as resp:  # health checks are never faulted
        assert resp.status == 200

    apiserver.faults.config = FaultConfig(internal_error=1.0)
    async with http.post(url + CM, json=configmap("a")) as resp:
        assert resp.status == 500
        body = await resp.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "InternalError", 500)

    apiserver.faults.config = FaultConfig()
    async with http.get(url + CM + "/a") as resp:
        assert resp.status == 404  # neither faulted create was carried out
    counts = apiserver.faults.counts
    assert (counts.too_many_requests, counts.internal_errors) == (1, 1)


async def test_watches_from_a_resource_version_get_410_in_both_forms(
    apiserver: ApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(apiserver.url + CM) as resp:
        rv = (await resp.json())["metadata"]["resourceVersion"]
    apiserver.faults.config = FaultConfig(gone=1.0, seed=3)
    forms = set()
    for _ in range(12):
        async with http.get(f"{apiserver.url}{CM}?watch=1&resourceVersion={rv}") as resp:
            if resp.status == 410:
                status = await resp.json()
                forms.add("http")
            else:
                assert resp.status == 200
                lines = [orjson.loads(line) async for line in resp.content if line.strip()]
                assert [e["type"] for e in lines] == ["ERROR"]
                status = lines[0]["object"]
                forms.add("event")
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert forms == {"http", "event"}
    # A watch without a resourceVersion cannot be expired: it starts normally.
    async with http.get(f"{apiserver.url}{CM}?watch=1&timeoutSeconds=1") as resp:
        assert resp.status == 200
        events = [orjson.loads(line) async for line in resp.content if line.strip()]
    assert {e["type"] for e in events} == {"ADDED"}  # kube-root-ca.crt


async def test_drop_watch_cuts_the_connection_after_an_event(
    apiserver: ApiServer, http: aiohttp.ClientSession
) -> None:
    apiserver.faults.config = FaultConfig(drop_watch=1.0)
    async with http.get(f"{apiserver.url}{CM}?watch=1&resourceVersion=0") as resp:
        assert resp.status == 200
        async with http.post(apiserver.url + CM, json=configmap("x")) as created:
            assert created.status == 201
        with pytest.raises(aiohttp.ClientPayloadError):
            async with asyncio.timeout(5):
                async for _ in resp.content:
                    pass
    assert apiserver.faults.counts.dropped_watches == 1
    # A watch of another resource is not affected by ConfigMap events.
    url = f"{apiserver.url}/api/v1/secrets?watch=1&timeoutSeconds=1&resourceVersion=0"
    async with http.get(url) as resp:
        async with http.post(apiserver.url + CM, json=configmap("y")) as created:
            assert created.status == 201
        async for _ in resp.content:  # ends cleanly after the timeout
            pass
    assert apiserver.faults.counts.dropped_watches == 1


async def test_latency_delays_requests(apiserver: ApiServer, http: aiohttp.ClientSession) -> None:
    apiserver.faults.config = FaultConfig(latency=0.2)
    started = time.monotonic()
    async with http.get(apiserver.url + CM) as resp:
        assert resp.status == 200
    assert time.monotonic() - started >= 0.1
    assert apiserver.faults.counts.delayed == 1


async def test_periodic_compaction_forgets_history(
    apiserver: ApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(apiserver.url + CM, json=configmap("c")) as resp:
        rv = int((await resp.json())["metadata"]["resourceVersion"])
    apiserver.faults.config = FaultConfig(compact_every=0.05)

    async def compacted() -> bool:
        return apiserver.faults.counts.compactions >= 2

    await wait_for(compacted, 5, "two compactions")
    assert apiserver.store.oldest_revision >= rv
    async with http.get(f"{apiserver.url}{CM}?watch=1&resourceVersion={rv - 1}") as resp:
        event = orjson.loads(await resp.content.readline())
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    apiserver.faults.config = FaultConfig()
    done = apiserver.faults.counts.compactions
    async with http.get(apiserver.url + CM + "/c") as resp:
        assert resp.status == 200  # compaction never touches objects
    assert apiserver.faults.counts.compactions == done


async def test_partition_refuses_connections_then_listens_on_the_same_port(
    apiserver: ApiServer, http: aiohttp.ClientSession
) -> None:
    port = apiserver.port
    async with http.get(f"{apiserver.url}{CM}?watch=1") as watch:
        async with apiserver.faults.partitioned():
            assert apiserver.faults.is_partitioned
            with pytest.raises(aiohttp.ClientConnectorError):
                async with http.get(apiserver.url + CM):
                    pass
            # The open watch was cut along with every other connection.
            with pytest.raises(aiohttp.ClientPayloadError):
                async with asyncio.timeout(5):
                    async for _ in watch.content:
                        pass
    assert apiserver.port == port
    async with http.get(apiserver.url + CM) as resp:
        assert resp.status == 200

    apiserver.faults.config = FaultConfig.parse("partition=0.1s@0.2s")

    async def partitioned_twice() -> bool:
        return apiserver.faults.counts.partitions >= 3

    await wait_for(partitioned_twice, 5, "periodic partitions")
    apiserver.faults.config = FaultConfig()  # ends the loop; an ongoing partition is healed

    async def reachable() -> bool:
        try:
            async with http.get(apiserver.url + CM) as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    await wait_for(reachable, 5, "the server listening again")
    assert not apiserver.faults.is_partitioned


async def test_restart_keeps_port_data_revisions_and_faults(tmp_path: Path) -> None:
    server = ApiServer(ServerConfig(data_dir=tmp_path))
    await server.start()
    try:
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {server.admin_token}"},
            connector=aiohttp.TCPConnector(ssl=server.client_ssl()),
        ) as http:
            async with http.post(server.url + CM, json=configmap("k")) as resp:
                before = await resp.json()
            server.faults.config = FaultConfig(latency=0.001, seed=1)
            url, port = server.url, server.port
            server = await restart(server)
            assert (server.url, server.port) == (url, port)
            assert server.faults.config == FaultConfig(latency=0.001, seed=1)
            async with http.get(server.url + CM + "/k") as resp:
                assert resp.status == 200
                assert await resp.json() == before
            async with http.post(server.url + CM, json=configmap("l")) as resp:
                after = await resp.json()
            rv = int(after["metadata"]["resourceVersion"])
            assert rv > int(before["metadata"]["resourceVersion"])
            assert server.faults.counts.delayed >= 2  # counts carry over the restart
    finally:
        await server.stop()
    with pytest.raises(ValueError):
        await restart(ApiServer(ServerConfig()))
