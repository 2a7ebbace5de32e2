"""Embedded API server throughput: creates, updates and watch fan-out over real HTTP.

Printed as rates and as ratios to baselines measured in the same run: a create through the
server costs N bare SQLite inserts of the same bytes (the storage floor), and fan-out to 20
watchers is compared with fan-out to one.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

CM = "/api/v1/namespaces/default/configmaps"


def configmap(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm{i}"},
        "data": {"k": "v" * 200},
    }


def bare_sqlite_inserts(n: int, directory: Path) -> float:
    """Seconds for n committed inserts of the same payload size, WAL mode, like the store."""
    db = sqlite3.connect(str(directory / "bare.sqlite"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
    payloads = [orjson.dumps(configmap(i)) for i in range(n)]
    start = time.perf_counter()
    for i, payload in enumerate(payloads):
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", payload))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


async def _watchers(http: aiohttp.ClientSession, url: str, rv: str, n: int, count: int) -> float:
    """Start n watchers, write `count` updates, return seconds until all saw them all."""
    ready = asyncio.Event()
    started = 0

    async def watch() -> None:
        nonlocal started
        seen = 0
        async with http.get(f"{url}{CM}?watch=1&resourceVersion={rv}&timeoutSeconds=120") as resp:
            started += 1
            if started == n:
                ready.set()
            async for _ in resp.content:
                seen += 1
                if seen == count:
                    return

    tasks = [asyncio.create_task(watch()) for _ in range(n)]
    await ready.wait()
    start = time.perf_counter()
    for i in range(count):
        body = orjson.dumps({**configmap(0), "data": {"k": str(i)}})
        async with http.put(
            f"{url}{CM}/cm0", data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 200
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        bare = bare_sqlite_inserts(n, directory)
        server = ApiServer(ServerConfig(port=0, data_dir=directory / "server"))
        await server.start()
        try:
            headers = {
                "Authorization": f"Bearer {server.admin_token}",
                "Content-Type": "application/json",
            }
            connector = aiohttp.TCPConnector(ssl=server.client_ssl(), limit=100)
            async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
                start = time.perf_counter()
                for i in range(n):
                    async with http.post(server.url + CM, data=orjson.dumps(configmap(i))) as r:
                        assert r.status == 201
                creates = time.perf_counter() - start
                start = time.perf_counter()
                for i in range(n):
                    body = orjson.dumps({**configmap(i), "data": {"k": "updated"}})
                    async with http.put(f"{server.url}{CM}/cm{i}", data=body) as r:
                        assert r.status == 200
                updates = time.perf_counter() - start
                rv = str(server.store.revision)
                one = await _watchers(http, server.url, rv, 1, n // 4)
                rv = str(server.store.revision)
                twenty = await _watchers(http, server.url, rv, 20, n // 4)
        finally:
            await server.stop()
    print(f"apiserver: {n / creates:.0f} creates/s, {n / updates:.0f} updates/s")
    print(f"apiserver: create cost = {creates / bare:.1f}x a bare SQLite insert (same run)")
    print(
        f"apiserver: watch fan-out {(n // 4) / one:.0f} events/s to 1 watcher, "
        f"{20 * (n // 4) / twenty:.0f} events/s to 20 watchers "
        f"(20 watchers take {twenty / one:.1f}x the time of 1)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apiserver")
    parser.add_argument("-n", type=int, default=2000, help="objects to create and update")
    args = parser.parse_args(argv or [])
    asyncio.run(run(args.n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
