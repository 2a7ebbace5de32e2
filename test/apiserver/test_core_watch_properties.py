"""Property: whatever the writes and however often a watch reconnects, every revision of the
watched resource arrives exactly once and in order (upstream: watch resumption from any
retained resourceVersion)."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

CM = "/api/v1/namespaces/default/configmaps"

operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 4), st.integers(0, 3)),
        st.tuples(st.just("delete"), st.integers(0, 4), st.just(0)),
        st.tuples(st.just("reconnect"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=30,
)


async def _write(http: aiohttp.ClientSession, url: str, op: str, key: int, value: int) -> None:
    name = f"cm{key}"
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"v": str(value)},
    }
    if op == "delete":
        async with http.delete(f"{url}{CM}/{name}") as resp:
            assert resp.status in (200, 404)
        return
    async with http.put(
        f"{url}{CM}/{name}", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
    ) as resp:
        if resp.status == 404:
            async with http.post(
                f"{url}{CM}", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
            ) as created:
                assert created.status == 201
        else:
            assert resp.status == 200


async def _collect(http: aiohttp.ClientSession, url: str, rv: str, until: int) -> list[int]:
    """Watch from rv until revision `until` has been seen (or the stream ends)."""
    revs: list[int] = []
    async with http.get(f"{url}{CM}?watch=1&resourceVersion={rv}&timeoutSeconds=5") as resp:
        async for line in resp.content:
            event = orjson.loads(line)
            assert event["type"] in ("ADDED", "MODIFIED", "DELETED"), event
            revs.append(int(event["object"]["metadata"]["resourceVersion"]))
            if revs[-1] >= until:
                break
    return revs


async def _run(ops: list[tuple[str, int, int]]) -> None:
    server = ApiServer(ServerConfig(port=0))
    await server.start()
    try:
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {server.admin_token}"},
            connector=aiohttp.TCPConnector(ssl=server.client_ssl()),
        ) as http:
            async with http.get(server.url + CM) as resp:
                start = (await resp.json())["metadata"]["resourceVersion"]
            expected: list[int] = []
            delivered: list[int] = []
            cursor = start
            for op, key, value in ops:
                if op == "reconnect":
                    if expected and (not delivered or delivered[-1] < expected[-1]):
                        delivered += await _collect(http, server.url, cursor, expected[-1])
                        cursor = str(delivered[-1])
                    continue
                before = server.store.revision
                await _write(http, server.url, op, key, value)
                if server.store.revision != before:
                    expected.append(server.store.revision)
            if expected and (not delivered or delivered[-1] < expected[-1]):
                delivered += await _collect(http, server.url, cursor, expected[-1])
            assert delivered == expected
    finally:
        await server.stop()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_every_revision_once_and_in_order(ops: list[tuple[str, int, int]]) -> None:
    asyncio.run(_run(ops))
