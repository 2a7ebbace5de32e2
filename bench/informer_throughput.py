"""Informer throughput: events/s through watch -> decode -> cache -> handler -> queue -> reconcile.

A local aiohttp endpoint replays one recorded watch stream (ConfigMap-like objects of about
1.5 KB, as a kcp wildcard watch delivers them, with periodic bookmarks). The same stream is
consumed twice per round:

* baseline: bare HTTP read, line split and `orjson.loads` of every event;
* runtime: an `Informer` (through `Client.watch`) feeding its cache, one `Controller` whose
  handler enqueues keys, and workers running a no-op reconcile, until every event is in the
  cache and the queue has drained.

Each is measured `--rounds` times, alternating; the best time of each is compared. The
printed ratio is runtime time / baseline time (the aim is <= 2.0).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

import aiohttp
import orjson
from aiohttp import web

from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource
from edgemc.runtime.controller import Controller, Key
from edgemc.runtime.informer import Informer

CM = GroupVersionResource("", "v1", "configmaps")
CHUNK = 64 * 1024  # bytes per write: what a busy server's TCP stream tends to deliver


def make_object(i: int, version: int, rv: int) -> dict:
    cluster = f"{i % 7:04d}kcpcluster{i % 7:04d}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"config-{i:05d}",
            "namespace": f"namespace-{i % 13}",
            "uid": f"6f1c2b1e-{i:04x}-4c1a-9d7e-{version:012x}",
            "resourceVersion": str(rv),
            "creationTimestamp": "2023-04-23T01:09:38Z",
            "labels": {"app": f"app-{i % 17}", "tier": "backend", "edge": "true"},
            "annotations": {
                "kcp.io/cluster": cluster,
                "kubectl.kubernetes.io/last-applied-configuration": "x" * 200,
            },
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2023-04-23T01:09:38Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {f"f:key{k}": {} for k in range(8)}},
                }
            ],
        },
        "data": {f"key{k}": f"value-{version}-{k}-" + "v" * 40 for k in range(8)},
    }


def record_stream(objects: int, events: int) -> tuple[bytes, str]:
    """The recorded watch body (newline-delimited events) and the last resourceVersion."""
    lines: list[bytes] = []
    rv = 100
    for n in range(events):
        rv += 1
        i = n % objects
        kind = "ADDED" if n < objects else "MODIFIED"
        obj = make_object(i, n // objects, rv)
        lines.append(orjson.dumps({"type": kind, "object": obj}))
        if n % 1000 == 999 and n != events - 1:  # the last event is an object, not a bookmark
            rv += 1
            bookmark = {"kind": "ConfigMap", "apiVersion": "v1"}
            bookmark["metadata"] = {"resourceVersion": str(rv)}
            lines.append(orjson.dumps({"type": "BOOKMARK", "object": bookmark}))
    return b"\n".join(lines) + b"\n", str(rv)


class Replay:
    """Serves an empty LIST at resourceVersion 100, then the recorded stream as the WATCH."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.done = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            return web.json_response(
                {
                    "kind": "ConfigMapList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": "100"},
                    "items": [],
                }
            )
        resp = web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request)
        if request.query.get("resourceVersion") == "100":
            for i in range(0, len(self.body), CHUNK):
                await resp.write(self.body[i : i + CHUNK])
        # Keep the watch open, as a quiet server would, until the run is over.
        await self.done.wait()
        return resp


async def bare_decode(url: str, expected: int) -> float:
    """Seconds to read and decode `expected` events with aiohttp + orjson and nothing else."""
    count = 0
    start = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        params = {"watch": "true", "resourceVersion": "100"}
        async with session.get(f"{url}/api/v1/configmaps", params=params) as resp:
            pending = b""
            async for chunk in resp.content.iter_any():
                parts = (pending + chunk).split(b"\n")
                pending = parts.pop()
                for line in parts:
                    orjson.loads(line)
                    count += 1
                if count >= expected:
                    break
    return time.perf_counter() - start


async def through_runtime(url: str, last_rv: str, workers: int) -> tuple[float, int]:
    """Seconds until every event is cached and reconciled; and how many reconciles ran."""
    client = Client(ClusterConfig.for_server(url))
    informer = Informer(client, CM)
    reconciles = 0
    finished = asyncio.Event()

    async def reconcile(key: Key) -> None:
        nonlocal reconciles
        reconciles += 1
        if informer.last_resource_version == last_rv and not queue:
            finished.set()  # the last event is cached and nothing is left to hand out

    controller = Controller("bench-informer-throughput", reconcile, workers=workers)
    controller.watch(informer)
    queue = controller.queue
    start = time.perf_counter()
    informer.start()
    await controller.start()
    await finished.wait()
    elapsed = time.perf_counter() - start
    await controller.stop()
    await informer.stop()
    await client.close()
    return elapsed, reconciles


async def run(objects: int, events: int, rounds: int, workers: int) -> float:
    body, last_rv = record_stream(objects, events)
    decoded = body.count(b"\n")
    replay = Replay(body)
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", replay.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    base_times: list[float] = []
    run_times: list[float] = []
    reconciles = 0
    try:
        for _ in range(rounds):
            base_times.append(await bare_decode(url, decoded))
            elapsed, reconciles = await through_runtime(url, last_rv, workers)
            run_times.append(elapsed)
    finally:
        replay.done.set()
        await runner.cleanup()
    base, full = min(base_times), min(run_times)
    ratio = full / base
    mb = len(body) / 1e6
    print(
        f"informer_throughput: {decoded} events ({mb:.1f} MB, {objects} objects), best of {rounds}"
    )
    print(f"  bare decode      {decoded / base:>10,.0f} events/s  ({base * 1000:.0f} ms)")
    print(
        f"  runtime pipeline {decoded / full:>10,.0f} events/s  ({full * 1000:.0f} ms, "
        f"{reconciles} reconciles after de-duplication, {workers} workers)"
    )
    print(f"  ratio runtime/bare = {ratio:.2f}x (aim <= 2.0x)")
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.informer_throughput", description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    asyncio.run(run(args.objects, args.events, args.rounds, args.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
