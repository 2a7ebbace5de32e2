"""System benchmark: N simulated edge clusters end to end, each figure beside a bare-client floor.

`python -m bench.system [--clusters 10,100,1000] [--out DIR] [--profile DIR]` (`make bench` runs it
with the defaults). Per N the benchmark builds an `up`-style system out of separate processes,
so that CPU seconds and peak memory are told apart:

* `kcp`: the embedded kcp-compatible server;
* `mailbox`, `scheduler`, `placement`, `summarizer`: one process per central controller;
* `edges-<k>`: simulated edge clusters, each its own API server (own port, CA, SQLite
  store, kind's namespaces; no simulated node: the driver plays the kubelet by writing the
  status of Deployments);
* `syncers-<k>`: one real syncer per edge cluster, each with its own clients of its mailbox
  and (over HTTPS) of its edge cluster's API server;
* `floor`: a bare client doing the minimal writes of each measured operation;
* the driver (this process): creates SyncTargets, Locations, workload workspaces and
  EdgePlacements, makes the changes and observes their effects through watches.

Shape: cluster `c<i>` has a SyncTarget and a Location labelled `group=g<i mod P>`; placement
`ep-<p>` lives in workload workspace `wmw-<p mod M>`, selects Locations of group `g<p>` and
namespace `ns-<p>`, which holds ConfigMap `cm-<p>` and Deployment `dep-<p>`.

Measured, each as P50/P90/P99 over many events:

* mailbox: SyncTarget creation -> its mailbox Workspace Ready with `bind-edge` Bound (floor:
  a bare client creating a Workspace and the APIBinding, waiting for each);
* change: a ConfigMap edit in a workload workspace -> the new value seen by a watch on every
  selected edge cluster (floor: the edit, then for every selected cluster the mailbox copy
  and the edge copy, written with bounded concurrency);
* placement: an EdgePlacement gaining (losing) a Location group -> its objects present in
  (gone from) every newly (no longer) selected edge cluster;
* status: a Deployment's status changed in one edge cluster -> the summed `readyReplicas` of
  its StatusSummary in the workload workspace (floor: edge status, mailbox copy status and
  summary written in turn by a bare client).

Writes per process are counted by each process's REST client (non-GET requests, split into
the kcp server and edge servers) around every phase and set against the minimum the phase
needs; an idle phase shows the background load (heartbeats, resyncs). Figures are printed
as a table and written as JSON (`system.json`) with a PNG plot of latency against N
(`system.png`, when matplotlib is installed); nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

from edgemc.apis import edge
from edgemc.apis.kcp import ensure_location_objects
from edgemc.controllers import resources as r
from edgemc.controllers.summaries import summary_name
from edgemc.embedded.bootstrap import ensure_espw, ensure_workspace, workspace_kubeconfig
from edgemc.runtime import (
    AlreadyExists,
    Client,
    GroupVersionResource,
    Informer,
    NotFound,
)
from edgemc.runtime.informer import DeletedFinalStateUnknown, final_state
from edgemc.runtime.kcp import wait_for_apiexport_view

CONFIG = Path(__file__).resolve().parents[1] / "config"
IMW = "root:imw-1"
ESPW = "root:espw"
FLOOR_WS = "root:floor"
FLOOR_MAILBOXES = "root:floor-mailboxes"
FLOOR_NS = "floor"
WATCH_LABEL = "bench.edgemc.io/watch"
STATUS_SUMMARIES = r.edge_resource("statussummaries")
CONTROLLERS = {
    "mailbox": "mailbox",
    "scheduler": "scheduler",
    "placement": "placement.app",
    "summarizer": "summarizer",
}
Obj = dict[str, Any]


# -- shape and small helpers ------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """The dimensions of one run."""

    clusters: int
    workloads: int = 2
    placements: int = 4
    changes: int = 40
    placement_changes: int = 10
    status_changes: int = 20
    idle_seconds: float = 5.0
    # Clusters per edge-server process and per syncer process.
    clusters_per_process: int = 250
    # Floor mailboxes (each a Workspace + APIBinding in the kcp server): at most this many
    # (all of them by default: a floor of fewer, made at once, would flatter the ratio).
    floor_mailboxes: int = 1000

    def group(self, i: int) -> int:
        return i % self.placements

    def selected(self, p: int) -> list[str]:
        """Clusters that placement `p` selects in the base state."""
        return [f"c{i}" for i in range(self.clusters) if self.group(i) == p]

    def workspace_of(self, p: int) -> int:
        return p % self.workloads


def _percentiles(values: Iterable[float]) -> Obj:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50": pick(0.5),
        "p90": pick(0.9),
        "p99": pick(0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


async def _bounded(coros: Iterable[Awaitable[Any]], limit: int) -> list[Any]:
    """Await `coros` with at most `limit` in flight; their results in order."""
    sem = asyncio.Semaphore(limit)

    async def one(coro: Awaitable[Any]) -> Any:
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def _create(client: Client, gvr: GroupVersionResource, obj: Obj) -> None:
    try:
        await client.create(gvr, obj)
    except AlreadyExists:
        pass


async def _retry_not_found(call: Callable[[], Awaitable[Obj]], within: float) -> Obj:
    """`call()`, retried while it raises NotFound (an object or a type not there yet)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except NotFound:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)  # polling the API for an object nobody announces


def _binding(name: str, path: str, export: str) -> Obj:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


def _namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _configmap(name: str, namespace: str, value: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {WATCH_LABEL: "yes"}},
        "data": {"v": value},
    }


def _deployment(name: str, namespace: str) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "busybox"}]},
            },
        },
    }


def _deployment_status(ready: int, generation: int) -> Obj:
    return {
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": generation,
    }


def _write_kubeconfig(path: Path, config: Obj) -> Path:
    path.write_text(yaml.safe_dump(config))
    os.chmod(path, 0o600)
    return path


# -- child processes ----------------------------------------------------------------------


def _usage(kcp_host: str) -> Obj:
    """CPU, memory and REST writes of this process so far."""
    from prometheus_client import REGISTRY

    ru = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/statm") as f:
        rss_pages = int(f.read().split()[1])
    writes: dict[str, float] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name != "rest_client_requests_total":
                continue
            method, code = sample.labels.get("method"), sample.labels.get("code", "")
            if method in ("GET", None) or code == "<error>":
                continue
            where = "kcp" if sample.labels.get("host") == kcp_host else "edge"
            # Refused writes (409 AlreadyExists or Conflict, 404...) are counted apart.
            key = f"{where} {method}" if code.startswith("2") else f"{where} {method} {code}"
            writes[key] = writes.get(key, 0.0) + sample.value
    return {
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "rss_mb": rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20,
        "peak_rss_mb": ru.ru_maxrss / 1024,
        "writes": writes,
    }


def _dump_allocations(path: str) -> None:
    """Where this process's live memory was allocated (with `--profile --tracemalloc`)."""
    snapshot = tracemalloc.take_snapshot()
    lines = [f"traced {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MB"]
    for stat in snapshot.statistics("lineno")[:40]:
        lines.append(f"{stat.size / 2**20:8.2f} MB {stat.count:8d} {stat.traceback[0]}")
    lines.append("")
    for stat in snapshot.statistics("traceback")[:15]:
        lines.append(f"{stat.size / 2**20:8.2f} MB {stat.count:8d}")
        lines += [f"    {frame}" for frame in stat.traceback.format()[-16:]]
    Path(path).write_text("\n".join(lines))


Handler = Callable[[str, Any], Awaitable[Any]]


async def _role_kcp(stack: AsyncExitStack, params: Obj) -> tuple[Obj, Handler | None]:
    from edgemc.embedded.apiserver.kcp import build_kcp_server
    from edgemc.embedded.apiserver.server import ServerConfig

    server = build_kcp_server(ServerConfig(port=0, data_dir=Path(params["dir"])))
    await server.start()
    stack.push_async_callback(server.stop)

    async def handle(cmd: str, _arg: Any) -> Any:
        if cmd == "watches_by_resource":
            return _watches_by_resource(server.store)
        assert cmd == "watches"
        return server.store.watch_count

    return {"kubeconfig": server.kubeconfig(), "url": server.url}, handle


def _watches_by_resource(store: Any) -> dict[str, int]:
    """Open watches of `store` by `group/resource`, wildcard ones as `.../*`."""
    counts: dict[str, int] = {}
    for (reskey, cluster), watches in store.watches_by_target().items():
        name = f"{reskey[0]}/{reskey[1]}" + ("/*" if cluster is None else "")
        counts[name] = counts.get(name, 0) + watches
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


async def _role_controller(stack: AsyncExitStack, params: Obj) -> tuple[Obj, Handler | None]:
    from edgemc.controllers.app import running

    module = __import__(f"edgemc.controllers.{params['module']}", fromlist=["APP"])
    await stack.enter_async_context(
        running(module.APP, [f"--kubeconfig={params['kubeconfig']}", f"-v={params['v']}"])
    )
    return {}, None


async def _role_edges(stack: AsyncExitStack, params: Obj) -> tuple[Obj, Handler | None]:
    from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
    from edgemc.embedded.edgecluster import KIND_NAMESPACES

    base = _usage("")  # the interpreter and the imports: not per cluster
    servers: list[ApiServer] = []
    out: dict[str, Obj] = {}
    for name in params["names"]:
        server = ApiServer(
            ServerConfig(data_dir=Path(params["dir"]) / name, initial_namespaces=KIND_NAMESPACES)
        )
        await server.start()
        stack.push_async_callback(server.stop)
        servers.append(server)
        out[name] = server.kubeconfig(f"kind-{name}")

    async def handle(cmd: str, _arg: Any) -> Any:
        assert cmd == "watches"
        return sum(s.store.watch_count for s in servers)

    return {"kubeconfigs": out, "base": base}, handle


async def _role_syncers(stack: AsyncExitStack, params: Obj) -> tuple[Obj, Handler | None]:
    from edgemc.controllers.app import running
    from edgemc.controllers.syncer.app import APP as SYNCER

    base = _usage("")  # the interpreter and the imports: not per syncer
    workdir = Path(params["dir"])  # made by the driver
    for s in params["syncers"]:
        name = s["name"]
        mkc = _write_kubeconfig(workdir / f"mb-{name}.kubeconfig", s["mailbox"])
        ekc = _write_kubeconfig(workdir / f"edge-{name}.kubeconfig", s["edge"])
        argv = [
            f"--kubeconfig={ekc}",
            f"--from-kubeconfig={mkc}",
            f"--to-kubeconfig={ekc}",
            f"--from-cluster={s['mailbox_path']}",
            f"--sync-target-name={name}",
            "--qps=0",
            # One process stands for N pods here: no per-syncer metrics/health listeners.
            "--metrics-addr=0",
            "--health-addr=0",
            f"-v={params['v']}",
        ]
        await stack.enter_async_context(running(SYNCER, argv))
    return {"base": base}, None


ROLES: dict[str, Callable[[AsyncExitStack, Obj], Awaitable[tuple[Obj, Handler | None]]]] = {
    "kcp": _role_kcp,
    "controller": _role_controller,
    "edges": _role_edges,
    "syncers": _role_syncers,
}


async def _child(kind: str, params: Obj, conn: Connection) -> None:
    if kind == "floor":
        floor = Floor(params)
        stack = AsyncExitStack()
        await floor.start(stack)
        info: Obj = {}
        handler: Handler | None = floor.handle
    else:
        stack = AsyncExitStack()
        info, handler = await ROLES[kind](stack, params)
    kcp_host = params.get("kcp_host", "")
    try:
        conn.send(("ready", info))
        while True:
            cmd, arg = await asyncio.to_thread(conn.recv)
            if cmd == "stop":
                if tracemalloc.is_tracing():
                    _dump_allocations(params["tracemalloc"])
                break
            if cmd == "usage":
                conn.send(("ok", _usage(kcp_host)))
                continue
            assert handler is not None, f"{kind} takes no command {cmd}"
            conn.send(("ok", await handler(cmd, arg)))
    finally:
        await stack.aclose()
    conn.send(("stopped", _usage(kcp_host)))


def _child_main(kind: str, params: Obj, conn: Connection, profile: str | None) -> None:
    """Entry point of a child process: run its role until told to stop."""
    from edgemc.runtime import logging as klog

    # Components log klog lines at -v=0; they go to the child's own file, not the table.
    log = os.open(params["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(log)
    klog.configure(0)
    # CPU time, not wall time: with a dozen processes on two cores, wall time charges a
    # syscall with the time slices of the processes it woke.
    profiler = None
    if profile and not params.get("tracemalloc"):
        profiler = cProfile.Profile(time.process_time)
    if params.get("tracemalloc"):
        tracemalloc.start(12)
    try:
        if profiler is not None:
            profiler.enable()
        asyncio.run(_child(kind, params, conn))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)


class Child:
    """A child process of one role, driven over a pipe."""

    _threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="bench-pipe")

    def __init__(self, name: str, kind: str, params: Obj, profile_dir: Path | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.name = name
        self.conn, child_conn = ctx.Pipe()
        profile = str(profile_dir / f"{name}.prof") if profile_dir is not None else None
        self.process = ctx.Process(
            target=_child_main,
            args=(kind, params, child_conn, profile),
            name=f"bench-{name}",
            daemon=True,
        )
        self.final: Obj | None = None

    async def start(self) -> Obj:
        self.process.start()
        return await self._receive("ready")

    async def call(self, cmd: str, arg: Any = None) -> Any:
        self.conn.send((cmd, arg))
        return await self._receive("ok")

    async def stop(self) -> Obj | None:
        """Stop the child; its final usage (None if it was gone already)."""
        if self.process.is_alive() and self.final is None:
            try:
                self.conn.send(("stop", None))
                self.final = await self._receive("stopped")
            except (EOFError, OSError, RuntimeError):
                pass
        await asyncio.to_thread(self.process.join, 120)
        if self.process.is_alive():
            self.process.kill()
        return self.final

    async def _receive(self, expect: str) -> Any:
        loop = asyncio.get_running_loop()
        tag, value = await loop.run_in_executor(self._threads, self.conn.recv)
        if tag == "error":
            raise RuntimeError(f"{self.name} failed:\n{value}")
        if tag != expect:
            raise RuntimeError(f"{self.name}: expected {expect}, got {tag}")
        return value


# Watches each edge cluster holds open on the kcp server, all components together (2,055 at
# N=100): the syncer's ~15 in its mailbox (SyncerConfig, CRDs, APIBindings, EdgeSyncConfigs,
# Namespaces and every namespaced resource its SyncerConfig names, most of them empty), and the
# translator's and summarizer's copies. Each is one HTTP/1.1 connection (aiohttp speaks no
# HTTP/2), so one descriptor in the server process.
KCP_CONNECTIONS_PER_CLUSTER = 17
# Descriptors of the kcp server besides those (controllers' wildcard watches, store, listeners).
KCP_CONNECTIONS_BASE = 500


def _raise_open_file_limit() -> None:
    """Soft open-file limit up to the hard one (as Go programs such as kcp do at start);
    the children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _connection_shortfall(clusters: int) -> str | None:
    """Why one kcp server process cannot hold the watches of `clusters` edge clusters here
    (its open-file limit), or None."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else soft
    needed = clusters * KCP_CONNECTIONS_PER_CLUSTER + KCP_CONNECTIONS_BASE
    if limit == resource.RLIM_INFINITY or needed <= limit:
        return None
    return (
        f"the kcp server would hold ~{needed:,} watch connections (about"
        f" {KCP_CONNECTIONS_PER_CLUSTER} per edge cluster, one each over HTTP/1.1) but a process"
        f" may open {limit:,} files here (hard limit); only SyncTarget->mailbox was measured"
    )


# -- the floor: a bare client -------------------------------------------------------------


class Floor:
    """The minimal writes of each measured operation, done by one bare client."""

    def __init__(self, params: Obj) -> None:
        self.params = params
        self.kcp: Client | None = None
        self.edges: dict[str, Client] = {}

    async def start(self, stack: AsyncExitStack) -> None:
        kc = Path(self.params["kcp_kubeconfig"])
        self.kcp = await Client.from_kubeconfig(str(kc), "base")
        stack.push_async_callback(self.kcp.close)
        workdir = Path(self.params["dir"])  # made by the driver
        for name, config in self.params["edges"].items():
            path = _write_kubeconfig(workdir / f"floor-edge-{name}.kubeconfig", config)
            client = await Client.from_kubeconfig(str(path))
            stack.push_async_callback(client.close)
            self.edges[name] = client

    async def handle(self, cmd: str, arg: Any) -> Any:
        if cmd == "mailboxes":
            return await self.mailboxes(int(arg))
        if cmd == "prepare":
            return await self.prepare()
        if cmd == "changes":
            return await self.changes(arg)
        if cmd == "status":
            return await self.status(int(arg))
        raise ValueError(f"unknown floor command {cmd}")

    async def mailboxes(self, n: int) -> list[float]:
        """Create `n` Workspaces at once, each with APIBinding bind-edge once Ready; the
        latencies."""
        assert self.kcp is not None
        kcp = self.kcp
        await ensure_workspace(kcp, FLOOR_MAILBOXES)
        parent = kcp.cluster(FLOOR_MAILBOXES)
        workspaces = Informer(parent, r.WORKSPACES)
        shard = await Client.from_kubeconfig(self.params["kcp_kubeconfig"], "system:admin")
        bindings = Informer(shard.cluster("*"), r.API_BINDINGS)
        ready: dict[str, asyncio.Future[str]] = {}
        bound: dict[str, asyncio.Future[None]] = {}
        loop = asyncio.get_running_loop()

        def on_ws(obj: Obj | DeletedFinalStateUnknown) -> None:
            obj = final_state(obj)
            fut = ready.get(obj["metadata"]["name"])
            phase = (obj.get("status") or {}).get("phase")
            cluster = (obj.get("spec") or {}).get("cluster")
            if fut is not None and not fut.done() and phase == "Ready" and cluster:
                fut.set_result(cluster)

        def on_binding(obj: Obj | DeletedFinalStateUnknown) -> None:
            obj = final_state(obj)
            cluster = (obj["metadata"].get("annotations") or {}).get("kcp.io/cluster", "")
            fut = bound.get(cluster)
            if fut is not None and not fut.done():
                if (obj.get("status") or {}).get("phase") == "Bound":
                    fut.set_result(None)

        workspaces.add_handler(on_ws, lambda _o, n: on_ws(n), None)
        bindings.add_handler(on_binding, lambda _o, n: on_binding(n), None)
        workspaces.start()
        bindings.start()
        await asyncio.gather(workspaces.wait_for_sync(), bindings.wait_for_sync())

        async def one(i: int) -> float:
            name = f"floor-mb-{i}"
            ready[name] = loop.create_future()
            start = time.monotonic()
            await parent.create(
                r.WORKSPACES,
                {"apiVersion": "tenancy.kcp.io/v1alpha1", "kind": "Workspace",
                 "metadata": {"name": name}},
            )  # fmt: skip
            cluster = await ready[name]
            bound[cluster] = loop.create_future()
            await kcp.cluster(cluster).create(
                r.API_BINDINGS, _binding(edge.MAILBOX_BINDING_NAME, ESPW, edge.EXPORT_NAME)
            )
            await bound[cluster]
            return time.monotonic() - start

        try:  # all at once, as SyncTargets arrive at the mailbox controller in the system
            return await asyncio.gather(*(one(i) for i in range(n)))
        finally:
            await asyncio.gather(workspaces.stop(), bindings.stop())
            await shard.close()

    async def prepare(self) -> None:
        """The floor's objects: a workspace with the source and a summary; a namespace with
        a copy in every selected mailbox and edge cluster."""
        assert self.kcp is not None
        await ensure_workspace(self.kcp, FLOOR_WS)
        ws = self.kcp.cluster(FLOOR_WS)
        await _create(ws, r.API_BINDINGS, _binding("bind-kube", "root:compute", "kubernetes"))
        await _create(ws, r.API_BINDINGS, _binding("bind-espw", ESPW, edge.EXPORT_NAME))
        await _retry_not_found(lambda: ws.create(r.NAMESPACES, _namespace(FLOOR_NS)), 30)
        await _create(ws, r.CONFIGMAPS, _configmap("floor", FLOOR_NS, "0"))
        summary = {
            "apiVersion": edge.API_VERSION,
            "kind": "StatusSummary",
            "metadata": {"name": "floor", "namespace": FLOOR_NS},
            "subject": {"group": "apps", "version": "v1", "resource": "deployments",
                        "kind": "Deployment", "namespace": FLOOR_NS, "name": "floor"},
            "placements": ["floor"],
            "status": {"destinations": 1, "reporting": 1, "current": 1, "ready": 1, "stale": 0,
                       "missing": 0, "brokenCount": 0, "workload": {"readyReplicas": 1}},
        }  # fmt: skip
        await _retry_not_found(lambda: ws.create(STATUS_SUMMARIES, summary), 30)
        mailboxes: dict[str, str] = self.params["mailboxes"]

        async def one(name: str) -> None:
            assert self.kcp is not None
            mb = self.kcp.cluster(mailboxes[name])
            await _create(mb, r.NAMESPACES, _namespace(FLOOR_NS))
            await _create(mb, r.CONFIGMAPS, _configmap("floor", FLOOR_NS, "0"))
            await _create(mb, r.DEPLOYMENTS, _deployment("floor", FLOOR_NS))
            ec = self.edges[name]
            await _create(ec, r.NAMESPACES, _namespace(FLOOR_NS))
            await _create(ec, r.CONFIGMAPS, _configmap("floor", FLOOR_NS, "0"))
            await _create(ec, r.DEPLOYMENTS, _deployment("floor", FLOOR_NS))

        await _bounded((one(n) for n in self.params["targets"]), 16)

    async def changes(self, plan: list[list[str]]) -> list[float]:
        """Per change: the source edit, then for each target its mailbox copy and its edge
        copy (targets concurrently, 32 at a time); latencies."""
        assert self.kcp is not None
        ws = self.kcp.cluster(FLOOR_WS)
        mailboxes: dict[str, str] = self.params["mailboxes"]
        out = []
        for k, targets in enumerate(plan, start=1):
            patch = {"data": {"v": str(k)}}
            start = time.monotonic()
            await ws.patch(r.CONFIGMAPS, "floor", patch, FLOOR_NS)

            async def one(name: str, patch: Obj = patch) -> None:
                assert self.kcp is not None
                await self.kcp.cluster(mailboxes[name]).patch(
                    r.CONFIGMAPS, "floor", patch, FLOOR_NS
                )
                await self.edges[name].patch(r.CONFIGMAPS, "floor", patch, FLOOR_NS)

            await _bounded((one(n) for n in targets), 32)
            out.append(time.monotonic() - start)
        return out

    async def status(self, n: int) -> list[float]:
        """Per change: edge status, mailbox copy status, summary, in turn; latencies."""
        assert self.kcp is not None
        targets: list[str] = self.params["targets"]
        mailboxes: dict[str, str] = self.params["mailboxes"]
        ws = self.kcp.cluster(FLOOR_WS)
        out = []
        for k in range(n):
            name = targets[k % len(targets)]
            body = {"status": _deployment_status(k % 2, 1)}
            start = time.monotonic()
            await self.edges[name].patch(
                r.DEPLOYMENTS, "floor", body, FLOOR_NS, subresource="status"
            )
            await self.kcp.cluster(mailboxes[name]).patch(
                r.DEPLOYMENTS, "floor", body, FLOOR_NS, subresource="status"
            )
            summary = {"status": {"workload": {"readyReplicas": k % 2}}}
            await ws.patch(STATUS_SUMMARIES, "floor", summary, FLOOR_NS)
            out.append(time.monotonic() - start)
        return out


# -- the driver's observations --------------------------------------------------------------


class Expectation:
    """A set of keys that must each be seen with one value; when each first was."""

    def __init__(self, keys: Iterable[tuple[str, ...]], value: Any) -> None:
        self.remaining = set(keys)
        self.value = value
        self.times: dict[tuple[str, ...], float] = {}
        self.done = asyncio.Event()
        if not self.remaining:
            self.done.set()


class Observer:
    """Routes observed (key, value) pairs to the expectations waiting for them."""

    def __init__(self) -> None:
        self.active: list[Expectation] = []

    def expect(self, keys: Iterable[tuple[str, ...]], value: Any) -> Expectation:
        exp = Expectation(keys, value)
        self.active.append(exp)
        return exp

    def observe(self, key: tuple[str, ...], value: Any) -> None:
        now = time.monotonic()
        for exp in self.active:
            if key in exp.remaining and value == exp.value:
                exp.remaining.discard(key)
                exp.times[key] = now
                if not exp.remaining:
                    exp.done.set()

    async def wait(self, exp: Expectation, start: float, within: float, what: str) -> list[float]:
        """Wait until `exp` is met; the latencies of its keys from `start`."""
        try:
            async with asyncio.timeout(within):
                await exp.done.wait()
        except TimeoutError:
            missing = sorted(exp.remaining)[:5]
            raise TimeoutError(f"{what}: {len(exp.remaining)} not seen, e.g. {missing}") from None
        finally:
            self.active.remove(exp)
        return [t - start for t in exp.times.values()]


def _watch(informer: Informer, on_object: Callable[[Obj | None, Obj], None]) -> Informer:
    """Call `on_object(obj, final)` for adds and updates and `(None, final)` for deletes."""

    def deleted(obj: Obj | DeletedFinalStateUnknown) -> None:
        on_object(None, final_state(obj))

    informer.add_handler(lambda o: on_object(o, o), lambda _old, new: on_object(new, new), deleted)
    informer.start()
    return informer


# -- the run -------------------------------------------------------------------------------


class SystemRun:
    """One N: the processes, the objects, the measurements."""

    def __init__(
        self,
        shape: Shape,
        workdir: Path,
        profile_dir: Path | None = None,
        *,
        tracemalloc: bool = False,
        verbosity: int = 0,
    ) -> None:
        """`profile_dir`: each child writes a cProfile there (or, with `tracemalloc`, where
        its live memory was allocated when it stopped)."""
        self.shape = shape
        self.workdir = workdir
        self.profile_dir = profile_dir
        self.stack = AsyncExitStack()
        self.children: dict[str, Child] = {}
        self.observer = Observer()
        self.result: Obj = {"shape": asdict(shape), "clusters": shape.clusters}
        self.usage: dict[str, dict[str, Obj]] = {}  # phase -> child -> usage at its end
        self.mailbox_of: dict[str, str] = {}  # cluster -> mailbox logical cluster path
        self.edges: dict[str, Client] = {}
        self.edge_configs: dict[str, Obj] = {}
        self.kcp_kubeconfig = workdir / "kcp.kubeconfig"
        self.kcp_host = ""
        self.admin: Client | None = None
        self.wmws: list[Client] = []
        self.ready_status: dict[tuple[str, int], int] = {}  # (cluster, p) -> readyReplicas
        self.base_rss: dict[str, float] = {}  # child -> RSS MB before its clusters
        self.logical_of: dict[str, str] = {}  # cluster -> its mailbox's logical cluster
        # Intermediate steps seen by the driver's wildcard watches, for the latency split:
        # ("mailbox", logical cluster, ns, name) -> ConfigMap value; ("config", logical
        # cluster) -> SyncerConfig namespaces; ("slice", name) -> slice destinations.
        self.trace: dict[tuple[str, ...], list[tuple[float, Any]]] = {}
        self.tracemalloc = tracemalloc
        self.verbosity = verbosity  # the components' -v (their logs are in the work dir)

    # -- processes --------------------------------------------------------------------

    async def _spawn(self, name: str, kind: str, params: Obj) -> Obj:
        if "dir" in params:
            await asyncio.to_thread(Path(params["dir"]).mkdir, parents=True, exist_ok=True)
        log = str(self.workdir / f"{name}.log")
        trace = None
        if self.tracemalloc and self.profile_dir is not None:
            trace = str(self.profile_dir / f"{name}.mem.txt")
        params = {
            **params,
            "kcp_host": self.kcp_host,
            "log": log,
            "tracemalloc": trace,
            "v": self.verbosity,
        }
        child = Child(name, kind, params, self.profile_dir)
        self.children[name] = child
        info = await child.start()
        if "base" in info:
            self.base_rss[name] = info["base"]["rss_mb"]
        return info

    async def _usage_all(self, phase: str) -> None:
        names = list(self.children)
        values = await asyncio.gather(*(self.children[n].call("usage") for n in names))
        usage = dict(zip(names, values, strict=True))
        usage["driver"] = _usage(self.kcp_host)
        self.usage[phase] = usage

    async def _stop_all(self) -> None:
        # Clients before servers: a thousand syncers whose servers went first would spend
        # their shutdown reconnecting ~20,000 informers to a closed port.
        servers = {n for n in self.children if n == "kcp" or n.startswith("edges-")}
        final: Obj = {}
        for group in ([n for n in self.children if n not in servers], sorted(servers)):
            finals = await asyncio.gather(*(self.children[n].stop() for n in group))
            final.update({n: f for n, f in zip(group, finals, strict=True) if f is not None})
        final["driver"] = _usage(self.kcp_host)
        self.usage["end"] = final

    # -- the whole run ---------------------------------------------------------------

    async def run(self) -> Obj:
        wall0 = time.monotonic()
        try:
            await self._start_control_plane()
            await self._usage_all("start")
            await self._measure_mailboxes()
            shortfall = _connection_shortfall(self.shape.clusters)
            if shortfall is None:
                await self._measure_the_rest()
            else:
                self.result["skipped"] = shortfall
                print(f"  N={self.shape.clusters}: the rest skipped: {shortfall}", flush=True)
                await self._usage_all("mailboxes")
                await self._measure_floor(mailboxes_only=True)
        finally:
            await self.stack.aclose()
            await self._stop_all()
        self.result["wall_s"] = time.monotonic() - wall0
        self._account()
        return self.result

    async def _measure_the_rest(self) -> None:
        """Everything after the mailboxes: edges and syncers, workloads, the measured
        changes, the idle load, the floor."""
        await self._start_edges()
        await self._usage_all("mailboxes")
        await self._create_workloads()
        await self._usage_all("initial")
        await self._measure_changes()
        await self._usage_all("changes")
        await self._measure_placement_changes()
        await self._usage_all("placement")
        await self._prepare_status()
        await self._usage_all("status-setup")
        await self._measure_status()
        await self._usage_all("status")
        await asyncio.sleep(self.shape.idle_seconds)  # the background load, by design
        await self._usage_all("idle")
        self.result["open_watches"] = {
            name: await child.call("watches")
            for name, child in self.children.items()
            if name == "kcp" or name.startswith("edges-")
        }
        self.result["open_watches_by_resource"] = {
            "kcp": await self.children["kcp"].call("watches_by_resource")
        }
        await self._measure_floor()

    async def _start_control_plane(self) -> None:
        shape = self.shape
        info = await self._spawn("kcp", "kcp", {"dir": str(self.workdir / "kcp")})
        kubeconfig = info["kubeconfig"]
        self.kcp_host = info["url"].split("://", 1)[1]
        _write_kubeconfig(self.kcp_kubeconfig, kubeconfig)
        self.admin = admin = await Client.from_kubeconfig(str(self.kcp_kubeconfig), "base")
        self.stack.push_async_callback(admin.close)
        await ensure_espw(admin, ESPW, CONFIG)
        espw_kc = _write_kubeconfig(
            self.workdir / "espw.kubeconfig", workspace_kubeconfig(kubeconfig, ESPW)
        )
        await asyncio.gather(
            *(
                self._spawn(name, "controller", {"module": module, "kubeconfig": str(espw_kc)})
                for name, module in CONTROLLERS.items()
            )
        )
        await ensure_workspace(admin, IMW)
        self.result["processes"] = {"clusters_per_process": shape.clusters_per_process}

    # -- SyncTarget -> mailbox ready -----------------------------------------------------

    async def _measure_mailboxes(self) -> None:
        assert self.admin is not None
        admin, n = self.admin, self.shape.clusters
        imw = admin.cluster(IMW)
        ws_ready: dict[str, tuple[float, str]] = {}  # target -> (time, logical cluster)
        bound: dict[str, float] = {}  # logical cluster -> time
        all_ready = asyncio.Event()
        ready: dict[str, float] = {}

        def check(target: str) -> None:
            seen = ws_ready.get(target)
            if seen is not None and seen[1] in bound and target not in ready:
                ready[target] = max(seen[0], bound[seen[1]])
                if len(ready) >= n:
                    all_ready.set()

        def on_ws(obj: Obj | None, final: Obj) -> None:
            if obj is None:
                return
            meta = obj["metadata"]
            target = (meta.get("annotations") or {}).get(edge.ANNOTATION_SYNC_TARGET_NAME)
            cluster = (obj.get("spec") or {}).get("cluster")
            phase = (obj.get("status") or {}).get("phase")
            if target and cluster and phase == "Ready" and target not in ws_ready:
                ws_ready[target] = (time.monotonic(), cluster)
                self.mailbox_of[target] = f"{ESPW}:{meta['name']}"
                self.logical_of[target] = cluster
                check(target)

        def on_binding(obj: Obj | None, final: Obj) -> None:
            meta = final["metadata"]
            if obj is None or meta.get("name") != edge.MAILBOX_BINDING_NAME:
                return
            cluster = (meta.get("annotations") or {}).get("kcp.io/cluster", "")
            if (obj.get("status") or {}).get("phase") == "Bound" and cluster not in bound:
                bound[cluster] = time.monotonic()
                for target, (_t, c) in ws_ready.items():
                    if c == cluster:
                        check(target)

        workspaces = _watch(Informer(admin.cluster(ESPW), r.WORKSPACES), on_ws)
        shard = await Client.from_kubeconfig(str(self.kcp_kubeconfig), "system:admin")
        self.stack.push_async_callback(shard.close)
        bindings = _watch(Informer(shard.cluster("*"), r.API_BINDINGS), on_binding)
        self.stack.push_async_callback(workspaces.stop)
        self.stack.push_async_callback(bindings.stop)
        await asyncio.gather(workspaces.wait_for_sync(), bindings.wait_for_sync())
        print(f"  N={n}: creating {n} SyncTargets and Locations", flush=True)
        created: dict[str, float] = {}

        async def one(i: int) -> None:
            name = f"c{i}"
            labels = {"env": "bench", "group": f"g{self.shape.group(i)}"}
            created[name] = time.monotonic()
            target, location = ensure_location_objects(name, labels)
            await _create(imw, r.SYNC_TARGETS, target)
            await _create(imw, r.LOCATIONS, location)

        await _bounded((one(i) for i in range(n)), 8)
        try:
            await imw.delete(r.LOCATIONS, "default")
        except NotFound:
            pass
        async with asyncio.timeout(60 + n):
            await all_ready.wait()
        self.result["mailbox_ready_s"] = _percentiles(ready[k] - created[k] for k in created)
        print(f"  N={n}: mailboxes ready {_brief(self.result['mailbox_ready_s'])}", flush=True)

    # -- edge clusters and syncers ----------------------------------------------------------

    async def _start_edges(self) -> None:
        assert self.admin is not None
        shape, n = self.shape, self.shape.clusters
        names = [f"c{i}" for i in range(n)]
        per = shape.clusters_per_process
        shards = [names[k : k + per] for k in range(0, n, per)]
        infos = await asyncio.gather(
            *(
                self._spawn(f"edges-{k}", "edges", {"names": s, "dir": str(self.workdir / "edge")})
                for k, s in enumerate(shards)
            )
        )
        for info in infos:
            self.edge_configs.update(info["kubeconfigs"])
        kcp_config = yaml.safe_load(self.kcp_kubeconfig.read_text())

        async def bind(name: str) -> None:
            assert self.admin is not None
            mb = self.admin.cluster(self.mailbox_of[name])
            await _create(mb, r.API_BINDINGS, _binding("bind-kube", "root:compute", "kubernetes"))

        await _bounded((bind(name) for name in names), 16)
        # The driver's watch on every edge cluster: the first time each sees each value.
        for name in names:
            path = _write_kubeconfig(
                self.workdir / f"driver-edge-{name}.kubeconfig", self.edge_configs[name]
            )
            client = await Client.from_kubeconfig(str(path))
            self.stack.push_async_callback(client.close)
            self.edges[name] = client

            def on_cm(obj: Obj | None, final: Obj, name: str = name) -> None:
                meta = final["metadata"]
                value = None if obj is None else (obj.get("data") or {}).get("v")
                self.observer.observe((name, meta.get("namespace", ""), meta["name"]), value)

            informer = Informer(client, r.CONFIGMAPS, label_selector=f"{WATCH_LABEL}=yes")
            self.stack.push_async_callback(_watch(informer, on_cm).stop)
        await asyncio.gather(
            *(
                self._spawn(
                    f"syncers-{k}",
                    "syncers",
                    {
                        "dir": str(self.workdir / f"syncers-{k}"),
                        "syncers": [
                            {
                                "name": name,
                                "mailbox_path": self.mailbox_of[name],
                                "mailbox": workspace_kubeconfig(kcp_config, self.mailbox_of[name]),
                                "edge": self.edge_configs[name],
                            }
                            for name in s
                        ],
                    },
                )
                for k, s in enumerate(shards)
            )
        )
        print(f"  N={n}: {n} edge clusters and syncers up in {len(shards)} + {len(shards)} "
              "processes", flush=True)  # fmt: skip

    # -- workload workspaces and placements -----------------------------------------------

    def _record(self, key: tuple[str, ...], value: Any) -> None:
        self.trace.setdefault(key, []).append((time.monotonic(), value))

    def _first(self, key: tuple[str, ...], start: float, value: Any) -> float | None:
        """When `key` was first seen with `value` after `start` (None: not seen)."""
        for t, v in self.trace.get(key, ()):
            if t >= start and v == value:
                return t - start
        return None

    async def _start_tracing(self) -> None:
        """Wildcard watches on the mailbox copies, SyncerConfigs and slices (the hops)."""
        shard = await Client.from_kubeconfig(str(self.kcp_kubeconfig), "system:admin")
        self.stack.push_async_callback(shard.close)
        espw = await Client.from_kubeconfig(str(self.workdir / "espw.kubeconfig"))
        self.stack.push_async_callback(espw.close)
        view = espw.with_base_url(await wait_for_apiexport_view(espw, edge.EXPORT_NAME))

        def on_copy(obj: Obj | None, final: Obj) -> None:
            meta = final["metadata"]
            cluster = (meta.get("annotations") or {}).get("kcp.io/cluster", "")
            value = None if obj is None else (obj.get("data") or {}).get("v")
            self._record(("mailbox", cluster, meta.get("namespace", ""), meta["name"]), value)

        def on_config(obj: Obj | None, final: Obj) -> None:
            cluster = (final["metadata"].get("annotations") or {}).get("kcp.io/cluster", "")
            scope = ((obj or {}).get("spec") or {}).get("namespaceScope") or {}
            self._record(("config", cluster), tuple(sorted(scope.get("namespaces") or ())))

        def on_slice(obj: Obj | None, final: Obj) -> None:
            dests = (obj or {}).get("destinations") or []
            names = tuple(sorted(d.get("syncTargetName", "") for d in dests))
            self._record(("slice", final["metadata"]["name"]), names)

        selector = f"{WATCH_LABEL}=yes,{edge.LABEL_PROJECTED}={edge.PROJECTED_VALUE}"
        for informer, handler in (
            (Informer(shard.cluster("*"), r.CONFIGMAPS, label_selector=selector), on_copy),
            (Informer(view.cluster("*"), r.SYNCER_CONFIGS), on_config),
            (Informer(view.cluster("*"), r.SINGLE_PLACEMENT_SLICES), on_slice),
        ):
            self.stack.push_async_callback(_watch(informer, handler).stop)
            await informer.wait_for_sync()

    async def _create_workloads(self) -> None:
        assert self.admin is not None
        shape = self.shape
        await self._start_tracing()
        for j in range(shape.workloads):
            path = f"root:my-org:wmw-{j}"
            await ensure_workspace(self.admin, path)
            w = self.admin.cluster(path)
            self.wmws.append(w)
            await _create(w, r.API_BINDINGS, _binding("bind-kube", "root:compute", "kubernetes"))
            await _create(w, r.API_BINDINGS, _binding("bind-espw", ESPW, edge.EXPORT_NAME))
        start = time.monotonic()
        expectations = []
        for p in range(shape.placements):
            ns = f"ns-{p}"
            keys = [(c, ns, f"cm-{p}") for c in shape.selected(p)]
            expectations.append(self.observer.expect(keys, "0"))
        for p in range(shape.placements):
            w, ns = self.wmws[shape.workspace_of(p)], f"ns-{p}"
            await _retry_not_found(
                lambda w=w, ns=ns, p=p: w.create(r.NAMESPACES, _namespace(ns, {"bench": f"p{p}"})),
                30,
            )
            await _retry_not_found(lambda w=w, ns=ns, p=p: w.create(
                r.CONFIGMAPS, _configmap(f"cm-{p}", ns, "0")), 30)  # fmt: skip
            await _retry_not_found(lambda w=w, ns=ns, p=p: w.create(
                r.DEPLOYMENTS, _deployment(f"dep-{p}", ns)), 30)  # fmt: skip
            await _retry_not_found(lambda w=w, p=p: w.create(r.EDGE_PLACEMENTS, {
                "apiVersion": edge.API_VERSION,
                "kind": "EdgePlacement",
                "metadata": {"name": f"ep-{p}"},
                "spec": {
                    "locationSelectors": [{"matchLabels": {"group": f"g{p}"}}],
                    "namespaceSelector": {"matchLabels": {"bench": f"p{p}"}},
                },
            }), 30)  # fmt: skip
        latencies: list[float] = []
        for p, exp in enumerate(expectations):
            try:
                latencies += await self.observer.wait(exp, start, 120 + shape.clusters, "initial")
            except TimeoutError:
                await self._diagnose(p, sorted(exp.remaining)[0][0])
                raise
        self.result["initial_placement_s"] = max(latencies, default=0.0)
        # The Deployments travel with the ConfigMaps but are not watched: wait for them too,
        # so that their creation is not counted among the next phase's writes.
        await _bounded(
            (
                self._deployment_at(c, p, 120 + shape.clusters)
                for p in range(shape.placements)
                for c in shape.selected(p)
            ),
            32,
        )
        print(f"  N={shape.clusters}: initial placement "
              f"{self.result['initial_placement_s']:.2f}s", flush=True)  # fmt: skip

    async def _deployment_at(self, cluster: str, p: int, within: float) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                await self.edges[cluster].get(r.DEPLOYMENTS, f"dep-{p}", f"ns-{p}")
                return
            except NotFound:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"dep-{p} never reached {cluster}") from None
                await asyncio.sleep(0.05)  # polling: the driver watches only ConfigMaps

    async def _diagnose(self, p: int, cluster: str) -> None:
        """Print what the API shows along the path of placement `p` to `cluster`."""
        assert self.admin is not None
        w = self.wmws[self.shape.workspace_of(p)]
        mb = self.admin.cluster(self.mailbox_of[cluster])
        ns = f"ns-{p}"
        reads: dict[str, Callable[[], Awaitable[Any]]] = {
            "slice": lambda: w.get(r.SINGLE_PLACEMENT_SLICES, f"ep-{p}"),
            "syncerconfig": lambda: mb.get(r.SYNCER_CONFIGS, edge.SYNCER_CONFIG_NAME),
            "mailbox configmaps": lambda: mb.list(r.CONFIGMAPS, ns),
            "edge configmaps": lambda: self.edges[cluster].list(r.CONFIGMAPS, ns),
        }
        for what, read in reads.items():
            try:
                found = await read()
            except Exception as err:  # a diagnosis prints what it cannot read too
                found = repr(err)
            if isinstance(found, dict) and "items" in found:
                found = [i["metadata"]["name"] for i in found["items"]]
            elif isinstance(found, dict):
                found = {k: v for k, v in found.items() if k in ("spec", "destinations")}
            print(f"  diagnosis {cluster} {what}: {json.dumps(found)[:600]}", flush=True)

    # -- workload change -> every selected edge cluster -----------------------------------

    async def _measure_changes(self) -> None:
        shape = self.shape
        per_change: list[float] = []
        per_edge: list[float] = []
        to_mailboxes: list[float] = []
        minimum = {"driver kcp": 0, "placement kcp": 0, "syncers edge": 0}
        for k in range(1, shape.changes + 1):
            p = k % shape.placements
            ns, name = f"ns-{p}", f"cm-{p}"
            targets = shape.selected(p)
            exp = self.observer.expect([(c, ns, name) for c in targets], str(k))
            start = time.monotonic()
            await self.wmws[shape.workspace_of(p)].patch(
                r.CONFIGMAPS, name, {"data": {"v": str(k)}}, ns
            )
            times = await self.observer.wait(exp, start, 30 + shape.clusters, f"change {k}")
            per_change.append(max(times))
            per_edge += times
            hops = [self._first(("mailbox", self.logical_of[c], ns, name), start, str(k))
                    for c in targets]  # fmt: skip
            if all(h is not None for h in hops):
                to_mailboxes.append(max(h for h in hops if h is not None))
            minimum["driver kcp"] += 1
            minimum["placement kcp"] += len(targets)
            minimum["syncers edge"] += len(targets)
        self.result["change_to_edge_s"] = _percentiles(per_change)
        self.result["change_to_edge_raw_s"] = per_change
        self.result["change_to_each_edge_s"] = _percentiles(per_edge)
        self.result["change_to_every_mailbox_s"] = _percentiles(to_mailboxes)
        self.result.setdefault("minimum_writes", {})["changes"] = minimum
        print(f"  N={shape.clusters}: change -> every edge "
              f"{_brief(self.result['change_to_edge_s'])}", flush=True)  # fmt: skip

    # -- EdgePlacement change -> objects arrive at / leave edge clusters ----------------------

    async def _measure_placement_changes(self) -> None:
        shape = self.shape
        if shape.placements < 2 or shape.placement_changes < 2:
            self.result["placement_to_edge_s"] = _percentiles([])
            return
        w = self.wmws[shape.workspace_of(0)]
        extra = shape.selected(1)
        adds: list[float] = []
        removes: list[float] = []
        hops: dict[str, list[float]] = {}
        minimum = {
            "driver kcp": 0,
            "scheduler kcp": 0,
            "placement kcp": 0,
            "syncers edge": 0,
            "summarizer kcp": 0,
        }
        current = str(shape.changes - (shape.changes % shape.placements))  # cm-0's value
        for k in range(shape.placement_changes - shape.placement_changes % 2):
            adding = k % 2 == 0
            groups = ["g0", "g1"] if adding else ["g0"]
            value = current if adding else None
            exp = self.observer.expect([(c, "ns-0", "cm-0") for c in extra], value)
            start = time.monotonic()
            await w.patch(
                r.EDGE_PLACEMENTS,
                "ep-0",
                {"spec": {"locationSelectors": [{"matchExpressions": [
                    {"key": "group", "operator": "In", "values": groups}]}]}},
            )  # fmt: skip
            times = await self.observer.wait(exp, start, 60 + shape.clusters, f"placement {k}")
            (adds if adding else removes).append(max(times))
            dests = tuple(sorted(shape.selected(0) + (extra if adding else [])))
            namespaces = ("ns-0", "ns-1") if adding else ("ns-1",)
            steps = {
                "slice": [self._first(("slice", "ep-0"), start, dests)],
                "syncerconfig": [
                    self._first(("config", self.logical_of[c]), start, namespaces) for c in extra
                ],
                "mailbox": [
                    self._first(("mailbox", self.logical_of[c], "ns-0", "cm-0"), start, value)
                    for c in extra
                ],
            }
            for step, seen in steps.items():
                if all(t is not None for t in seen):
                    hops.setdefault(step, []).append(max(t for t in seen if t is not None))
            # Per affected mailbox: the SyncerConfig and two copies (ConfigMap, Deployment);
            # per edge cluster the two copies (the namespace only on the first arrival).
            first = 1 if k == 0 else 0
            minimum["driver kcp"] += 1  # the EdgePlacement's change itself
            minimum["placement kcp"] += len(extra) * (3 + first)
            minimum["syncers edge"] += len(extra) * (2 + first)
            minimum["scheduler kcp"] += 2  # the SinglePlacementSlice, the placement's status
            minimum["summarizer kcp"] += 1
        self.result["placement_to_edge_s"] = _percentiles(adds + removes)
        self.result["placement_add_s"] = _percentiles(adds)
        self.result["placement_remove_s"] = _percentiles(removes)
        self.result["placement_steps_s"] = {k: _percentiles(v) for k, v in hops.items()}
        self.result.setdefault("minimum_writes", {})["placement"] = minimum
        print(f"  N={shape.clusters}: placement change -> edges "
              f"{_brief(self.result['placement_to_edge_s'])}", flush=True)  # fmt: skip

    # -- edge status -> StatusSummary -------------------------------------------------------

    def _on_summary(self, j: int) -> Callable[[Obj | None, Obj], None]:
        def on_summary(obj: Obj | None, final: Obj) -> None:
            if obj is None:
                return
            meta = obj["metadata"]
            workload = ((obj.get("status") or {}).get("workload")) or {}
            reporting = (obj.get("status") or {}).get("reporting")
            key = (f"wmw-{j}", meta.get("namespace", ""), meta["name"])
            self.observer.observe(key, (workload.get("readyReplicas"), reporting))

        return on_summary

    def _summary_key(self, p: int) -> tuple[str, str, str]:
        return (
            f"wmw-{self.shape.workspace_of(p)}",
            f"ns-{p}",
            summary_name("apps", "deployments", f"dep-{p}"),
        )

    def _expected_summary(self, p: int) -> tuple[int, int]:
        values = [v for (c, q), v in self.ready_status.items() if q == p]
        return sum(values), len(values)

    async def _set_edge_status(self, cluster: str, p: int, ready: int) -> None:
        edge_client = self.edges[cluster]
        dep = await _retry_not_found(
            lambda: edge_client.get(r.DEPLOYMENTS, f"dep-{p}", f"ns-{p}"), 60
        )
        generation = int(dep["metadata"].get("generation") or 1)
        await edge_client.patch(
            r.DEPLOYMENTS,
            f"dep-{p}",
            {"status": _deployment_status(ready, generation)},
            f"ns-{p}",
            subresource="status",
        )
        self.ready_status[(cluster, p)] = ready

    async def _prepare_status(self) -> None:
        """Every edge copy of every Deployment reports 1 ready replica; summaries agree."""
        shape = self.shape
        for j, w in enumerate(self.wmws):
            informer = Informer(w, STATUS_SUMMARIES)
            self.stack.push_async_callback(_watch(informer, self._on_summary(j)).stop)
        for p in range(shape.placements):
            for c in shape.selected(p):
                self.ready_status[(c, p)] = 1
        exps = [
            self.observer.expect([self._summary_key(p)], self._expected_summary(p))
            for p in range(shape.placements)
        ]
        start = time.monotonic()
        await _bounded(
            (
                self._set_edge_status(c, p, 1)
                for p in range(shape.placements)
                for c in shape.selected(p)
            ),
            16,
        )
        for exp in exps:
            await self.observer.wait(exp, start, 120 + shape.clusters, "initial summaries")

    async def _measure_status(self) -> None:
        shape = self.shape
        latencies: list[float] = []
        minimum = {"driver edge": 0, "syncers kcp": 0, "summarizer kcp": 0}
        for k in range(shape.status_changes):
            p = k % shape.placements
            targets = shape.selected(p)
            cluster = targets[(k // shape.placements) % len(targets)]
            ready = 1 - self.ready_status[(cluster, p)]
            self.ready_status[(cluster, p)] = ready
            exp = self.observer.expect([self._summary_key(p)], self._expected_summary(p))
            start = time.monotonic()
            await self._set_edge_status(cluster, p, ready)
            latencies += await self.observer.wait(exp, start, 30 + shape.clusters, f"status {k}")
            minimum["driver edge"] += 1  # the kubelet's status write, played by the driver
            minimum["syncers kcp"] += 1  # the mailbox copy's status
            minimum["summarizer kcp"] += 2  # the summary and the source's aggregated status
        self.result["status_to_summary_s"] = _percentiles(latencies)
        self.result.setdefault("minimum_writes", {})["status"] = minimum
        print(f"  N={shape.clusters}: edge status -> summary "
              f"{_brief(self.result['status_to_summary_s'])}", flush=True)  # fmt: skip

    # -- the floor ----------------------------------------------------------------------------

    async def _measure_floor(self, mailboxes_only: bool = False) -> None:
        shape = self.shape
        targets = (
            []
            if mailboxes_only
            else sorted({c for p in range(shape.placements) for c in shape.selected(p)})
        )
        await self._spawn(
            "floor",
            "floor",
            {
                "dir": str(self.workdir / "floor"),
                "kcp_kubeconfig": str(self.kcp_kubeconfig),
                "edges": {c: self.edge_configs[c] for c in targets},
                "mailboxes": {c: self.mailbox_of[c] for c in targets},
                "targets": targets,
            },
        )
        floor = self.children["floor"]
        n_mailboxes = min(shape.clusters, shape.floor_mailboxes)
        self.result["floor_mailbox_ready_s"] = _percentiles(
            await floor.call("mailboxes", n_mailboxes)
        )
        if mailboxes_only:
            return
        await floor.call("prepare")
        plan = [shape.selected(k % shape.placements) for k in range(1, shape.changes + 1)]
        self.result["floor_change_s"] = _percentiles(await floor.call("changes", plan))
        self.result["floor_status_s"] = _percentiles(
            await floor.call("status", shape.status_changes)
        )

    # -- accounting ---------------------------------------------------------------------------

    def _account(self) -> None:
        res = self.result
        for name, floor in (
            ("mailbox_ready_s", "floor_mailbox_ready_s"),
            ("change_to_edge_s", "floor_change_s"),
            ("placement_to_edge_s", "floor_change_s"),
            ("status_to_summary_s", "floor_status_s"),
        ):
            figures, base = res.get(name) or {}, res.get(floor) or {}
            ratios = {}
            for q in ("p50", "p90", "p99"):
                if figures.get(q) is not None and base.get(q):
                    ratios[q] = figures[q] / base[q]
            res[f"{name.removesuffix('_s')}_x_floor"] = ratios
        phases = list(self.usage)
        res["phases"] = {}
        for before, after in itertools.pairwise(phases):
            delta: Obj = {}
            for child, u in self.usage[after].items():
                u0 = self.usage[before].get(child)
                if u0 is None:
                    continue
                writes = {
                    k: v - u0["writes"].get(k, 0.0)
                    for k, v in u["writes"].items()
                    if v - u0["writes"].get(k, 0.0)
                }
                delta[_role(child)] = _merge(
                    delta.get(_role(child)),
                    {"cpu_s": u["cpu_s"] - u0["cpu_s"], "writes": writes},
                )
            res["phases"][after] = delta
        res["writes_vs_minimum"] = {
            phase: _writes_vs_minimum(res["phases"].get(phase, {}), minimum)
            for phase, minimum in res.get("minimum_writes", {}).items()
        }
        end = self.usage.get("end", {})
        per_role: dict[str, Obj] = {}
        for child, u in end.items():
            per_role[child] = {"cpu_s": u["cpu_s"], "peak_rss_mb": u["peak_rss_mb"]}
        res["processes"]["usage"] = per_role
        # Growth over the process's RSS before its clusters (kcp: before the SyncTargets),
        # per cluster; the last measurement with everything running, not the peak.
        n = self.shape.clusters
        last = self.usage.get("idle", {})
        self.base_rss["kcp"] = self.usage.get("start", {}).get("kcp", {}).get("rss_mb", 0.0)

        def growth(prefix: str) -> float:
            rss = sum(
                u["rss_mb"] - self.base_rss.get(c, 0.0)
                for c, u in last.items()
                if c.startswith(prefix)
            )
            return rss / n

        res["memory_per_cluster_mb"] = {
            "edge_server": growth("edges-"),
            "syncer": growth("syncers-"),
            "kcp_server": growth("kcp"),
        }
        idle = res["phases"].get("idle", {})
        secs = self.shape.idle_seconds or 1.0
        res["idle_per_s"] = {
            role: {
                "cpu": d["cpu_s"] / secs,
                "writes": sum(d["writes"].values()) / secs,
            }
            for role, d in idle.items()
        }


def _role(child: str) -> str:
    return child.split("-", 1)[0]


def _merge(a: Obj | None, b: Obj) -> Obj:
    if a is None:
        return b
    writes = dict(a["writes"])
    for k, v in b["writes"].items():
        writes[k] = writes.get(k, 0.0) + v
    return {"cpu_s": a["cpu_s"] + b["cpu_s"], "writes": writes}


def _tally(writes: dict[str, float], where: str, skip_patches: bool) -> tuple[float, float]:
    """(write requests made to `where`, of which refused) from `"<where> <verb>[ <code>]"`
    counts; PATCHes left out when `skip_patches` (the syncers' heartbeats)."""
    made = refused = 0.0
    for k, v in writes.items():
        parts = k.split(" ")
        if parts[0] != where or (skip_patches and parts[1] == "PATCH"):
            continue
        made += v
        refused += v if len(parts) > 2 else 0.0
    return made, refused


def _writes_vs_minimum(phase: Obj, minimum: dict[str, int]) -> Obj:
    """For each "<role> <server>" minimum: write requests made there (refused ones too,
    also counted apart), the minimum and the ratio; writes of a component the phase needs
    none from, with minimum 0. Syncer heartbeats (PATCHes of SyncerConfigs) are periodic,
    not caused by the phase: they are listed on their own."""
    writes = {role: d.get("writes", {}) for role, d in phase.items()}
    wanted = dict(minimum)
    for role, made_by in writes.items():
        for k in made_by:
            wanted.setdefault(f"{role} {k.split(' ')[0]}", 0)
    out: Obj = {}
    for key, least in wanted.items():
        role, where = key.split(" ")
        beats = role == "syncers" and where == "kcp"
        made, refused = _tally(writes.get(role, {}), where, skip_patches=beats)
        if least or made:
            out[key] = {
                "made": made,
                "refused": refused,
                "minimum": least,
                "ratio": made / least if least else None,
            }
    beats = sum(v for k, v in writes.get("syncers", {}).items() if k.startswith("kcp PATCH"))
    out["syncers heartbeats"] = {"made": beats, "refused": 0.0, "minimum": None, "ratio": None}
    return out


def _brief(figures: Obj) -> str:
    if not figures.get("n"):
        return "n=0"
    return " ".join(f"{q}={figures[q] * 1000:.0f}ms" for q in ("p50", "p90", "p99"))


async def run_system(n: int, workdir: Path, **shape: Any) -> Obj:
    """Build the system with `n` edge clusters, measure it, tear it down; the figures."""
    profile_dir = shape.pop("profile_dir", None)
    trace = shape.pop("tracemalloc", False)
    verbosity = shape.pop("verbosity", 0)
    dims = Shape(clusters=n, **shape)
    if dims.placements > n:  # every placement selects at least one cluster
        dims = replace(dims, placements=n)
    return await SystemRun(dims, workdir, profile_dir, tracemalloc=trace, verbosity=verbosity).run()


# -- output --------------------------------------------------------------------------------


def _table(results: list[Obj]) -> str:
    def ms(figures: Obj | None, q: str) -> str:
        value = (figures or {}).get(q)
        return f"{value * 1000:.0f}" if value is not None else "-"

    def ratio(res: Obj, name: str, q: str = "p99") -> str:
        value = (res.get(f"{name}_x_floor") or {}).get(q)
        return f"{value:.1f}" if value is not None else "-"

    rows = [
        "latency, ms (x floor = ratio to the bare client's figure in the same run)",
        f"{'N':>5} {'what':<22} {'p50':>7} {'p90':>7} {'p99':>7} {'floor p50':>9} "
        f"{'floor p99':>9} {'x floor p99':>11}",
    ]
    for res in results:
        for label, key, floor in (
            ("SyncTarget->mailbox", "mailbox_ready_s", "floor_mailbox_ready_s"),
            ("change->every edge", "change_to_edge_s", "floor_change_s"),
            ("placement->edges", "placement_to_edge_s", "floor_change_s"),
            ("edge status->summary", "status_to_summary_s", "floor_status_s"),
        ):
            figures = res.get(key)
            rows.append(
                f"{res['clusters']:>5} {label:<22} {ms(figures, 'p50'):>7} "
                f"{ms(figures, 'p90'):>7} {ms(figures, 'p99'):>7} "
                f"{ms(res.get(floor), 'p50'):>9} {ms(res.get(floor), 'p99'):>9} "
                f"{ratio(res, key.removesuffix('_s')):>11}"
            )
    rows += [
        f"{res['clusters']:>5} skipped: {res['skipped']}" for res in results if "skipped" in res
    ]
    rows += ["", "where the time goes: P50 / P99 ms from the write to the last affected ..."]
    for res in results:
        steps = {"mailbox copy (change)": res.get("change_to_every_mailbox_s")}
        for step, figures in (res.get("placement_steps_s") or {}).items():
            steps[f"{step} (placement)"] = figures
        rows.append(
            f"{res['clusters']:>5} "
            + ", ".join(f"{k} {ms(v, 'p50')} / {ms(v, 'p99')}" for k, v in steps.items())
        )
    rows += ["", "write requests made (of which refused) / minimum",
             f"{'N':>5} {'phase':<10} {'who, where':<18} {'made':>7} {'refused':>7} {'min':>7} "
             f"{'ratio':>6}"]  # fmt: skip
    for res in results:
        for phase, entries in (res.get("writes_vs_minimum") or {}).items():
            for key, e in entries.items():
                rat = f"{e['ratio']:.2f}" if e["ratio"] is not None else "-"
                least = e["minimum"] if e["minimum"] is not None else "-"
                rows.append(
                    f"{res['clusters']:>5} {phase:<10} {key:<18} {e['made']:>7.0f} "
                    f"{e['refused']:>7.0f} {least:>7} {rat:>6}"
                )
    rows += ["", "per process: CPU seconds (whole run), peak RSS MB; idle: CPU s/s, writes/s"]
    for res in results:
        usage = res["processes"]["usage"]
        idle = res.get("idle_per_s", {})
        for child in sorted(usage):
            u = usage[child]
            i = idle.get(_role(child), {})
            rows.append(
                f"{res['clusters']:>5} {child:<12} cpu {u['cpu_s']:>7.1f}  rss "
                f"{u['peak_rss_mb']:>7.0f}  idle cpu {i.get('cpu', 0):>5.2f} "
                f"writes {i.get('writes', 0):>6.1f}"
            )
        m = res["memory_per_cluster_mb"]
        watches = res.get("open_watches") or {}
        rows.append(
            f"{res['clusters']:>5} open watches: kcp {watches.get('kcp', 0)}, edge servers "
            f"{sum(v for k, v in watches.items() if k != 'kcp')}"
        )
        rows.append(
            f"{res['clusters']:>5} per cluster MB: edge server {m['edge_server']:.2f}, syncer "
            f"{m['syncer']:.2f}, kcp server {m['kcp_server']:.2f}"
        )
    return "\n".join(rows)


def _plot(results: list[Obj], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib not importable (pip install '.[bench]'): no plot", flush=True)
        return
    ns = [res["clusters"] for res in results]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (
        ("change_to_edge_s", "change -> every edge", "o-"),
        ("placement_to_edge_s", "placement -> edges", "s-"),
        ("status_to_summary_s", "edge status -> summary", "^-"),
        ("mailbox_ready_s", "SyncTarget -> mailbox", "d-"),
        ("floor_change_s", "floor: change", "o--"),
    ):
        ys = [(res.get(key) or {}).get("p99") for res in results]
        if any(y is not None for y in ys):
            values = [float("nan") if y is None else y for y in ys]  # a skipped measurement
            ax.plot(ns, values, style, label=f"{label} (P99)")
    ax.plot([100, 1000], [0.5, 2.0], "kx:", label="issue #13 aim: placement P99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sorted({*ns, 100, 1000}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("edge clusters (N)")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "system.png")
    print(f"plot: {out / 'system.png'}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.system")
    defaults = Shape(clusters=0)
    parser.add_argument("--clusters", default="10,100,1000", help="comma-separated N list")
    parser.add_argument("--workloads", type=int, default=defaults.workloads)
    parser.add_argument("--placements", type=int, default=defaults.placements)
    parser.add_argument("--changes", type=int, default=defaults.changes)
    parser.add_argument("--placement-changes", type=int, default=defaults.placement_changes)
    parser.add_argument("--status-changes", type=int, default=defaults.status_changes)
    parser.add_argument("--idle-seconds", type=float, default=defaults.idle_seconds)
    parser.add_argument("--clusters-per-process", type=int, default=defaults.clusters_per_process)
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("-v", type=int, default=0, help="the components' -v (logs in workdir)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep data and logs here (default: a temp dir)"
    )
    parser.add_argument("--profile", type=Path, default=None, help="cProfile each child here")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="with --profile: trace allocations instead (each child's <name>.mem.txt there)",
    )
    args = parser.parse_args(argv)
    _raise_open_file_limit()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = []
    for n in [int(x) for x in args.clusters.split(",") if x]:
        with tempfile.TemporaryDirectory(prefix=f"bench-system-{n}-") as tmp:
            if args.workdir is not None:
                tmp = str(args.workdir / f"n{n}")
                Path(tmp).mkdir(parents=True, exist_ok=True)
            profile = args.profile / f"n{n}" if args.profile is not None else None
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
            results.append(
                asyncio.run(
                    run_system(
                        n,
                        Path(tmp),
                        workloads=args.workloads,
                        placements=args.placements,
                        changes=args.changes,
                        placement_changes=args.placement_changes,
                        status_changes=args.status_changes,
                        idle_seconds=args.idle_seconds,
                        clusters_per_process=args.clusters_per_process,
                        profile_dir=profile,
                        tracemalloc=args.tracemalloc,
                        verbosity=args.v,
                    )
                )
            )
        if len(args.clusters.split(",")) > 1:
            print(_table(results[-1:]), flush=True)
    print(_table(results))
    (args.out / "system.json").write_text(json.dumps(results, indent=2))
    print(f"json: {args.out / 'system.json'}")
    _plot(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
