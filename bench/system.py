"""System benchmark: N simulated edge clusters end to end, with a bare-client floor.

`python -m bench.system [--clusters 10,100] [--out DIR]`. One kcp-mode server, the real
mailbox controller, scheduler and placement translator in this process, one EdgeCluster and
one syncer per SyncTarget (each syncer talks HTTP to its own edge server; it is given an
admin kubeconfig of its mailbox instead of a syncer-gen identity). Measured per N: SyncTarget
creation -> mailbox Workspace Ready with `bind-edge` Bound; ConfigMap edit in a workload
workspace -> the edit present in every selected edge cluster (P50/P90/P99); the floor (a bare
client doing the same writes and reads against the same servers); CPU seconds and peak RSS.
Figures are printed and written as JSON; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import yaml

from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.embedded.apiserver.kcp import build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.bootstrap import ensure_espw, ensure_workspace, workspace_kubeconfig
from edgemc.embedded.edgecluster import EdgeCluster
from edgemc.runtime import AlreadyExists, Client, ClusterConfig, NotFound

CONFIG = Path(__file__).resolve().parents[1] / "config"
IMW = "root:imw-1"
ESPW = "root:espw"
NAMESPACE = "bench"
Obj = dict[str, Any]


def _binding(name: str, path: str, export: str) -> Obj:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50": pick(0.5),
        "p90": pick(0.9),
        "p99": pick(0.99),
        "mean": statistics.fmean(ordered),
    }


async def wait_until(check: Any, within: float, what: str, period: float = 0.01) -> Any:
    """Poll the async `check` until it returns something truthy or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(period)


async def _get(client: Client, gvr: Any, name: str, namespace: str | None = None) -> Obj | None:
    try:
        return await client.get(gvr, name, namespace)
    except NotFound:
        return None


async def _create(client: Client, gvr: Any, obj: Obj, namespace: str | None = None) -> None:
    try:
        await client.create(gvr, obj, namespace=namespace)
    except AlreadyExists:
        pass


def _write_counts(kcp_host: str) -> dict[str, float]:
    """Process-wide write counters: each controller's `edgemc_*_writes_total` and every
    client's non-GET requests, split into the kcp server and the edge servers."""
    from prometheus_client import REGISTRY

    counts: dict[str, float] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            name, labels = sample.name, sample.labels
            if name.startswith("edgemc_") and name.endswith("_writes_total"):
                counts[name] = counts.get(name, 0.0) + sample.value
            elif name == "rest_client_requests_total" and labels.get("method") not in (
                "GET",
                None,
            ):
                where = "kcp" if labels.get("host") == kcp_host else "edge"
                key = f"rest_writes_{where}"
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_system(n: int, workdir: Path, *, workloads: int = 2, changes: int = 20) -> Obj:
    """Build the system with `n` edge clusters, measure it, tear it down; the figures."""
    placements = workloads  # one EdgePlacement per workload workspace
    cpu0 = _cpu_seconds()
    wall0 = time.monotonic()
    stack = AsyncExitStack()
    server = build_kcp_server(ServerConfig(port=0, data_dir=workdir / "kcp"))
    await server.start()
    stack.push_async_callback(server.stop)
    config = ClusterConfig.for_server(server.url, server.kcp_admin_token)
    config.ssl = server.client_ssl()
    admin = Client(config)
    stack.push_async_callback(admin.close)
    result: Obj = {"clusters": n, "workloads": workloads, "placements": placements}
    try:
        await ensure_espw(admin, ESPW, CONFIG)
        espw_kc = workdir / "espw.kubeconfig"
        espw_kc.write_text(yaml.safe_dump(workspace_kubeconfig(server.kubeconfig(), ESPW)))
        for module in ("mailbox", "scheduler", "placement.app", "summarizer"):
            try:
                app = __import__(f"edgemc.controllers.{module}", fromlist=["APP"]).APP
            except (ImportError, AttributeError) as err:
                print(f"  component {module} not importable ({err}); skipped", flush=True)
                continue
            await stack.enter_async_context(running(app, [f"--kubeconfig={espw_kc}", "-v=0"]))
        await ensure_workspace(admin, IMW)
        imw = admin.cluster(IMW)
        espw = admin.cluster(ESPW)

        # -- SyncTarget -> mailbox ready ---------------------------------------------------
        print(f"  N={n}: creating {n} SyncTargets/Locations", flush=True)
        created: dict[str, float] = {}
        for i in range(n):
            name = f"c{i}"
            labels = {"env": "prod", "group": f"g{i % placements}"}
            await _create(
                imw,
                r.SYNC_TARGETS,
                {
                    "apiVersion": "workload.kcp.io/v1alpha1",
                    "kind": "SyncTarget",
                    "metadata": {"name": name, "labels": {"id": name, **labels}},
                },
            )
            created[name] = time.monotonic()
            await _create(
                imw,
                r.LOCATIONS,
                {
                    "apiVersion": "scheduling.kcp.io/v1alpha1",
                    "kind": "Location",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {
                        "resource": {
                            "group": "workload.kcp.io",
                            "version": "v1alpha1",
                            "resource": "synctargets",
                        },
                        "instanceSelector": {"matchLabels": {"id": name}},
                    },
                },
            )
        try:
            await imw.delete(r.LOCATIONS, "default")
        except NotFound:
            pass
        ready: dict[str, float] = {}
        mailbox_of: dict[str, str] = {}

        async def all_ready() -> bool:
            workspaces = (await espw.list(r.WORKSPACES))["items"]
            for ws in workspaces:
                target = (ws["metadata"].get("annotations") or {}).get(
                    "edge.kcp.io/sync-target-name"
                )
                if target is None or target in ready:
                    continue
                if (ws.get("status") or {}).get("phase") != "Ready":
                    continue
                mb = admin.cluster(f"{ESPW}:{ws['metadata']['name']}")
                b = await _get(mb, r.API_BINDINGS, "bind-edge")
                if b and (b.get("status") or {}).get("phase") == "Bound":
                    ready[target] = time.monotonic()
                    mailbox_of[target] = ws["metadata"]["name"]
            return len(ready) >= n

        await wait_until(all_ready, 60 + n, "mailboxes ready", period=0.05)
        result["mailbox_ready_s"] = _percentiles([ready[k] - created[k] for k in created])
        print(f"  N={n}: mailboxes ready {result['mailbox_ready_s']}", flush=True)

        # -- edge clusters and syncers ----------------------------------------------------
        edges: dict[str, EdgeCluster] = {}
        edge_clients: dict[str, Client] = {}
        for i in range(n):
            name = f"c{i}"
            mbpath = f"{ESPW}:{mailbox_of[name]}"
            mb = admin.cluster(mbpath)
            await _create(mb, r.API_BINDINGS, _binding("bind-kube", "root:compute", "kubernetes"))
            edge = EdgeCluster(name, data_dir=workdir / "edge" / name)
            await edge.start()
            stack.push_async_callback(edge.stop)
            edges[name] = edge
            ec = Client(edge.client_config())
            stack.push_async_callback(ec.close)
            edge_clients[name] = ec
            ekc = edge.write_kubeconfig(workdir / f"edge-{name}.kubeconfig")
            mkc = workdir / f"mb-{name}.kubeconfig"
            mkc.write_text(yaml.safe_dump(workspace_kubeconfig(server.kubeconfig(), mbpath)))
            from edgemc.controllers.syncer.app import APP as SYNCER

            await stack.enter_async_context(
                running(
                    SYNCER,
                    [
                        f"--kubeconfig={ekc}",
                        f"--from-kubeconfig={mkc}",
                        f"--to-kubeconfig={ekc}",
                        f"--from-cluster={mbpath}",
                        f"--sync-target-name={name}",
                        "--qps=0",
                        "-v=0",
                    ],
                )
            )
            if (i + 1) % 10 == 0:
                print(f"  N={n}: {i + 1} edge clusters + syncers up", flush=True)

        # -- workload workspaces and placements -------------------------------------------
        wmws: list[Client] = []
        selected: list[list[str]] = []
        for j in range(workloads):
            path = f"root:my-org:wmw-{j}"
            await ensure_workspace(admin, path)
            w = admin.cluster(path)
            wmws.append(w)
            await _create(w, r.API_BINDINGS, _binding("bind-kube", "root:compute", "kubernetes"))
            await _create(w, r.API_BINDINGS, _binding("bind-espw", ESPW, "edge.kcp.io"))

            async def served(w: Client = w) -> bool:
                try:
                    await w.list(r.EDGE_PLACEMENTS)
                    await w.list(r.CONFIGMAPS)
                except NotFound:
                    return False
                return True

            await wait_until(served, 30, f"APIs in {path}")
            await _create(
                w,
                r.NAMESPACES,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": NAMESPACE, "labels": {"bench": f"w{j}"}},
                },
            )
            await _create(
                w,
                r.CONFIGMAPS,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{j}", "namespace": NAMESPACE},
                    "data": {"v": "0"},
                },
                NAMESPACE,
            )
            await _create(
                w,
                r.EDGE_PLACEMENTS,
                {
                    "apiVersion": "edge.kcp.io/v1alpha1",
                    "kind": "EdgePlacement",
                    "metadata": {"name": f"ep-{j}"},
                    "spec": {
                        "locationSelectors": [{"matchLabels": {"group": f"g{j}"}}],
                        "namespaceSelector": {"matchLabels": {"bench": f"w{j}"}},
                    },
                },
            )
            selected.append([f"c{i}" for i in range(n) if i % placements == j])

        async def present(j: int, value: str) -> bool:
            for name in selected[j]:
                cm = await _get(edge_clients[name], r.CONFIGMAPS, f"cm-{j}", NAMESPACE)
                if cm is None or (cm.get("data") or {}).get("v") != value:
                    return False
            return True

        t0 = time.monotonic()
        for j in range(workloads):
            await wait_until(lambda j=j: present(j, "0"), 60 + n, f"initial placement {j}")
        result["initial_placement_s"] = time.monotonic() - t0
        print(f"  N={n}: initial placement {result['initial_placement_s']:.2f}s", flush=True)

        # -- workload change -> every selected edge cluster -------------------------------
        kcp_host = server.url.split("://", 1)[1].split("/", 1)[0]
        writes0 = _write_counts(kcp_host)
        latencies: list[float] = []
        for k in range(1, changes + 1):
            j = k % workloads
            start = time.monotonic()
            await wmws[j].patch(r.CONFIGMAPS, f"cm-{j}", {"data": {"v": str(k)}}, NAMESPACE)
            await wait_until(lambda j=j, k=k: present(j, str(k)), 30 + n, f"change {k}")
            latencies.append(time.monotonic() - start)
        result["change_to_edge_s"] = _percentiles(latencies)
        writes1 = _write_counts(kcp_host)
        result["writes_during_changes"] = {
            k: writes1.get(k, 0.0) - writes0.get(k, 0.0) for k in writes1
        }
        # The minimum: the edit itself, one mailbox copy and one edge copy per selected cluster.
        result["writes_minimum"] = {
            "kcp": changes + sum(len(selected[k % workloads]) for k in range(1, changes + 1)),
            "edge": sum(len(selected[k % workloads]) for k in range(1, changes + 1)),
        }
        print(f"  N={n}: change -> edge {result['change_to_edge_s']}", flush=True)

        # -- floor: a bare client doing one write and the same reads ----------------------
        floor: list[float] = []
        await _create(
            wmws[0],
            r.CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "floor", "namespace": NAMESPACE},
                "data": {"v": "0"},
            },
            NAMESPACE,
        )
        targets = selected[0]
        for name in targets:
            await _create(
                edge_clients[name],
                r.NAMESPACES,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "floor"}},
            )
        for k in range(1, changes + 1):
            start = time.monotonic()
            await wmws[0].patch(r.CONFIGMAPS, "floor", {"data": {"v": str(k)}}, NAMESPACE)
            for name in targets:  # the copy a perfect system would make, then one read
                cm = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "floor", "namespace": "floor"},
                    "data": {"v": str(k)},
                }
                try:
                    await edge_clients[name].patch(r.CONFIGMAPS, "floor", cm, "floor")
                except NotFound:
                    await edge_clients[name].create(r.CONFIGMAPS, cm, "floor")
                await edge_clients[name].get(r.CONFIGMAPS, "floor", "floor")
            floor.append(time.monotonic() - start)
        result["floor_change_s"] = _percentiles(floor)
        for q in ("p50", "p90", "p99"):
            f = result["floor_change_s"].get(q) or 0.0
            result[f"ratio_{q}"] = (result["change_to_edge_s"][q] / f) if f else None
    finally:
        await stack.aclose()
    result["cpu_s"] = _cpu_seconds() - cpu0
    result["wall_s"] = time.monotonic() - wall0
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["status_to_summary_s"] = "not measured"
    return result


def _table(results: list[Obj]) -> str:
    head = (
        f"{'N':>5} {'mbx p50':>8} {'mbx p99':>8} {'chg p50':>8} {'chg p90':>8} "
        f"{'chg p99':>8} {'floor p50':>9} {'x floor':>8} {'cpu s':>7} {'rss MB':>7}"
    )
    rows = [head]
    for res in results:
        m, c, f = res["mailbox_ready_s"], res["change_to_edge_s"], res["floor_change_s"]
        rows.append(
            f"{res['clusters']:>5} {m['p50']:>8.3f} {m['p99']:>8.3f} {c['p50']:>8.3f} "
            f"{c['p90']:>8.3f} {c['p99']:>8.3f} {f['p50']:>9.3f} "
            f"{res['ratio_p50'] or 0:>8.1f} {res['cpu_s']:>7.1f} {res['peak_rss_mb']:>7.0f}"
        )
    return "\n".join(rows)


def _plot(results: list[Obj], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot", flush=True)
        return
    ns = [res["clusters"] for res in results]
    fig, ax = plt.subplots()
    for q in ("p50", "p90", "p99"):
        ax.plot(ns, [res["change_to_edge_s"][q] for res in results], marker="o", label=q)
    ax.set_xscale("log")
    ax.set_xlabel("edge clusters")
    ax.set_ylabel("change -> edge (s)")
    ax.legend()
    fig.savefig(out / "system.png")
    print(f"plot: {out / 'system.png'}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.system")
    parser.add_argument("--clusters", default="10,100", help="comma-separated N list")
    parser.add_argument("--changes", type=int, default=20, help="workload edits per N")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in [int(x) for x in args.clusters.split(",") if x]:
        with tempfile.TemporaryDirectory(prefix=f"bench-system-{n}-") as tmp:
            results.append(asyncio.run(run_system(n, Path(tmp), changes=args.changes)))
    print(_table(results))
    (args.out / "system.json").write_text(json.dumps(results, indent=2))
    print(f"json: {args.out / 'system.json'}")
    _plot(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
