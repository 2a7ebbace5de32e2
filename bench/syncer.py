"""Edge syncer: propagation latency (p50/p99) both ways and throughput for 2,000 objects.

One kcp-mode embedded server holds a mailbox workspace (bound to the edge API and to
root:compute's `kubernetes` export); one plain embedded server is the edge cluster; the
`syncer` component runs between them in this event loop (no client rate limit). Each figure
is compared with a bare client doing the same copy in the same run:

* mailbox -> edge latency: a ConfigMap is changed in the mailbox; the time until a watch on
  the edge sees the change. Baseline: the same change, then a bare client reads the object
  from the mailbox and writes it to the edge (no informers, no queue).
* edge -> mailbox latency (status return): a Deployment's status is written at the edge;
  the time until a watch on the mailbox sees it. Baseline: a bare client reads the edge
  object and writes its status to the mailbox.
* throughput: 2,000 ConfigMaps already in the mailbox enter the SyncerConfig; the time until
  all are at the edge. Baseline: a bare client lists them and creates copies at the edge
  with as many concurrent requests as the syncer has workers.

Ratios are syncer / baseline (latency: lower is better for both; the syncer's extra cost is
the watch hop on the mailbox side). Wall-clock numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.syncer.app import APP
from edgemc.embedded.apiserver.kcp import build_kcp_server
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.embedded.bootstrap import ensure_espw, ensure_workspace, workspace_kubeconfig
from edgemc.runtime import Client, ClusterConfig, GroupVersionResource, NotFound

MAILBOX = "root:espw:mb-bench"
WORKERS = 8
Obj = dict[str, Any]


class Seen:
    """A watch that resolves waiters when an object matching their predicate shows up."""

    def __init__(self, client: Client, gvr: GroupVersionResource, namespace: str) -> None:
        self.client, self.gvr, self.namespace = client, gvr, namespace
        self._waiters: list[tuple[Callable[[str, Obj], bool], asyncio.Future[float]]] = []
        self._task: asyncio.Task[None] | None = None
        self.count: Callable[[Obj], bool] | None = None
        self.counted: set[str] = set()

    async def start(self) -> None:
        listing = await self.client.list(self.gvr, self.namespace)
        rv = listing["metadata"]["resourceVersion"]
        self._task = asyncio.create_task(self._run(rv))

    async def _run(self, rv: str) -> None:
        async with self.client.watch(self.gvr, self.namespace, resource_version=rv) as stream:
            async for kind, obj in stream:
                if kind == "BOOKMARK":
                    continue
                now = time.perf_counter()
                name = obj["metadata"]["name"]
                if self.count is not None and self.count(obj):
                    self.counted.add(name)
                for pred, fut in list(self._waiters):
                    if not fut.done() and pred(name, obj):
                        fut.set_result(now)
                        self._waiters.remove((pred, fut))

    def wait(self, pred: Callable[[str, Obj], bool]) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        return fut

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def binding(name: str, path: str, export: str) -> Obj:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


def cm(ns: str, name: str, value: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": ns, "name": name, "labels": {"bench": "yes"}},
        "data": {"value": value, "filler": "x" * 512},
    }


def deployment(ns: str, name: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": ns, "name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def syncer_config(namespaces: list[str]) -> Obj:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": "the-one"},
        "spec": {
            "namespaceScope": {
                "namespaces": namespaces,
                "resources": [
                    {"group": "", "apiVersion": "v1", "resource": "configmaps"},
                    {"group": "apps", "apiVersion": "v1", "resource": "deployments"},
                ],
            }
        },
    }


async def gather_limited(n: int, jobs: list[Callable[[], Any]]) -> None:
    it = iter(jobs)

    async def worker() -> None:
        for job in it:
            await job()

    await asyncio.gather(*(worker() for _ in range(n)))


def ns_obj(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(objects: int, samples: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-syncer-"))
    kcp = build_kcp_server(ServerConfig(port=0))
    await kcp.start()
    edge_server = ApiServer(ServerConfig(port=0))
    await edge_server.start()
    kcp_config = ClusterConfig.for_server(kcp.url, kcp.kcp_admin_token)
    kcp_config.ssl = kcp.client_ssl()
    admin = Client(kcp_config)
    edge_config = ClusterConfig.for_server(edge_server.url, edge_server.admin_token)
    edge_config.ssl = edge_server.client_ssl()
    edge = Client(edge_config)
    watches: list[Seen] = []
    try:
        await ensure_espw(admin)
        await ensure_workspace(admin, MAILBOX)
        mb = admin.cluster(MAILBOX)
        await mb.create(r.API_BINDINGS, binding("bind-edge", "root:espw", "edge.kcp.io"))
        await mb.create(r.API_BINDINGS, binding("bind-kube", "root:compute", "kubernetes"))
        while True:
            try:
                await mb.list(r.SYNCER_CONFIGS)
                await mb.list(r.DEPLOYMENTS)
                break
            except NotFound:
                await asyncio.sleep(0.05)
        for ns in ("hot", "bulk"):
            await mb.create(r.NAMESPACES, ns_obj(ns))
        for ns in ("base-hot", "base-bulk"):
            await edge.create(r.NAMESPACES, ns_obj(ns))
            await mb.create(r.NAMESPACES, ns_obj(ns))
        await mb.create(r.CONFIGMAPS, cm("hot", "probe", "0"))
        await mb.create(r.CONFIGMAPS, cm("base-hot", "probe", "0"))
        await edge.create(r.CONFIGMAPS, cm("base-hot", "probe", "0"))
        await mb.create(r.DEPLOYMENTS, deployment("hot", "probe"))
        await gather_limited(
            16,
            [
                (lambda i=i: mb.create(r.CONFIGMAPS, cm("bulk", f"cm-{i:05d}", "0")))
                for i in range(objects)
            ],
        )
        await mb.create(r.SYNCER_CONFIGS, syncer_config(["hot"]))
        mailbox_kc = workdir / "mailbox.kubeconfig"
        mailbox_kc.write_text(yaml.safe_dump(workspace_kubeconfig(kcp.kubeconfig(), MAILBOX)))
        edge_kc = edge_server.write_kubeconfig(workdir / "edge.kubeconfig")
        argv = [
            f"--kubeconfig={edge_kc}",
            f"--from-kubeconfig={mailbox_kc}",
            f"--to-kubeconfig={edge_kc}",
            "--qps=0",
            f"--workers={WORKERS}",
            "--resync-period=600",
            "--heartbeat-period=0",
            "--metrics-addr=",
            "--health-addr=",
        ]
        edge_cms, edge_deps = Seen(edge, r.CONFIGMAPS, ""), Seen(edge, r.DEPLOYMENTS, "")
        mb_deps = Seen(mb, r.DEPLOYMENTS, "")
        watches += [edge_cms, edge_deps, mb_deps]
        for w in watches:
            await w.start()
        async with app.running(APP, argv):
            await edge_deps.wait(lambda n, o: n == "probe")

            # -- mailbox -> edge ----------------------------------------------------------
            syncer_down, base_down = [], []
            for i in range(1, samples + 1):
                value = str(i)
                seen = edge_cms.wait(
                    lambda n, o, v=value: n == "probe" and o.get("data", {}).get("value") == v
                    and o["metadata"]["namespace"] == "hot"
                )  # fmt: skip
                start = time.perf_counter()
                await mb.patch(r.CONFIGMAPS, "probe", {"data": {"value": value}}, "hot")
                syncer_down.append(await seen - start)

                seen = edge_cms.wait(
                    lambda n, o, v=value: n == "probe" and o.get("data", {}).get("value") == v
                    and o["metadata"]["namespace"] == "base-hot"
                )  # fmt: skip
                start = time.perf_counter()
                await mb.patch(r.CONFIGMAPS, "probe", {"data": {"value": value}}, "base-hot")
                src = await mb.get(r.CONFIGMAPS, "probe", "base-hot")
                copy = cm("base-hot", "probe", src["data"]["value"])
                current = await edge.get(r.CONFIGMAPS, "probe", "base-hot")
                copy["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await edge.update(r.CONFIGMAPS, copy)
                base_down.append(await seen - start)

            # -- edge -> mailbox (status return) ------------------------------------------
            syncer_up, base_up = [], []
            await mb.create(r.DEPLOYMENTS, deployment("base-hot", "probe"))
            await edge.create(r.DEPLOYMENTS, deployment("base-hot", "probe"))
            for i in range(1, samples + 1):
                status = {"replicas": i, "observedGeneration": 1}
                seen = mb_deps.wait(
                    lambda n, o, s=status: o["metadata"]["namespace"] == "hot"
                    and o.get("status") == s
                )  # fmt: skip
                current = await edge.get(r.DEPLOYMENTS, "probe", "hot")
                current["status"] = status
                start = time.perf_counter()
                await edge.update_status(r.DEPLOYMENTS, current)
                syncer_up.append(await seen - start)

                seen = mb_deps.wait(
                    lambda n, o, s=status: o["metadata"]["namespace"] == "base-hot"
                    and o.get("status") == s
                )  # fmt: skip
                current = await edge.get(r.DEPLOYMENTS, "probe", "base-hot")
                current["status"] = status
                start = time.perf_counter()
                await edge.update_status(r.DEPLOYMENTS, current)
                got = await edge.get(r.DEPLOYMENTS, "probe", "base-hot")
                upstream = await mb.get(r.DEPLOYMENTS, "probe", "base-hot")
                upstream["status"] = got["status"]
                await mb.update_status(r.DEPLOYMENTS, upstream)
                base_up.append(await seen - start)

            # -- throughput ---------------------------------------------------------------
            edge_cms.count = lambda o: o["metadata"]["namespace"] == "bulk"
            done = edge_cms.wait(lambda n, o: len(edge_cms.counted) >= objects)
            start = time.perf_counter()
            await mb.patch(r.SYNCER_CONFIGS, "the-one", syncer_config(["hot", "bulk"]))
            syncer_bulk = await done - start

            edge_cms.count = lambda o: o["metadata"]["namespace"] == "base-bulk"
            edge_cms.counted = set()
            done = edge_cms.wait(lambda n, o: len(edge_cms.counted) >= objects)
            start = time.perf_counter()
            listing = await mb.list_all(r.CONFIGMAPS, "bulk")
            copies = [
                cm("base-bulk", o["metadata"]["name"], o["data"]["value"])
                for o in listing["items"]
                if o["metadata"]["name"].startswith("cm-")
            ]
            await gather_limited(
                WORKERS, [(lambda c=c: edge.create(r.CONFIGMAPS, c)) for c in copies]
            )
            base_bulk = await done - start
    finally:
        for w in watches:
            await w.stop()
        await admin.close()
        await edge.close()
        await edge_server.stop()
        await kcp.stop()

    def line(label: str, syncer: list[float], base: list[float]) -> None:
        s50, s99 = pct(syncer, 50) * 1000, pct(syncer, 99) * 1000
        b50, b99 = pct(base, 50) * 1000, pct(base, 99) * 1000
        print(
            f"  {label:<22} syncer p50 {s50:6.1f} ms p99 {s99:6.1f} ms | bare p50 {b50:6.1f} ms "
            f"p99 {b99:6.1f} ms | ratio p50 {s50 / b50:.2f}x p99 {s99 / b99:.2f}x"
        )

    print(f"syncer: {samples} latency samples each way, {objects} objects for throughput")
    line("mailbox -> edge", syncer_down, base_down)
    line("edge status -> mailbox", syncer_up, base_up)
    print(
        f"  throughput             syncer {objects / syncer_bulk:8,.0f} objects/s "
        f"({syncer_bulk:.2f} s) | bare {objects / base_bulk:8,.0f} objects/s "
        f"({base_bulk:.2f} s) | ratio time syncer/bare {syncer_bulk / base_bulk:.2f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.syncer", description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args(argv)
    asyncio.run(run(args.objects, args.samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
