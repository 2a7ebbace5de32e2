"""Edge scheduler at scale: Location/SyncTarget pairs x EdgePlacements on the embedded kcp server.

Set-up (default 1,000 pairs in 10 inventory workspaces, 200 placements in 4 workload
workspaces): Location `loc-N` has labels zone (20 values), tier (5 values) and env, and
selects its SyncTarget by `id`; placements select one zone, two zones (`In`), a zone and a
tier, or one of two zones (two selectors), so each matches 10 to 100 Locations.

Measured in one run, against the real component (`running(APP, ...)`) over HTTPS:

* cold start: from starting the scheduler until every slice and every status is right;
* relabel: 10% of the Locations move to another zone while it runs; until converged again.

Convergence is seen by an informer of this benchmark (not by polling), checking each slice
and status against a brute-force evaluation of the selectors. Printed next to each phase:

* its time divided by the time a bare client takes to create the same slices, precomputed,
  on the same server (the floor for any scheduler: the writes alone);
* API writes made (successful, and all attempts) divided by the minimum needed: one per
  slice whose content changed and one per placement whose status changed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from edgemc.apis.kcp import ensure_location_objects
from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.controllers.scheduler import APP, WRITES, SchedulerOptions
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.bootstrap import (
    ESPW_PATH,
    ensure_espw,
    ensure_workspace,
    workspace_kubeconfig,
)
from edgemc.runtime import Client, ClusterConfig, Informer, NotFound
from edgemc.runtime.cache import cluster_of
from edgemc.runtime.kcp import wait_for_apiexport_view

ZONES = 20
TIERS = 5
# Requests in flight while the benchmark writes its own objects.
BATCH = 50

Inventory = dict[str, tuple[str, dict[str, str], str]]
Expected = dict[tuple[str, str], tuple[list[tuple[str, str, str, str]], int]]


def location_labels(i: int, shift: int = 0) -> dict[str, str]:
    return {"zone": f"z{(i + shift) % ZONES}", "tier": f"t{i % TIERS}", "env": "prod"}


def placement_selectors(j: int) -> list[dict[str, Any]]:
    zone, other, tier = f"z{j % ZONES}", f"z{(j * 7 + 3) % ZONES}", f"t{j % TIERS}"
    return [
        [{"matchLabels": {"zone": zone}}],
        [{"matchExpressions": [{"key": "zone", "operator": "In", "values": [zone, other]}]}],
        [{"matchLabels": {"zone": zone, "tier": tier}}],
        [{"matchLabels": {"zone": zone}}, {"matchLabels": {"zone": other}}],
    ][j % 4]


def brute_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions") or [])


def expected_results(locations: Inventory, placements: dict[tuple[str, str], int]) -> Expected:
    """(workload cluster, placement) -> (sorted destination tuples, matching Location count).

    `locations` maps name -> (cluster, labels, SyncTarget uid); Location N selects the
    SyncTarget of the same name.
    """
    out: Expected = {}
    for key, j in placements.items():
        selectors = placement_selectors(j)
        dests = []
        for name, (cluster, labels, uid) in locations.items():
            if any(brute_matches(s, labels) for s in selectors):
                dests.append((cluster, name, name, uid))
        out[key] = (sorted(dests), len(dests))
    return out


class Convergence:
    """Watches slices and placements; `converged` is set when all match `expected`."""

    def __init__(self, slices: Informer, placements: Informer) -> None:
        self.slices = slices
        self.placements = placements
        self.expected: Expected = {}
        self.converged = asyncio.Event()
        for informer in (slices, placements):
            informer.add_handler(
                lambda obj: self.check(), lambda old, new: self.check(), lambda obj: self.check()
            )

    def reset(self, expected: Expected) -> None:
        self.expected = expected
        self.converged.clear()
        self.check()

    def check(self) -> None:
        if self.expected and not self.converged.is_set() and self._all_right():
            self.converged.set()

    def _all_right(self) -> bool:
        for (cluster, name), (dests, count) in self.expected.items():
            sps = self.slices.store.get_by(cluster, "", name)
            ep = self.placements.store.get_by(cluster, "", name)
            if sps is None or ep is None:
                return False
            got = [
                (d["cluster"], d["locationName"], d["syncTargetName"], d["syncTargetUID"])
                for d in sps["destinations"]
            ]
            status = ep.get("status") or {}
            if got != dests or status.get("matchingLocationCount") != count:
                return False
            if status.get("specGeneration") != ep["metadata"]["generation"]:
                return False
        return True


def writes() -> tuple[float, float]:
    """(successful writes, all write attempts) made by the scheduler so far."""
    ok = attempts = 0.0
    for metric in WRITES.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                attempts += sample.value
                if sample.labels["result"] == "ok":
                    ok += sample.value
    return ok, attempts


async def in_batches(calls: list[Callable[[], Awaitable[Any]]]) -> None:
    """Run the calls, BATCH at a time."""
    for i in range(0, len(calls), BATCH):
        await asyncio.gather(*(call() for call in calls[i : i + BATCH]))


async def populate_inventory(
    server: KcpServer, admin: Client, n_locations: int, n_imws: int
) -> Inventory:
    """The inventory workspaces with their pairs; returns name -> (cluster, labels, uid)."""
    imws = [f"root:imw-{k}" for k in range(n_imws)]
    clusters = {path: (await ensure_workspace(admin, path))["spec"]["cluster"] for path in imws}
    locations: Inventory = {}

    async def create(i: int) -> None:
        path, name, labels = imws[i % n_imws], f"loc-{i}", location_labels(i)
        target, location = ensure_location_objects(name, labels)
        created = await admin.cluster(path).create(r.SYNC_TARGETS, target)
        await admin.cluster(path).create(r.LOCATIONS, location)
        locations[name] = (clusters[path], labels, created["metadata"]["uid"])

    await in_batches([functools.partial(create, i) for i in range(n_locations)])
    await server.wait_idle()
    for path in imws:  # kcp's auto-created Location, which ensure-location.sh removes
        with contextlib.suppress(NotFound):
            await admin.cluster(path).delete(r.LOCATIONS, "default")
    return locations


async def populate_placements(
    admin: Client, n_placements: int, n_wmws: int
) -> dict[tuple[str, str], int]:
    """The workload workspaces (binding the edge API) with their placements; returns
    (workload cluster, placement name) -> placement number."""
    wmws = [f"root:wmw-{k}" for k in range(n_wmws)]
    binding = {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": "bind-espw"},
        "spec": {"reference": {"export": {"path": ESPW_PATH, "name": "edge.kcp.io"}}},
    }
    for path in wmws:
        await ensure_workspace(admin, path)
        await admin.cluster(path).create(r.API_BINDINGS, binding)
    placements: dict[tuple[str, str], int] = {}

    async def create(j: int) -> None:
        ep = {
            "apiVersion": "edge.kcp.io/v1alpha1",
            "kind": "EdgePlacement",
            "metadata": {"name": f"ep-{j}"},
            "spec": {"locationSelectors": placement_selectors(j)},
        }
        created = await admin.cluster(wmws[j % n_wmws]).create(r.EDGE_PLACEMENTS, ep)
        placements[(cluster_of(created), f"ep-{j}")] = j

    await in_batches([functools.partial(create, j) for j in range(n_placements)])
    return placements


async def run(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
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


def slice_body(name: str, destinations: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SinglePlacementSlice",
        "metadata": {"name": name},
        "destinations": [
            {"cluster": c, "locationName": loc, "syncTargetName": st, "syncTargetUID": uid}
            for c, loc, st, uid in destinations
        ],
    }


async def bare_writes(admin: Client, expected: Expected) -> float:
    """Seconds for a bare client to create the expected slices (as `baseline-*`); then
    removes them again."""
    calls = [
        functools.partial(
            admin.cluster(cluster).create,
            r.SINGLE_PLACEMENT_SLICES,
            slice_body(f"baseline-{name}", dests),
        )
        for (cluster, name), (dests, _) in expected.items()
    ]
    start = time.perf_counter()
    await in_batches(calls)
    elapsed = time.perf_counter() - start
    await in_batches(
        [
            functools.partial(
                admin.cluster(cluster).delete, r.SINGLE_PLACEMENT_SLICES, f"baseline-{name}"
            )
            for cluster, name in expected
        ]
    )
    return elapsed


async def relabel(admin: Client, cluster: str, name: str, labels: dict[str, str]) -> None:
    client = admin.cluster(cluster)
    location = await client.get(r.LOCATIONS, name)
    location["metadata"]["labels"] = labels
    await client.update(r.LOCATIONS, location)


async def measure(
    args: argparse.Namespace, server: KcpServer, admin: Client, directory: Path
) -> None:
    start = time.perf_counter()
    await ensure_espw(admin)
    locations = await populate_inventory(server, admin, args.locations, args.imws)
    placements = await populate_placements(admin, args.placements, args.wmws)
    await server.wait_idle()
    print(
        f"scheduler: {len(locations)} Location/SyncTarget pairs in {args.imws} workspaces x "
        f"{len(placements)} EdgePlacements in {args.wmws} workspaces "
        f"(set-up {time.perf_counter() - start:.1f} s, {args.workers} workers, "
        f"batch period {args.batch_period} s)"
    )
    expected = expected_results(locations, placements)
    bare = await bare_writes(admin, expected)
    destinations = sum(len(dests) for dests, _ in expected.values())
    print(
        f"  baseline: a bare client creates the {len(expected)} slices "
        f"({destinations} destinations) in {bare * 1000:.0f} ms"
    )

    kubeconfig = directory / "espw.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(workspace_kubeconfig(server.kubeconfig(), ESPW_PATH), sort_keys=False)
    )
    os.chmod(kubeconfig, 0o600)
    espw = admin.cluster(ESPW_PATH)
    view = admin.with_base_url(await wait_for_apiexport_view(espw, "edge.kcp.io")).cluster("*")
    slices = Informer(view, r.SINGLE_PLACEMENT_SLICES)
    eps = Informer(view, r.EDGE_PLACEMENTS)
    watch = Convergence(slices, eps)
    for informer in (slices, eps):
        informer.start()
        await informer.wait_for_sync()
    watch.reset(expected)

    argv = [
        f"--kubeconfig={kubeconfig}",
        f"--workers={args.workers}",
        f"--batch-period={args.batch_period}",
        "-v=0",
    ]
    before = writes()
    t0 = time.perf_counter()
    async with running(APP, argv):
        await watch.converged.wait()
        report("cold start", time.perf_counter() - t0, bare, before, 2 * len(expected))

        # Move a share of the Locations to another zone, all at once.
        moved = list(locations)[:: max(1, round(1 / args.relabel))]
        new_locations = dict(locations)
        for name in moved:
            cluster, _, uid = locations[name]
            new_locations[name] = (cluster, location_labels(int(name[4:]), shift=7), uid)
        new_expected = expected_results(new_locations, placements)
        changed_slices = sum(1 for k in expected if expected[k][0] != new_expected[k][0])
        changed_status = sum(1 for k in expected if expected[k][1] != new_expected[k][1])
        print(
            f"  relabel {len(moved)} Locations: {changed_slices} slices and "
            f"{changed_status} statuses must change"
        )
        watch.reset(new_expected)
        calls = [
            functools.partial(relabel, admin, new_locations[n][0], n, new_locations[n][1])
            for n in moved
        ]
        before = writes()
        t0 = time.perf_counter()
        await in_batches(calls)
        await watch.converged.wait()
        report("relabel", time.perf_counter() - t0, bare, before, changed_slices + changed_status)
    for informer in (slices, eps):
        await informer.stop()


def report(
    phase: str, seconds: float, bare: float, before: tuple[float, float], minimum: int
) -> None:
    now = writes()
    ok, tried = now[0] - before[0], now[1] - before[1]
    ratio = ok / minimum if minimum else float("nan")
    print(
        f"  {phase:<10} converged in {seconds * 1000:>7.0f} ms = {seconds / bare:5.1f}x baseline; "
        f"writes {ok:.0f} (attempts {tried:.0f}) / minimum {minimum} = {ratio:.2f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scheduler", description=__doc__)
    parser.add_argument("--locations", type=int, default=1000)
    parser.add_argument("--placements", type=int, default=200)
    parser.add_argument("--imws", type=int, default=10)
    parser.add_argument("--wmws", type=int, default=4)
    parser.add_argument("--relabel", type=float, default=0.1, help="share of Locations moved")
    parser.add_argument("--workers", type=int, default=SchedulerOptions.workers)
    parser.add_argument("--batch-period", type=float, default=SchedulerOptions.batch_period)
    args = parser.parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
