"""The syncer's moving parts: informers on both sides, one work queue, writes, status return.

Flow. SyncerConfig events (spec changes only), CRD events on either side, APIBinding events
in the mailbox and a timer trigger a re-plan: both sides' discovery is read and
`config.resolve` gives the lanes. Each lane has an informer on its source and its target
side (shared per side and resource); their events enqueue `Key(lane id, namespace, name)`
for objects the lane selects or whose target copy carries the lane's marker. A target
informer with nothing to do - no selected source object, no marked copy, nothing to ensure -
is stopped once it has listed (and at each resync): a SyncerConfig names every resource of
the workload workspace, most without objects, and each informer holds a watch connection on
a server. The first selected source object starts it again. One controller
reconciles keys: it reads both caches, applies `objects.decide`, makes the one write, and
returns status (edge -> mailbox) when it differs. Every `resync_period` the plan is
recomputed and every key of every lane is enqueued again (drift repair); unchanged objects
cost no request. Discovery (about 8 requests per side) is read again only when it can have
changed: on CRD and APIBinding events and while something is pending, else every
`rediscover_period`; a SyncerConfig change re-plans on the discovery already read.

A lane that leaves the plan is retired, not dropped: its informers keep running and its
keys reconcile with "not selected", which deletes the marked copies (the turbo-for-deletion
case). What left the config while the syncer was not running is found by the sweep: marked
copies of resources no lane covers are deleted. It lists every resource of both sides, so it
runs once the first plan is made and then only for resources discovery newly shows (a CRD
created again may bring back old copies); while the syncer runs, retired lanes do its work.
Namespaces are only deleted when a `clusterScope` selection says so, and never swept
(neither those created at the edge nor those created in the mailbox for upsynced objects).
Copies the other direction made are never sources, so nothing bounces back and forth.

After each write the syncer expects its informer to show it (the written resourceVersion,
or the object gone) and does not decide on that object again until it does, for at most
`retry_cap`: a decision on a cache that is behind its own last write would repeat the write
(a second delete is a 404, a second create a 409, an update a Conflict).

Nothing here survives a restart except through the API: the markers say what the syncer
made, the digest annotation what it wrote. While a side is unreachable its informers keep
their last state and retry; writes fail and their keys retry with a backoff capped at
`retry_cap`, so everything catches up within seconds of the link coming back, and the
decision is always made against current caches, so nothing is created twice or lost.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from edgemc.apis.edge import ANNOTATION_DOWNSYNCED, GROUP, VERSION
from edgemc.controllers import resources as r
from edgemc.controllers.syncer.config import (
    ApiResource,
    Discovery,
    Lane,
    Plan,
    merge_configs,
    merge_edge_sync_configs,
    resolve,
)
from edgemc.controllers.syncer.objects import (
    MARKER_VALUE,
    decide,
    is_deleting,
    is_marked,
    is_system_object,
    make_copy,
    marker_for,
    status_update,
)
from edgemc.runtime import (
    AlreadyExists,
    ApiError,
    Client,
    Conflict,
    Controller,
    GroupVersionResource,
    Informer,
    InformerOptions,
    Key,
    Manager,
    NotFound,
    Result,
    get_logger,
)
from edgemc.runtime.backoff import Backoff
from edgemc.runtime.cache import object_key, shows_write
from edgemc.runtime.informer import DeletedFinalStateUnknown, final_state
from edgemc.runtime.ratelimit import ItemExponentialLimiter, TokenBucketLimiter

log = get_logger("edgemc.controllers.syncer")

Obj = dict[str, Any]
_UNSEEN, _GONE = object(), object()
BY_LOCAL_KEY = "local-key"  # index: "<namespace>/<name>", whatever the logical cluster
# Never swept: namespaces hold edge-born objects; events are nobody's copies.
NOT_SWEPT = {("", "namespaces"), ("", "events"), ("events.k8s.io", "events")}
SWEEP_VERBS = frozenset({"list", "delete"})
NOT_STATUS_RETURNED = {("", "namespaces"), ("apiextensions.k8s.io", "customresourcedefinitions")}


@dataclass(frozen=True)
class Expected:
    """What the cache should show after one of our writes: resourceVersion `rv` (None: the
    object with `uid` gone), until `deadline` (monotonic seconds)."""

    rv: str | None
    uid: str | None
    deadline: float

    def met_by(self, obj: Obj | None) -> bool:
        meta = (obj or {}).get("metadata") or {}
        if self.rv is None:
            return obj is None or meta.get("uid") != self.uid
        rv = str(meta.get("resourceVersion", ""))
        if obj is None or not rv:
            return False
        return shows_write(rv, self.rv)


# How soon a key whose cache is behind our own write is looked at again (its informer's
# event normally brings it back first).
EXPECTATION_RECHECK = 0.05


@dataclass(frozen=True)
class SyncerOptions:
    """Tunables of one syncer, with the reasons for their defaults."""

    # Full reconciliation: re-check every object. Events do the real work; this repairs
    # what a missed event would leave wrong.
    resync_period: float = 60.0
    # Discovery is re-read on CRD and APIBinding events; without one, only this often (a
    # safety net for a change no event tells of). A reading is about 16 requests, which
    # every 60 s made 300 syncers send 80 discovery requests a second to the servers.
    rediscover_period: float = 600.0
    # Re-plan this soon while something waits for discovery (a CRD not yet served),
    # doubling while nothing changes.
    pending_period: float = 1.0
    # Reconcile workers: writes to two servers overlap, 8 keeps both links busy.
    workers: int = 8
    # Client-side rate limit of the syncer's own requests (not informers'); <= 0 = none.
    qps: float = 30.0
    burst: int = 20
    # Longest wait before a failed key is retried: bounds catch-up after an outage.
    retry_cap: float = 5.0
    # Longest wait between an informer's reconnect attempts, for the same reason.
    reconnect_cap: float = 2.0
    sync_target_name: str = ""


def _local_key(obj: Obj) -> list[str]:
    meta = obj.get("metadata") or {}
    return [f"{meta.get('namespace') or ''}/{meta.get('name', '')}"]


def _gvr(res: ApiResource) -> GroupVersionResource:
    return GroupVersionResource(res.group, res.version, res.resource)


class Side:
    """One side (mailbox or edge): its client and one informer per resource, on demand."""

    def __init__(self, name: str, client: Client, options: InformerOptions) -> None:
        self.name = name
        self.client = client
        self.options = options
        self.informers: dict[GroupVersionResource, Informer] = {}

    def informer(
        self, gvr: GroupVersionResource, on_event: Callable[[str, GroupVersionResource, Obj], None]
    ) -> Informer:
        informer = self.informers.get(gvr)
        if informer is None:
            informer = Informer(
                self.client, gvr, options=self.options, indexers={BY_LOCAL_KEY: _local_key}
            )

            def deliver(obj: Obj | DeletedFinalStateUnknown) -> None:
                on_event(self.name, gvr, final_state(obj))

            informer.add_handler(deliver, lambda _old, new: deliver(new), deliver)
            self.informers[gvr] = informer
            informer.start()
        return informer

    def get(self, gvr: GroupVersionResource, namespace: str, name: str) -> Obj | None:
        informer = self.informers.get(gvr)
        if informer is None:
            return None
        found = informer.store.by_index(BY_LOCAL_KEY, f"{namespace}/{name}")
        return found[0] if found else None

    def synced(self, gvr: GroupVersionResource) -> bool:
        informer = self.informers.get(gvr)
        return informer is not None and informer.has_synced()

    async def discover(self) -> Discovery:
        """This side's discovery (all group versions, fetched concurrently)."""
        groups = await self.client.server_groups()
        gvs = [v["groupVersion"] for g in groups.get("groups") or () for v in g.get("versions", ())]
        docs = await asyncio.gather(
            *(self.client.server_resources(gv) for gv in gvs), return_exceptions=True
        )
        lists: dict[str, Obj] = {}
        for gv, doc in zip(gvs, docs, strict=True):
            if isinstance(doc, NotFound):
                continue  # went away between the two requests
            if isinstance(doc, BaseException):
                raise doc
            lists[gv] = doc
        return Discovery.from_lists(groups, lists)

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self.informers.values()))


class Engine:
    """The syncer of one mailbox and one edge cluster (see the module docstring)."""

    def __init__(
        self,
        mailbox: Client,
        edge: Client,
        options: SyncerOptions | None = None,
        *,
        close_clients: bool = False,
    ) -> None:
        """`close_clients`: the engine owns the clients and closes them when it stops."""
        self.options = options or SyncerOptions()
        self._close_clients = close_clients
        informer_options = InformerOptions(
            backoff=Backoff(initial=0.1, factor=2.0, cap=self.options.reconnect_cap)
        )
        self.mailbox = Side("mailbox", mailbox, informer_options)
        self.edge = Side("edge", edge, informer_options)
        self.plan = Plan()
        self.retired: dict[str, Lane] = {}
        # (side, resource) -> lanes reading it as source or target.
        self._routes: dict[tuple[str, GroupVersionResource], list[Lane]] = {}
        self.controller = Controller(
            "edge-syncer",
            self.reconcile,
            workers=self.options.workers,
            rate_limiter=ItemExponentialLimiter(0.005, self.options.retry_cap),
        )
        self._bucket = (
            TokenBucketLimiter(self.options.qps, self.options.burst)
            if self.options.qps > 0
            else None
        )
        self._replan = asyncio.Event()
        self._planned = asyncio.Event()
        self._configs: Informer | None = None
        self._seen_specs: dict[tuple[GroupVersionResource, str], Any] = {}
        self._problems: list[str] = []
        self.mailbox_discovery = Discovery()
        self.edge_discovery = Discovery()
        # Read discovery again at the next plan (CRD/APIBinding events set it).
        self._rediscover = True
        # (side, group, resource) already swept: the sweep lists only what is new.
        self._swept: set[tuple[str, str, str]] = set()
        # Target informers stopped for having nothing to do: (side name, resource).
        self._dormant: set[tuple[str, GroupVersionResource]] = set()
        # (side name, resource, namespace, name) -> what our last write there should show
        self._expected: dict[tuple[str, GroupVersionResource, str, str], Expected] = {}
        # (side name, namespace) -> its creation, while under way
        self._namespaces_in_flight: dict[tuple[str, str], asyncio.Future[Obj | None]] = {}
        # Dormant target informers started again by a source object, not yet listed.
        self._woken: set[tuple[str, GroupVersionResource]] = set()
        self._idle_check: asyncio.Task[None] | None = None
        self._log = log.with_values(syncTarget=self.options.sync_target_name)

    # -- wiring ---------------------------------------------------------------------------

    def install(self, mgr: Manager) -> None:
        """Register the controller and the planning loop with `mgr`."""
        mgr.add(self.controller)
        mgr.add_runnable(self.run)

    @property
    def configs(self) -> Informer:
        assert self._configs is not None, "engine not running"
        return self._configs

    async def wait_for_running(self) -> None:
        """Wait until the first plan is applied (the SyncerConfigs are read)."""
        await self._planned.wait()

    async def run(self) -> None:
        """Plan, replan on triggers and on the resync timer; stop informers at the end."""
        self._configs = self.mailbox.informer(r.SYNCER_CONFIGS, self._on_event)
        self.mailbox.informer(r.CRDS, self._on_event)
        self.edge.informer(r.CRDS, self._on_event)
        try:
            await self._plan_loop()
        finally:
            if self._idle_check is not None:
                self._idle_check.cancel()
            await asyncio.gather(self.mailbox.stop(), self.edge.stop())
            if self._close_clients:
                await asyncio.gather(self.mailbox.client.close(), self.edge.client.close())

    async def _plan_loop(self) -> None:
        last_full = last_discovery = -math.inf
        # While the same things stay pending, re-plan ever less often (events of CRDs and
        # bindings re-plan at once anyway; this is the safety net).
        pending_wait, last_pending = self.options.pending_period, ()
        while True:
            await self.configs.wait_for_sync()
            self._replan.clear()  # triggers from now on lead to another round
            now = time.monotonic()
            full = now - last_full >= self.options.resync_period
            wait = self.options.pending_period
            stale = now - last_discovery >= self.options.rediscover_period
            refresh = self._rediscover or stale or bool(self.plan.pending)
            self._rediscover = False  # events from now on ask for another reading
            try:
                await self.replan(enqueue_all=full, refresh_discovery=refresh)
                if refresh:
                    last_discovery = now
                self._planned.set()
                if full or self._idle_check is None or self._idle_check.done():
                    self._check_idle_targets()
                if refresh:
                    await self.sweep()
                if full:
                    last_full = now
                wait = self.options.resync_period - (time.monotonic() - last_full)
                if self.plan.pending:
                    if self.plan.pending == last_pending:
                        pending_wait = min(2 * pending_wait, self.options.resync_period)
                    else:
                        pending_wait = self.options.pending_period
                    wait = min(wait, pending_wait)
                last_pending = self.plan.pending
            except ApiError as err:
                self._rediscover = True
                if err.code == 0:  # a side is unreachable: expected during outages
                    self._log.v(2).info("Cannot read discovery; keeping the plan", err=err)
                else:
                    self._log.error("Cannot read discovery; keeping the plan", err)
            except Exception as err:  # a bug or a malformed answer: log it, try again later
                self._rediscover = True
                self._log.error("Planning failed; keeping the current plan", err, exc_info=True)
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    await self._replan.wait()
            except TimeoutError:
                pass

    async def replan(self, *, enqueue_all: bool = False, refresh_discovery: bool = True) -> None:
        """Apply the plan of the SyncerConfigs and both sides' discovery (read again if
        `refresh_discovery`, else the last reading)."""
        if refresh_discovery:
            self.mailbox_discovery, self.edge_discovery = await asyncio.gather(
                self.mailbox.discover(), self.edge.discover()
            )
        mailbox_disc, edge_disc = self.mailbox_discovery, self.edge_discovery
        if mailbox_disc.get("apis.kcp.io", "v1alpha1", "apibindings") is not None:
            self.mailbox.informer(r.API_BINDINGS, self._on_event)
        if mailbox_disc.get(GROUP, VERSION, r.EDGE_SYNC_CONFIGS.resource) is not None:
            self.mailbox.informer(r.EDGE_SYNC_CONFIGS, self._on_event)
        spec, problems = merge_configs(self.configs.store.list())
        legacy = self.mailbox.informers.get(r.EDGE_SYNC_CONFIGS)
        if legacy is not None:
            picks, more = merge_edge_sync_configs(legacy.store.list())
            spec = replace(spec, picks=picks)
            problems += more
        if problems != self._problems:  # said once, not on every re-plan
            for problem in problems:
                self._log.error("Bad sync configuration", problem)
            self._problems = problems
        plan = resolve(spec, mailbox_disc, edge_disc)
        self.apply(plan, enqueue_all=enqueue_all)

    async def sweep(self) -> int:
        """Delete marked copies of resources no lane covers; returns how many.

        Retired lanes do this while the syncer runs; the sweep covers what left the
        config while it was not running (or lanes retired before a restart). Each
        resource of each side is swept once (again only after it left discovery and came
        back). Namespaces are never swept (see the module docstring). A failing list is
        logged and tried again at the next sweep.
        """
        deleted = 0
        for side, disc, direction in (
            (self.edge, self.edge_discovery, "down"),
            (self.mailbox, self.mailbox_discovery, "up"),
        ):
            marker = marker_for(direction)
            covered = {
                (lane.target.group, lane.target.resource)
                for lane in [*self.plan.lanes.values(), *self.retired.values()]
                if lane.direction == direction
            }
            served = {(side.name, res.group, res.resource) for res in disc.preferred_resources()}
            self._swept &= served | {s for s in self._swept if s[0] != side.name}
            for res in disc.preferred_resources():
                key = (res.group, res.resource)
                if key in covered or key in NOT_SWEPT or not SWEEP_VERBS <= res.verbs:
                    continue
                if (side.name, *key) in self._swept:
                    continue
                gvr = _gvr(res)
                try:
                    items = (await side.client.list(gvr))["items"] or []
                except ApiError as err:
                    self._log.v(3).info("Cannot sweep", side=side.name, resource=str(res), err=err)
                    continue
                self._swept.add((side.name, *key))
                for obj in items:
                    if not is_marked(obj, marker) or is_deleting(obj):
                        continue
                    meta = obj["metadata"]
                    await self._throttle()
                    try:
                        await side.client.delete(
                            gvr,
                            meta["name"],
                            meta.get("namespace") or None,
                            preconditions={"uid": meta["uid"]} if meta.get("uid") else None,
                        )
                    except (NotFound, Conflict):
                        continue
                    deleted += 1
                    self._log.v(2).info(
                        "Deleted a copy no config selects",
                        side=side.name,
                        resource=str(res),
                        namespace=meta.get("namespace"),
                        name=meta["name"],
                    )
        return deleted

    def apply(self, plan: Plan, *, enqueue_all: bool = False) -> None:
        """Switch to `plan`: start informers of new lanes, retire lanes that left."""
        old = self.plan
        self.plan = plan
        for lane_id, lane in old.lanes.items():
            if lane_id not in plan.lanes:
                self.retired[lane_id] = lane
        for lane_id in plan.lanes:
            self.retired.pop(lane_id, None)
        routes: dict[tuple[str, GroupVersionResource], list[Lane]] = {}
        for lane in [*plan.lanes.values(), *self.retired.values()]:
            src, dst = self._sides(lane)
            routes.setdefault((src.name, _gvr(lane.source)), []).append(lane)
            routes.setdefault((dst.name, _gvr(lane.target)), []).append(lane)
        self._routes = routes
        for lane in [*plan.lanes.values(), *self.retired.values()]:
            src, dst = self._sides(lane)
            src.informer(_gvr(lane.source), self._on_event)
            if (dst.name, _gvr(lane.target)) not in self._dormant:
                dst.informer(_gvr(lane.target), self._on_event)
        changed = [
            lane
            for lane_id, lane in plan.lanes.items()
            if enqueue_all or old.lanes.get(lane_id) != lane
        ]
        changed += [lane for lane_id, lane in self.retired.items() if lane_id in old.lanes]
        if enqueue_all:
            changed += list(self.retired.values())
        for lane in changed:
            self._enqueue_lane(lane)
        if plan.pending and plan.pending != old.pending:
            self._log.info("Some of the sync configuration waits", pending=list(plan.pending))
        if plan != old:
            self._log.v(2).info(
                "Applied sync plan",
                lanes=sorted(plan.lanes),
                retired=sorted(self.retired),
                pending=list(plan.pending),
            )

    def _sides(self, lane: Lane) -> tuple[Side, Side]:
        return (self.mailbox, self.edge) if lane.direction == "down" else (self.edge, self.mailbox)

    def _source_of(self, lane: Lane, obj: Obj | None, active: bool = True) -> Obj | None:
        """`obj` if it is a source object of `lane`, else None."""
        if obj is None or not active:
            return None
        meta = obj.get("metadata") or {}
        if not lane.selects(meta.get("namespace") or "", meta.get("name", "")):
            return None
        if is_system_object(lane.source.resource, obj):
            return None
        # A copy the other direction made is never a source (no ping-pong).
        if is_marked(obj, marker_for("up" if lane.direction == "down" else "down")):
            return None
        return obj

    def _target_busy(self, lane: Lane, active: bool) -> bool:
        """Whether `lane` needs its target informer: something to ensure, a selected source
        object, or a marked copy at the target (True while either side is still listing)."""
        src, dst = self._sides(lane)
        source = src.informers.get(_gvr(lane.source))
        target = dst.informers.get(_gvr(lane.target))
        if source is None or target is None or not (source.has_synced() and target.has_synced()):
            return True
        if active and lane.ensure:
            return True
        marker = marker_for(lane.direction)
        if any(is_marked(obj, marker) for obj in target.store.list()):
            return True
        return active and any(self._source_of(lane, obj) is not None for obj in source.store.list())

    def _check_idle_targets(self) -> None:
        """Once the lanes' informers have listed, stop the target informers no lane needs."""
        informers = [i for side in (self.mailbox, self.edge) for i in side.informers.values()]

        async def check() -> None:
            await asyncio.gather(*(i.wait_for_sync() for i in informers))
            await self._stop_idle_targets()

        if self._idle_check is not None:
            self._idle_check.cancel()
        self._idle_check = asyncio.create_task(check(), name="syncer-idle-targets")

    async def _stop_idle_targets(self) -> None:
        lanes = [(lane, True) for lane in self.plan.lanes.values()]
        lanes += [(lane, False) for lane in self.retired.values()]
        needed = {
            (side.name, gvr)
            for side in (self.mailbox, self.edge)
            for gvr in (r.SYNCER_CONFIGS, r.EDGE_SYNC_CONFIGS, r.CRDS, r.API_BINDINGS)
        }
        by_target: dict[tuple[str, GroupVersionResource], list[tuple[Lane, bool]]] = {}
        for lane, active in lanes:
            src, dst = self._sides(lane)
            needed.add((src.name, _gvr(lane.source)))
            by_target.setdefault((dst.name, _gvr(lane.target)), []).append((lane, active))
        # Decided and taken out in one step (no await in between), so that no reconcile
        # can write a copy through an informer judged idle.
        stopping: list[Informer] = []
        for (side_name, gvr), users in by_target.items():
            if (side_name, gvr) in needed or any(self._target_busy(*u) for u in users):
                continue
            side = self.mailbox if side_name == "mailbox" else self.edge
            informer = side.informers.pop(gvr, None)
            if informer is not None:
                self._dormant.add((side_name, gvr))
                stopping.append(informer)
                self._log.v(3).info("Stopping an idle target informer", side=side_name, gvr=gvr)
        await asyncio.gather(*(i.stop() for i in stopping))

    def _enqueue_lane(self, lane: Lane) -> None:
        src, dst = self._sides(lane)
        marker = marker_for(lane.direction)
        keys: set[tuple[str, str]] = set()
        for side, gvr, want in ((src, _gvr(lane.source), None), (dst, _gvr(lane.target), marker)):
            informer = side.informers.get(gvr)
            if informer is None:
                continue
            for obj in informer.store.list():
                meta = obj.get("metadata") or {}
                ns, name = meta.get("namespace") or "", meta.get("name", "")
                if (want is None and lane.selects(ns, name)) or is_marked(obj, marker):
                    keys.add((ns, name))
        for name in lane.ensure:
            keys.add(("", name))
        for ns, name in keys:
            self.controller.enqueue(Key(lane.id, ns, name))

    def _on_event(self, side: str, gvr: GroupVersionResource, obj: Obj) -> None:
        if gvr in (r.SYNCER_CONFIGS, r.EDGE_SYNC_CONFIGS, r.CRDS, r.API_BINDINGS):
            if side == "mailbox" and gvr in (r.SYNCER_CONFIGS, r.EDGE_SYNC_CONFIGS):
                self._on_config_event(gvr, obj)
            else:
                self._rediscover = True  # what the side serves may have changed
                self._replan.set()
            if (side, gvr) not in self._routes:
                return
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace") or "", meta.get("name", "")
        for lane in self._routes.get((side, gvr), ()):
            if lane.selects(ns, name) or is_marked(obj, marker_for(lane.direction)):
                self.controller.enqueue(Key(lane.id, ns, name))

    def _on_config_event(self, gvr: GroupVersionResource, obj: Obj) -> None:
        # Heartbeats change only status; only a spec change (or add/delete) needs a re-plan.
        key = (gvr, (obj.get("metadata") or {}).get("name", ""))
        informer = self.mailbox.informers.get(gvr)
        present = informer is not None and informer.store.get(object_key(obj)) is not None
        spec = obj.get("spec") if present else _GONE
        if self._seen_specs.get(key, _UNSEEN) != spec:
            self._seen_specs[key] = spec
            self._replan.set()

    # -- reconcile ------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> Result | None:
        """Make the target of one object of one lane right; then return its status."""
        lane = self.plan.lanes.get(key.cluster)
        active = lane is not None
        if lane is None:
            lane = self.retired.get(key.cluster)
            if lane is None or self._superseded(lane):
                return None
        src, dst = self._sides(lane)
        sgvr, tgvr = _gvr(lane.source), _gvr(lane.target)
        ns, name = key.namespace, key.name
        if (dst.name, tgvr) in self._dormant and src.synced(sgvr):
            # Stopped as idle: no marked copy there. Only a source object wakes it up.
            if self._source_of(lane, src.get(sgvr, ns, name), active) is None:
                return None
            self._dormant.discard((dst.name, tgvr))
            self._woken.add((dst.name, tgvr))
            dst.informer(tgvr, self._on_event)
        if not (src.synced(sgvr) and dst.synced(tgvr)):
            if (dst.name, tgvr) in self._woken:
                # Listing the target again; if its side is unreachable this fails like a
                # write would (retried with backoff), not silently.
                return Result.requeue()
            return Result.requeue_after(0.2)  # a decision needs both sides' full picture
        self._woken.discard((dst.name, tgvr))
        raw_source, target = src.get(sgvr, ns, name), dst.get(tgvr, ns, name)
        if not (
            self._shows(src, sgvr, ns, name, raw_source)
            and self._shows(dst, tgvr, ns, name, target)
        ):
            return Result.requeue_after(EXPECTATION_RECHECK)
        source = self._source_of(lane, raw_source, active)
        if lane.is_namespaces and lane.direction == "down" and source is None:
            if active and name in lane.ensure:
                source = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            elif not (active and lane.explicitly_selects(name)):
                return None  # namespaces are deleted only by an explicit clusterScope choice
        try:
            await self._carry_out(lane, dst, source, target, ns, name)
        except Conflict:
            # A cache was behind our own last write: decide again once it has caught up.
            return Result.requeue()
        return None

    def _shows(
        self, side: Side, gvr: GroupVersionResource, ns: str, name: str, obj: Obj | None
    ) -> bool:
        """Whether `obj` (from `side`'s cache) shows our last write of it, if any."""
        key = (side.name, gvr, ns, name)
        expected = self._expected.get(key)
        if expected is None:
            return True
        if expected.met_by(obj) or time.monotonic() > expected.deadline:
            del self._expected[key]
            return True
        return False

    def _expect(
        self,
        side: Side,
        gvr: GroupVersionResource,
        ns: str,
        name: str,
        written: Obj | None,
        uid: str | None = None,
    ) -> None:
        """Remember what our write of (ns, name) should make `side`'s cache show: `written`
        (the server's answer) or, for None, the object with `uid` gone."""
        rv = None
        if written is not None:
            rv = str((written.get("metadata") or {}).get("resourceVersion") or "") or None
            if rv is None:
                return  # nothing to recognize it by
        deadline = time.monotonic() + self.options.retry_cap
        self._expected[(side.name, gvr, ns, name)] = Expected(rv, uid, deadline)

    async def _carry_out(
        self, lane: Lane, dst: Side, source: Obj | None, target: Obj | None, ns: str, name: str
    ) -> None:
        tgvr = _gvr(lane.target)
        action = decide(source, target, marker_for(lane.direction))
        log = self._log.with_values(lane=lane.id, namespace=ns, name=name)
        if action.kind == "create":
            assert action.obj is not None
            created = await self._create(dst, lane, action.obj)
            if created is not None:
                self._expect(dst, tgvr, ns, name, created)
            log.v(3).info("Created copy", side=dst.name)
        elif action.kind == "update":
            assert action.obj is not None
            await self._throttle()
            self._expect(dst, tgvr, ns, name, await dst.client.update(tgvr, action.obj))
            log.v(3).info("Updated copy", side=dst.name)
        elif action.kind == "delete":
            assert action.obj is not None
            uid = (action.obj.get("metadata") or {}).get("uid")
            await self._throttle()
            try:
                await dst.client.delete(
                    tgvr, name, ns or None, preconditions={"uid": uid} if uid else None
                )
            except NotFound:
                return
            self._expect(dst, tgvr, ns, name, None, uid)
            log.v(3).info("Deleted copy", side=dst.name)
        elif action.kind == "foreign":
            log.v(4).info("Leaving an object the syncer did not create", side=dst.name)
        elif source is not None and target is not None:
            await self._return_status(lane, source, target)

    def _superseded(self, retired: Lane) -> bool:
        """A retired lane whose resource an active lane now syncs (another version)."""
        same = (retired.direction, retired.target.group, retired.target.resource)
        return any(
            (lane.direction, lane.target.group, lane.target.resource) == same
            for lane in self.plan.lanes.values()
        )

    async def _create(self, side: Side, lane: Lane, obj: Obj) -> Obj | None:
        """Create `obj` (and its namespace if missing); the server's answer (None: it
        exists already)."""
        gvr = _gvr(lane.target)
        meta = obj.get("metadata") or {}
        if lane.is_namespaces:
            return await self._ensure_namespace(side, meta.get("name", ""), obj)
        ns = meta.get("namespace") or None
        if ns is not None and side.synced(r.NAMESPACES) and side.get(r.NAMESPACES, "", ns) is None:
            # Known to be missing: make it first rather than be told so by a 404.
            await self._ensure_namespace(side, ns, self._namespace_copy(lane, ns))
        await self._throttle()
        try:
            return await side.client.create(gvr, obj, ns)
        except AlreadyExists:
            return None  # the cache was behind; the informer's event brings us back
        except NotFound:
            if ns is None:
                raise
            await self._ensure_namespace(side, ns, self._namespace_copy(lane, ns))
            await self._throttle()
            return await side.client.create(gvr, obj, ns)

    def _namespace_copy(self, lane: Lane, namespace: str) -> Obj:
        """The Namespace to create for `lane`'s copies in `namespace`: the copy of the
        mailbox's own when downsyncing and it is known (what the namespaces lane would
        write), else a bare one carrying the lane's marker."""
        marker = marker_for(lane.direction)
        source = self.mailbox.get(r.NAMESPACES, "", namespace) if lane.direction == "down" else None
        if source is not None and not is_deleting(source) and not is_marked(source, marker):
            return make_copy(source, marker)
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "annotations": {marker: MARKER_VALUE}},
        }

    async def _ensure_namespace(self, side: Side, namespace: str, body: Obj) -> Obj | None:
        """Create Namespace `namespace` as `body`, or join its creation if one is under way;
        the server's answer (None: it exists already)."""
        # The first objects of a new namespace arrive together (the Namespace itself and one
        # per resource): they share one creation instead of each sending one (409s).
        key = (side.name, namespace)
        pending = self._namespaces_in_flight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._create_namespace(side, body))
            self._namespaces_in_flight[key] = pending
            pending.add_done_callback(lambda _t: self._namespaces_in_flight.pop(key))
        return await asyncio.shield(pending)

    async def _create_namespace(self, side: Side, body: Obj) -> Obj | None:
        await self._throttle()
        try:
            created = await side.client.create(r.NAMESPACES, body)
        except AlreadyExists:
            return None
        self._expect(side, r.NAMESPACES, "", body["metadata"]["name"], created)
        return created

    async def _return_status(self, lane: Lane, source: Obj, target: Obj) -> None:
        """Edge status -> mailbox copy, when it differs (spec 7.5)."""
        if (lane.source.group, lane.source.resource) in NOT_STATUS_RETURNED:
            return
        if lane.direction == "down":
            mailbox_obj, edge_obj, res = source, target, lane.source
            if not is_marked(edge_obj, ANNOTATION_DOWNSYNCED):
                return
        else:
            mailbox_obj, edge_obj, res = target, source, lane.target
        update = status_update(mailbox_obj, edge_obj)
        if update is None:
            return
        gvr = _gvr(res)
        await self._throttle()
        if res.has_status:
            written = await self.mailbox.client.update_status(gvr, update)
        else:
            written = await self.mailbox.client.update(gvr, update)
        meta = source["metadata"]
        self._expect(self.mailbox, gvr, meta.get("namespace") or "", meta["name"], written)
        self._log.v(3).info(
            "Returned status", lane=lane.id, namespace=meta.get("namespace"), name=meta["name"]
        )

    async def _throttle(self) -> None:
        """Wait for the client-side rate limit (--qps/--burst) before a request."""
        if self._bucket is not None:
            delay = self._bucket.when(None)
            if delay > 0:
                await asyncio.sleep(delay)
