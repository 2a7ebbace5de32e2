"""Status summarizer at scale: destinations x placed objects on the embedded kcp server.

Set-up (default 500 destinations x 100 Deployments): one workload workspace with namespace
`bench` holding the Deployments and one EdgePlacement whose slice lists every destination;
per destination a mailbox workspace (bindings `bind-edge`, `bind-kube`), SyncerConfig
`the-one` with a heartbeat, and a copy of every Deployment whose status says 1/1 ready, all
written by this benchmark as the translator and the syncers would.

Measured in one run, against the real component (`running(APP, ...)`) over HTTPS:

* cold start: from starting the summarizer until every summary (and every source's
  aggregated status) is right;
* status change: one copy of every object (each in a different mailbox) turns 0/1 ready;
  time from the last of those status writes until every summary is right again;
* silent syncer: one mailbox's heartbeat is made old; time until every summary counts it
  stale.

Convergence is seen by an informer of this benchmark on the summaries (not by polling).
Printed next to each phase: its time divided by the time a bare client takes to create the
same number of summaries, precomputed, on the same server (the writes alone); and the API
writes the summarizer made divided by the minimum (one per summary whose content changes,
plus one per source whose aggregated status changes).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from edgemc.apis import edge
from edgemc.apis.meta import format_timestamp
from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.controllers.summarizer import APP, STATUS_SUMMARIES, WRITES
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.bootstrap import ESPW_PATH, ensure_espw, ensure_workspace, workspace_kubeconfig
from edgemc.runtime import Client, ClusterConfig, Informer, NotFound

WMW = "root:wmw-bench"
NAMESPACE = "bench"
INVENTORY = "imwbench"  # the (fictitious) logical cluster of the destinations
PLACEMENT = "ep-bench"
# Requests in flight while the benchmark writes its own objects.
BATCH = 64
READY = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}

Obj = dict[str, Any]
Check = Callable[[Obj | None, Obj | None], bool]  # (summary, source) -> right?


def binding(name: str, path: str, export: str) -> Obj:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


def deployment(j: int, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"namespace": NAMESPACE, "name": f"d-{j}"}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": f"d-{j}"}},
            "template": {
                "metadata": {"labels": {"app": f"d-{j}"}},
                "spec": {"containers": [{"name": "c", "image": "library/httpd:2.4"}]},
            },
        },
    }


def uid(i: int) -> str:
    return f"00000000-0000-0000-0000-{i:012d}"


async def in_batches(calls: list[Callable[[], Awaitable[Any]]]) -> None:
    """Run the calls, BATCH at a time."""
    for i in range(0, len(calls), BATCH):
        await asyncio.gather(*(call() for call in calls[i : i + BATCH]))


async def wait_served(client: Client, *resources: Any) -> None:
    while True:
        try:
            for res in resources:
                await client.list(res)
            return
        except NotFound:
            await asyncio.sleep(0.05)  # the binding is being set up by the server


def writes() -> tuple[float, float]:
    """(successful writes, all write attempts) made by the summarizer so far."""
    ok = attempts = 0.0
    for metric in WRITES.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                attempts += sample.value
                if sample.labels["result"] == "ok":
                    ok += sample.value
    return ok, attempts


class Convergence:
    """Watches summaries and sources; `converged` is set once `check` holds for every object."""

    def __init__(self, summaries: Informer, sources: Informer, cluster: str, objects: int) -> None:
        self.summaries = summaries
        self.sources = sources
        self.cluster = cluster
        self.objects = objects
        self.check: Check | None = None
        self.converged = asyncio.Event()
        for informer in (summaries, sources):
            informer.add_handler(
                lambda obj: self.recheck(),
                lambda old, new: self.recheck(),
                lambda obj: self.recheck(),
            )

    def reset(self, check: Check) -> None:
        self.check = check
        self.converged.clear()
        self.recheck()

    def recheck(self) -> None:
        if self.check is None or self.converged.is_set():
            return
        for j in range(self.objects):
            summary = self.summaries.store.get_by(
                self.cluster, NAMESPACE, f"deployments.apps-d-{j}"
            )
            source = self.sources.store.get_by(self.cluster, NAMESPACE, f"d-{j}")
            if not self.check(summary, source):
                return
        self.converged.set()


def status_is(ready_replicas: int, **expected: int) -> Check:
    """Every summary has the `expected` counts and every source `ready_replicas`."""

    def check(summary: Obj | None, source: Obj | None) -> bool:
        status = (summary or {}).get("status") or {}
        if any(status.get(k) != v for k, v in expected.items()):
            return False
        return ((source or {}).get("status") or {}).get("readyReplicas") == ready_replicas

    return check


async def populate(admin: Client, destinations: int, objects: int) -> str:
    """Everything but the summarizer; returns the workload workspace's cluster."""
    await ensure_espw(admin)
    wmw = admin.cluster(WMW)
    cluster = (await ensure_workspace(admin, WMW))["spec"]["cluster"]
    await wmw.create(r.API_BINDINGS, binding("bind-kube", "root:compute", "kubernetes"))
    await wmw.create(r.API_BINDINGS, binding("bind-espw", ESPW_PATH, edge.EXPORT_NAME))
    await wait_served(wmw, r.DEPLOYMENTS, r.EDGE_PLACEMENTS)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    await wmw.create(r.NAMESPACES, {**ns, "metadata": {**ns["metadata"], "labels": {"b": "y"}}})
    await in_batches(
        [functools.partial(wmw.create, r.DEPLOYMENTS, deployment(j)) for j in range(objects)]
    )
    placement = {
        "apiVersion": edge.API_VERSION,
        "kind": "EdgePlacement",
        "metadata": {"name": PLACEMENT},
        "spec": {"locationSelectors": [{}], "namespaceSelector": {"matchLabels": {"b": "y"}}},
    }
    await wmw.create(r.EDGE_PLACEMENTS, placement)
    dests = [
        {
            "cluster": INVENTORY,
            "locationName": f"l{i}",
            "syncTargetName": f"l{i}",
            "syncTargetUID": uid(i),
        }
        for i in range(destinations)
    ]
    await wmw.create(
        r.SINGLE_PLACEMENT_SLICES,
        {
            "apiVersion": edge.API_VERSION,
            "kind": "SinglePlacementSlice",
            "metadata": {"name": PLACEMENT},
            "destinations": dests,
        },
    )

    async def mailbox(i: int) -> None:
        name = edge.mailbox_workspace_name(INVENTORY, uid(i))
        ws = await ensure_workspace(admin, f"{ESPW_PATH}:{name}")
        mb = admin.cluster(ws["spec"]["cluster"])
        await mb.create(r.API_BINDINGS, binding("bind-edge", ESPW_PATH, edge.EXPORT_NAME))
        await mb.create(r.API_BINDINGS, binding("bind-kube", "root:compute", "kubernetes"))
        await wait_served(mb, r.DEPLOYMENTS, r.SYNCER_CONFIGS)
        config = {
            "apiVersion": edge.API_VERSION,
            "kind": "SyncerConfig",
            "metadata": {"name": edge.SYNCER_CONFIG_NAME},
            "spec": {},
            "status": {"lastSyncerHeartbeatTime": format_timestamp()},
        }
        await mb.create(r.SYNCER_CONFIGS, config)
        await mb.create(r.NAMESPACES, ns)
        for j in range(objects):
            copy = deployment(j, {edge.LABEL_PROJECTED: edge.PROJECTED_VALUE})
            created = await mb.create(r.DEPLOYMENTS, copy)
            status = {"observedGeneration": created["metadata"]["generation"], **READY}
            await mb.update_status(r.DEPLOYMENTS, {**created, "status": status})

    await in_batches([functools.partial(mailbox, i) for i in range(destinations)])
    return cluster


async def bare_writes(admin: Client, objects: int) -> float:
    """Seconds for a bare client to create `objects` StatusSummaries (then removed)."""
    wmw = admin.cluster(WMW)
    body = {
        "apiVersion": edge.API_VERSION,
        "kind": "StatusSummary",
        "subject": {"version": "v1", "resource": "deployments", "name": "x"},
        "status": {
            "destinations": 1,
            "reporting": 1,
            "current": 1,
            "ready": 1,
            "stale": 0,
            "missing": 0,
            "brokenCount": 0,
        },
    }
    calls = [
        functools.partial(
            wmw.create,
            STATUS_SUMMARIES,
            {**body, "metadata": {"name": f"baseline-{j}", "namespace": NAMESPACE}},
        )
        for j in range(objects)
    ]
    start = time.perf_counter()
    await in_batches(calls)
    elapsed = time.perf_counter() - start
    await in_batches(
        [
            functools.partial(wmw.delete, STATUS_SUMMARIES, f"baseline-{j}", NAMESPACE)
            for j in range(objects)
        ]
    )
    return elapsed


def report(
    phase: str, seconds: float, bare: float, before: tuple[float, float], minimum: int
) -> None:
    now = writes()
    ok, tried = now[0] - before[0], now[1] - before[1]
    ratio = ok / minimum if minimum else float("nan")
    print(
        f"  {phase:<14} converged in {seconds * 1000:>7.0f} ms = {seconds / bare:5.1f}x baseline; "
        f"writes {ok:.0f} (attempts {tried:.0f}) / minimum {minimum} = {ratio:.2f}x"
    )


async def measure(
    args: argparse.Namespace, server: KcpServer, admin: Client, directory: Path
) -> None:
    n, m = args.destinations, args.objects
    start = time.perf_counter()
    cluster = await populate(admin, n, m)
    await server.wait_idle()
    print(
        f"summarizer: {n} destinations x {m} Deployments = {n * m} mailbox copies "
        f"(set-up {time.perf_counter() - start:.1f} s, {args.workers} workers)"
    )
    bare = await bare_writes(admin, m)
    print(f"  baseline: a bare client creates the {m} summaries in {bare * 1000:.0f} ms")

    kubeconfig = directory / "espw.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(workspace_kubeconfig(server.kubeconfig(), ESPW_PATH), sort_keys=False)
    )
    os.chmod(kubeconfig, 0o600)
    summaries = Informer(admin.cluster(WMW), STATUS_SUMMARIES, NAMESPACE)
    sources = Informer(admin.cluster(WMW), r.DEPLOYMENTS, NAMESPACE)
    watch = Convergence(summaries, sources, cluster, m)
    for informer in (summaries, sources):
        informer.start()
        await informer.wait_for_sync()
    watch.reset(status_is(n, destinations=n, ready=n, reporting=n, stale=0))

    argv = [
        f"--kubeconfig={kubeconfig}",
        f"--workers={args.workers}",
        "--staleness-threshold=3600",  # the set-up's heartbeats must stay fresh
        "-v=0",
    ]
    before = writes()
    t0 = time.perf_counter()
    async with running(APP, argv):
        await watch.converged.wait()
        report("cold start", time.perf_counter() - t0, bare, before, 2 * m)

        # Object j's copy in mailbox j % n turns 0/1 ready.
        copies = []
        for j in range(m):
            name = edge.mailbox_workspace_name(INVENTORY, uid(j % n))
            ws = await admin.cluster(ESPW_PATH).get(r.WORKSPACES, name)
            copies.append((admin.cluster(ws["spec"]["cluster"]), j))
        watch.reset(status_is(n - 1, ready=n - 1, reporting=n))

        async def unready(mb: Client, j: int) -> None:
            obj = await mb.get(r.DEPLOYMENTS, f"d-{j}", NAMESPACE)
            obj["status"] = {**obj["status"], "readyReplicas": 0, "availableReplicas": 0}
            await mb.update_status(r.DEPLOYMENTS, obj)

        before = writes()
        await in_batches([functools.partial(unready, mb, j) for mb, j in copies])
        t0 = time.perf_counter()
        await watch.converged.wait()
        report("status change", time.perf_counter() - t0, bare, before, 2 * m)

        # The syncer of mailbox 0 goes silent.
        silent = copies[0][0]
        old = format_timestamp(datetime.now(UTC) - timedelta(hours=2))
        watch.reset(status_is(n - 1, stale=1))
        before = writes()
        await silent.patch(
            r.SYNCER_CONFIGS, edge.SYNCER_CONFIG_NAME, {"status": {"lastSyncerHeartbeatTime": old}}
        )
        t0 = time.perf_counter()
        await watch.converged.wait()
        report("silent syncer", time.perf_counter() - t0, bare, before, m)
    for informer in (summaries, sources):
        await informer.stop()


async def run(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-summarizer-"))
    server = build_kcp_server(ServerConfig(port=0, data_dir=directory))
    await server.start()
    config = ClusterConfig.for_server(server.url, server.kcp_admin_token)
    config.ssl = server.client_ssl()
    admin = Client(config)
    try:
        await measure(args, server, admin, directory)
    finally:
        await admin.close()
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.summarizer", description=__doc__)
    parser.add_argument("--destinations", type=int, default=500)
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
