"""The `scheduler` component: keeps every EdgePlacement's SinglePlacementSlice and status current.

For each EdgePlacement the scheduler maintains a SinglePlacementSlice of the same name in the
same workspace, owner-referenced to it, listing the placement's destinations (resolved by
`edgemc.controllers.scheduling`), and writes the placement's status (`matchingLocationCount`,
`specGeneration`, condition `Ready`) through the status subresource.

Clients and views (spec 5.1), all readable across every workspace as on real kcp:

* `main` (--kubeconfig/--context; the current context is the ESPW): the `edge.kcp.io`
  APIExport's view, for EdgePlacements and SinglePlacementSlices;
* `root` (default context `root`): the `scheduling.kcp.io` and `workload.kcp.io` views, for
  Locations and SyncTargets.

Writes also go through the `edge.kcp.io` view, scoped to the placement's logical cluster,
instead of the original's shard-admin (`system:admin`) client: on kcp the view serves
get/create/update/delete and the status subresource in every workspace that binds the
export, and needs only the `apiexports/content` permission in the ESPW, so the component
runs with one ESPW identity and cannot write anywhere that has not bound the edge API.

The controller (`edge-scheduler`) is level-based on one key per EdgePlacement: each
reconcile recomputes that placement from the caches. Location events map to the placements
whose selectors match the Location's old or new labels; SyncTarget events to the Locations
whose instanceSelector matches the SyncTarget's old or new labels, and on to their
placements; both also map to the placements whose slice currently lists that Location or
SyncTarget (found through an index of the slice cache, so state written before a restart
counts). Inventory events are queued after a short batch period, so a burst of changes is
resolved once. A slice whose placement is gone is deleted, not left to garbage collection.

After each write the reconcile waits (briefly, bounded) until its own informer cache shows
the write, so that the next reconcile of the same key compares against fresh content and
no write is repeated or sent with a stale resourceVersion.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from edgemc.apis import edge
from edgemc.apis.kcp import SCHEDULING_EXPORT, WORKLOAD_EXPORT
from edgemc.apis.meta import format_timestamp
from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.scheduling import (
    LOCATION_INSTANCES,
    LOCATION_LABELS,
    PLACEMENT_SELECTORS,
    REASON_INVALID_SELECTOR,
    SLICE_LOCATIONS,
    SLICE_SYNC_TARGETS,
    SYNC_TARGET_LABELS,
    StoreInventory,
    desired_slice,
    desired_status,
    labels_of,
    location_instance_index,
    location_label_index,
    name_of,
    owned_by_placement,
    placement_selector_index,
    placements_selecting,
    resolve,
    slice_location_index,
    slice_sync_target_index,
    sync_target_label_index,
    updated_slice,
)
from edgemc.runtime import (
    AlreadyExists,
    Client,
    Conflict,
    Controller,
    Informer,
    Key,
    Manager,
    NotFound,
    Result,
    get_logger,
)
from edgemc.runtime.cache import Obj, cluster_of, make_key, object_key, split_key
from edgemc.runtime.informer import final_state
from edgemc.runtime.kcp import wait_for_apiexport_view

CONTROLLER_NAME = "edge-scheduler"

log = get_logger("edgemc.controllers.scheduler", controller=CONTROLLER_NAME)

WRITES = Counter(
    "edgemc_scheduler_writes",
    "API writes made by the edge scheduler, by resource, verb and outcome",
    ["resource", "verb", "result"],
)


@dataclass(frozen=True)
class SchedulerOptions:
    """Tunables of the edge scheduler."""

    # Reconcile workers; the original ran 2. Keys are EdgePlacements, so more workers help
    # only when many placements change at once.
    workers: int = 2
    # Longest wait for an informer cache to show the reconcile's own write. The watch event
    # normally arrives within milliseconds; the bound only matters when a watch is broken,
    # and a worker is held for at most this long per write.
    cache_wait: float = 5.0
    # Inventory (Location, SyncTarget) changes reach the placements they affect this much
    # later; changes within the period are resolved together, so a burst (a script
    # relabelling many Locations) costs one write per slice instead of one per step.
    # With 0.25 s, bench/scheduler.py's burst of 100 relabels costs exactly the minimum
    # writes and converges sooner than with no batching (0.1 s: about 1.1-1.5x the minimum,
    # depending on how fast the burst arrives); a quarter second is not noticed here.
    batch_period: float = 0.25


class CacheSync:
    """Lets a reconcile wait until an informer's cache satisfies a predicate on one key."""

    def __init__(self, informer: Informer) -> None:
        self._store = informer.store
        self._waiters: dict[str, list[tuple[Callable[[Obj | None], bool], asyncio.Future]]] = {}
        informer.add_handler(
            self._notify, lambda _old, new: self._notify(new), lambda obj: self._notify(obj)
        )

    def _notify(self, obj: Any) -> None:
        key = object_key(final_state(obj))
        for done, future in self._waiters.get(key, ()):
            if not future.done() and done(self._store.get(key)):
                future.set_result(None)

    async def wait_for(self, key: str, done: Callable[[Obj | None], bool], within: float) -> bool:
        """Wait until `done(cached object or None)`; False if `within` seconds passed first."""
        if done(self._store.get(key)):
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (done, future)
        self._waiters.setdefault(key, []).append(entry)
        try:
            async with asyncio.timeout(within):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters[key]
            waiters.remove(entry)
            if not waiters:
                del self._waiters[key]


def _resource_version(obj: Obj | None) -> str | None:
    return None if obj is None else obj["metadata"].get("resourceVersion")


def _changed_from(old: Obj | None) -> Callable[[Obj | None], bool]:
    """A cache predicate: the object is no longer the version `old`."""
    rv = _resource_version(old)
    return lambda obj: obj is None or _resource_version(obj) != rv


class Scheduler:
    """The edge scheduler's informers, key mapping and reconcile (see the module docstring)."""

    def __init__(
        self,
        mgr: Manager,
        *,
        edge_view: Client,
        scheduling_view: Client,
        workload_view: Client,
        options: SchedulerOptions | None = None,
    ) -> None:
        self.options = options or SchedulerOptions()
        self.edge_view = edge_view
        informers = mgr.informers
        self.placements = informers.informer(r.EDGE_PLACEMENTS, client=edge_view.cluster("*"))
        self.slices = informers.informer(r.SINGLE_PLACEMENT_SLICES, client=edge_view.cluster("*"))
        self.locations = informers.informer(r.LOCATIONS, client=scheduling_view.cluster("*"))
        self.sync_targets = informers.informer(r.SYNC_TARGETS, client=workload_view.cluster("*"))
        self.placements.add_indexers({PLACEMENT_SELECTORS: placement_selector_index})
        self.slices.add_indexers(
            {SLICE_LOCATIONS: slice_location_index, SLICE_SYNC_TARGETS: slice_sync_target_index}
        )
        self.locations.add_indexers(
            {LOCATION_LABELS: location_label_index, LOCATION_INSTANCES: location_instance_index}
        )
        self.sync_targets.add_indexers({SYNC_TARGET_LABELS: sync_target_label_index})
        self.inventory = StoreInventory(self.locations.store, self.sync_targets.store)
        self._placement_cache = CacheSync(self.placements)
        self._slice_cache = CacheSync(self.slices)

        self.controller = mgr.add(
            Controller(CONTROLLER_NAME, self.reconcile, workers=self.options.workers)
        )
        self.controller.watch(self.placements)
        self.controller.watch(self.slices)  # a slice's key is its placement's key
        self.controller.watch(self.locations, self._batched(self._keys_for_location))
        self.controller.watch(self.sync_targets, self._batched(self._keys_for_sync_target))

    # -- event -> keys ------------------------------------------------------------------

    def _batched(self, mapper: Callable[[Obj], list[Key]]) -> Callable[[Obj], None]:
        """`mapper`, with its keys queued `batch_period` seconds later (see the option)."""
        queue, period = self.controller.queue, self.options.batch_period

        def enqueue_later(obj: Obj) -> None:
            for key in mapper(obj):
                queue.add_after(key, period)

        return enqueue_later

    def _keys_listing(self, index: str, value: str) -> list[Key]:
        """Keys of the placements whose slice lists `value` in `index`."""
        keys = []
        for slice_key in self.slices.store.index_keys(index, value):
            cluster, _, name = split_key(slice_key)
            keys.append(Key(cluster, "", name))
        return keys

    def _keys_for_location(self, location: Obj) -> list[Key]:
        selecting = placements_selecting(labels_of(location), self.placements.store)
        keys = [Key.of(p) for p in selecting]
        ref = make_key(cluster_of(location), "", name_of(location))
        return keys + self._keys_listing(SLICE_LOCATIONS, ref)

    def _keys_for_sync_target(self, sync_target: Obj) -> list[Key]:
        keys: list[Key] = []
        for location in self.inventory.locations_selecting(sync_target):
            keys.extend(self._keys_for_location(location))
        ref = make_key(cluster_of(sync_target), "", name_of(sync_target))
        return keys + self._keys_listing(SLICE_SYNC_TARGETS, ref)

    # -- reconcile ----------------------------------------------------------------------

    async def reconcile(self, key: Key) -> Result | None:
        """Make the slice and status of placement `key` match the caches."""
        placement = self.placements.store.get_by(key.cluster, "", key.name)
        current = self.slices.store.get_by(key.cluster, "", key.name)
        if placement is None or placement["metadata"].get("deletionTimestamp"):
            if current is not None and owned_by_placement(current):
                await self._delete_slice(key, current)
            return None
        resolution = resolve(placement, self.inventory)
        if current is None:
            result = await self._create_slice(key, desired_slice(placement, resolution))
        else:
            update = updated_slice(current, placement, resolution)
            result = None if update is None else await self._update_slice(key, current, update)
        if result is not None:
            return result
        status = desired_status(placement, resolution, format_timestamp())
        if status is not None:
            return await self._update_status(key, placement, status, resolution.reason)
        return None

    def _client(self, key: Key) -> Client:
        return self.edge_view.cluster(key.cluster)

    async def _create_slice(self, key: Key, obj: Obj) -> Result | None:
        try:
            created = await self._client(key).create(r.SINGLE_PLACEMENT_SLICES, obj)
        except AlreadyExists:
            WRITES.labels("singleplacementslices", "create", "AlreadyExists").inc()
            log.v(2).info("SinglePlacementSlice exists but is not cached yet", key=str(key))
            return Result.requeue()
        WRITES.labels("singleplacementslices", "create", "ok").inc()
        log.v(2).info(
            "created SinglePlacementSlice",
            key=str(key),
            workloadWorkspace=key.cluster,
            singlePlacementSlice=key.name,
            destinations=len(obj["destinations"]),
            resourceVersion=_resource_version(created),
        )
        await self._slice_cache.wait_for(str(key), lambda o: o is not None, self.options.cache_wait)
        return None

    async def _update_slice(self, key: Key, current: Obj, obj: Obj) -> Result | None:
        try:
            updated = await self._client(key).update(r.SINGLE_PLACEMENT_SLICES, obj)
        except (Conflict, NotFound) as err:
            WRITES.labels("singleplacementslices", "update", type(err).__name__).inc()
            log.v(2).info("SinglePlacementSlice changed meanwhile, will retry", key=str(key))
            return Result.requeue()
        WRITES.labels("singleplacementslices", "update", "ok").inc()
        log.v(2).info(
            "updated SinglePlacementSlice",
            key=str(key),
            workloadWorkspace=key.cluster,
            singlePlacementSlice=key.name,
            destinations=len(obj["destinations"]),
            resourceVersion=_resource_version(updated),
        )
        await self._slice_cache.wait_for(str(key), _changed_from(current), self.options.cache_wait)
        return None

    async def _delete_slice(self, key: Key, current: Obj) -> None:
        uid = current["metadata"].get("uid")
        try:
            await self._client(key).delete(
                r.SINGLE_PLACEMENT_SLICES, key.name, preconditions={"uid": uid} if uid else None
            )
        except (NotFound, Conflict) as err:
            WRITES.labels("singleplacementslices", "delete", type(err).__name__).inc()
        else:
            WRITES.labels("singleplacementslices", "delete", "ok").inc()
            log.v(2).info(
                "deleted SinglePlacementSlice",
                key=str(key),
                workloadWorkspace=key.cluster,
                singlePlacementSlice=key.name,
            )
        await self._slice_cache.wait_for(str(key), _changed_from(current), self.options.cache_wait)

    async def _update_status(
        self, key: Key, placement: Obj, status: dict[str, Any], reason: str
    ) -> Result | None:
        try:
            await self._client(key).update_status(
                r.EDGE_PLACEMENTS, {**placement, "status": status}
            )
        except NotFound:
            WRITES.labels("edgeplacements/status", "update", "NotFound").inc()
            return None  # deleted meanwhile; its delete event brings the key back
        except Conflict:
            WRITES.labels("edgeplacements/status", "update", "Conflict").inc()
            log.v(2).info("EdgePlacement changed meanwhile, will retry", key=str(key))
            return Result.requeue()
        WRITES.labels("edgeplacements/status", "update", "ok").inc()
        ready = next(c for c in status["conditions"] if c["type"] == edge.CONDITION_READY)
        values = {
            "key": str(key),
            "ready": ready["status"],
            "reason": reason,
            "matchingLocationCount": status["matchingLocationCount"],
        }
        if reason == REASON_INVALID_SELECTOR:
            log.warning("EdgePlacement has an invalid selector", **values, message=ready["message"])
        else:
            log.v(2).info("updated EdgePlacement status", **values)
        await self._placement_cache.wait_for(
            str(key), _changed_from(placement), self.options.cache_wait
        )
        return None


def _add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=SchedulerOptions.workers,
        help=f"reconcile workers (default {SchedulerOptions.workers})",
    )
    parser.add_argument(
        "--batch-period",
        type=float,
        default=SchedulerOptions.batch_period,
        help="seconds to gather Location and SyncTarget changes before resolving "
        f"(default {SchedulerOptions.batch_period})",
    )


async def build(mgr: Manager, args: argparse.Namespace, clients: app.Clients) -> None:
    """Wait for the three APIExport views, then register the scheduler's informers."""
    espw = await clients.get("main")
    root = await clients.get("root")
    edge_view = espw.with_base_url(await wait_for_apiexport_view(espw, edge.EXPORT_NAME))
    scheduling_view = root.with_base_url(await wait_for_apiexport_view(root, SCHEDULING_EXPORT))
    workload_view = root.with_base_url(await wait_for_apiexport_view(root, WORKLOAD_EXPORT))
    Scheduler(
        mgr,
        edge_view=edge_view,
        scheduling_view=scheduling_view,
        workload_view=workload_view,
        options=SchedulerOptions(workers=args.workers, batch_period=args.batch_period),
    )


APP = app.App(
    name="scheduler",
    description="Resolve each EdgePlacement's Location selectors into a SinglePlacementSlice "
    "of the same name and report the result in the EdgePlacement's status.",
    build=build,
    client_flags=(
        app.ClientFlag(
            "root", "root", "workspace of the scheduling.kcp.io and workload.kcp.io APIExports"
        ),
    ),
    add_flags=_add_flags,
    default_verbosity=2,
)


def main(argv: list[str] | None = None) -> int:
    return app.main(APP, argv)
