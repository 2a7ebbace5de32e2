"""The placement translator's controllers: caches in, mailbox objects and SyncerConfigs out.

Five reconcile loops share one set of caches:

* `discovery` (key: a logical cluster) keeps, for every workload workspace that holds an
  EdgePlacement and for every mailbox workspace, the API resources its discovery serves and
  the informers that follow them: the workload objects of a workload workspace, and the
  projected copies (label `edge.kcp.io/projected=yes`) in a mailbox. Copies are followed
  through one wildcard informer per resource shared by every mailbox
  (`/clusters/*/apis/apps/v1/deployments:<identityHash>`), or, where the wildcard cannot
  name a resource (a CRD's), by an informer of the mailbox's own. CRD and APIBinding
  events in a cluster re-run its discovery at once.
* `planner` (one key) joins everything into a `MailboxPlan` per mailbox (`plan.py`) once the
  inputs of the workload workspaces involved are complete, and enqueues what changed.
* `syncerconfig` (key: mailbox cluster) writes SyncerConfig `the-one` when its content differs.
* `projection` (key: mailbox cluster, namespace, `resource.group`) makes the projected copies
  of one resource in one namespace of one mailbox equal to the plan: create, merge, delete.
* `conditions` (key: an EdgePlacement) reports conflicts on the placement's status.

Nothing is kept that the caches cannot rebuild, so a restart converges to the same state
without writing anything that is already right.

Choices beyond the original (spec 6.7, 10.2):
* Copies that stop being selected are deleted (only objects labelled as projected), but a
  mailbox Namespace is never deleted: objects the syncer upsynced may live in it.
* The same object sent to one mailbox by two workload workspaces with different content is
  a conflict: the copy from the logical cluster that sorts first wins, every time; the
  EdgePlacements involved get condition `WorkloadConflict` and a Warning Event (namespace
  `default` of their workspace) instead of a silent last-writer-wins.
* Top-level fields removed from a source are removed from its copies; `status` is never
  copied (in a mailbox it belongs to the syncer's status return).
* An object the API accepted but the translator cannot use is named by a Warning Event
  (`events.py`) and the rest goes on: a Customizer that cannot be applied or is missing
  (the object is copied unchanged), a copy the mailbox refuses (the others of its resource
  and namespace are still written), an EdgePlacement naming resources never propagated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from edgemc.apis import edge
from edgemc.apis.meta import Condition, set_condition
from edgemc.controllers import resources as r
from edgemc.controllers.placement.classes import GroupResource, goes_to_mailbox, is_system_object
from edgemc.controllers.placement.customize import (
    CustomizationError,
    customize,
    customizer_reference,
    wants_expansion,
)
from edgemc.controllers.placement.events import EventRecorder, Report
from edgemc.controllers.placement.plan import (
    MailboxPlan,
    WorkloadInputs,
    normalize_spec,
    plan_mailboxes,
    route_cluster_objects,
    route_namespaces,
    syncer_config_spec,
)
from edgemc.controllers.placement.projection import merge_into, project_object, projected_namespace
from edgemc.controllers.placement.what import (
    NAMESPACES,
    ApiResource,
    ClusterObject,
    cluster_resources_named,
    parse_discovery,
    unsupported_references,
)
from edgemc.runtime import (
    AlreadyExists,
    ApiError,
    Client,
    Conflict,
    Controller,
    GroupVersionResource,
    Informer,
    Key,
    Manager,
    NotFound,
    Result,
    get_logger,
)
from edgemc.runtime.cache import BY_CLUSTER, BY_CLUSTER_NAMESPACE, Obj, cluster_of, shows_write
from edgemc.runtime.informer import DeletedFinalStateUnknown, final_state
from edgemc.runtime.kcp import wildcard_resource

log = get_logger("edgemc.controllers.placement")

FIELD_MANAGER = "placement-translator"
CONDITION_CONFLICT = "WorkloadConflict"
"""EdgePlacement condition owned by the translator: True while a copied object collides."""
# Reasons of the Warning Events about objects that cannot be used as they are (`events.py`).
REFUSED = "CopyRefused"
CONFIG_REFUSED = "SyncerConfigRefused"
"""The mailbox refused a copy (it stays out of the mailbox until its source changes)."""
REFUSED_CODES = frozenset({400, 413, 422})
UNSUPPORTED = "UnsupportedResource"
"""An EdgePlacement names resources that are never propagated."""
CUSTOMIZER_NOT_FOUND = "CustomizerNotFound"
"""A workload object names a Customizer that does not exist; it is copied unchanged."""
CUSTOMIZATION_FAILED = "CustomizationFailed"
"""A Customizer cannot be applied to an object naming it; the object is copied unchanged."""
PROJECTED_SELECTOR = f"{edge.LABEL_PROJECTED}={edge.PROJECTED_VALUE}"
PLAN_KEY = Key("", "", "plan")
REDISCOVER = "rediscover"
"""Name of a discovery key that re-reads the cluster's discovery (else the last is reused)."""
BY_SPEC_CLUSTER = "spec-cluster"


def gr_name(gr: GroupResource) -> str:
    """`resource.group` (`resource` for the core group): the name part of projection keys."""
    group, resource = gr
    return f"{resource}.{group}" if group else resource


def parse_gr_name(text: str) -> GroupResource:
    resource, _, group = text.partition(".")
    return group, resource


# Seconds a mailbox Namespace we created is taken to exist before the cache shows it (normally
# milliseconds; bounded so that one deleted meanwhile is not taken to exist for long).
NAMESPACE_CACHE_WAIT = 5.0
# After writing a copy, how long its cache may take to show that write before the copy is
# decided on regardless (normally milliseconds), how soon to look again meanwhile (the
# cache's event usually comes first), and when to drop expired records.
CACHE_WAIT = 5.0
CACHE_RECHECK = 0.05
WRITTEN_PRUNE_AT = 4096
# (mailbox cluster, resource, namespace, name) of a copy
WrittenKey = tuple[str, GroupVersionResource, str, str]
# Seconds before looking again at a mailbox whose edge API is not served yet.
MAILBOX_NOT_READY_RETRY = 0.5


@dataclass
class ClusterState:
    """What the translator follows in one logical cluster."""

    resources: dict[GroupResource, ApiResource] | None = None
    # workload objects (workload workspace role)
    sources: dict[GroupResource, Informer] = field(default_factory=dict)
    # projected copies (mailbox role)
    copies: dict[GroupResource, Informer] = field(default_factory=dict)
    # Resources the mailbox serves of which it holds no copies (a LIST said so) and the plan
    # wants none: not followed, as most of a mailbox's resources never get an object and
    # each informer holds a watch on the server. `_project` starts one when needed.
    idle_copies: dict[GroupResource, ApiResource] = field(default_factory=dict)

    def sources_synced(self) -> bool:
        return self.resources is not None and all(i.has_synced() for i in self.sources.values())


@dataclass
class SharedCopies:
    """A wildcard informer of one resource's copies and the mailboxes that follow it."""

    informer: Informer
    mailboxes: set[str] = field(default_factory=set)


def _spec_cluster(obj: Obj) -> list[str]:
    name = (obj.get("metadata") or {}).get("name", "")
    cluster = (obj.get("spec") or {}).get("cluster")
    return [cluster] if cluster and edge.is_mailbox_workspace_name(name) else []


class Translator:
    """Owns the caches and controllers of the placement translator."""

    def __init__(
        self,
        mgr: Manager,
        *,
        edge_view: Client,
        espw: Client,
        allclusters: Client,
        scheduling_view: Client | None,
        workers: int = 4,
    ) -> None:
        self.mgr = mgr
        self.allclusters = allclusters
        wildcard = allclusters.cluster("*")
        edge_all = edge_view.cluster("*")
        inf = mgr.informers
        self.placements = inf.informer(r.EDGE_PLACEMENTS, client=edge_all)
        self.slices = inf.informer(r.SINGLE_PLACEMENT_SLICES, client=edge_all)
        self.syncer_configs = inf.informer(r.SYNCER_CONFIGS, client=edge_all)
        self.customizers = inf.informer(r.CUSTOMIZERS, client=edge_all)
        self.workspaces = inf.informer(r.WORKSPACES, client=espw)
        self.workspaces.add_indexers({BY_SPEC_CLUSTER: _spec_cluster})
        self.namespaces = inf.informer(r.NAMESPACES, client=wildcard)
        self.crds = inf.informer(r.CRDS, client=wildcard)
        self.bindings = inf.informer(r.API_BINDINGS, client=wildcard)
        self.locations = (
            inf.informer(r.LOCATIONS, client=scheduling_view.cluster("*"))
            if scheduling_view is not None
            else None
        )
        self.clusters: dict[str, ClusterState] = {}
        self.plans: dict[str, MailboxPlan] | None = None
        self.blocked: set[str] = set()
        self._ns_routes: dict[tuple[str, str], set[str]] = {}
        self._obj_routes: dict[tuple[str, str, str, str], set[str]] = {}
        # (mailbox name, group, resource, namespace, name) -> workload workspaces in conflict
        self.conflicts: dict[tuple[str, str, str, str, str], tuple[str, ...]] = {}
        self.writes: dict[str, int] = {"create": 0, "update": 0, "delete": 0}
        self.events = EventRecorder(allclusters, FIELD_MANAGER)
        self._planned = False
        # (informer, mailbox cluster of a shared one or "") -> the task that reacts to its
        # first sync
        self._tasks: dict[tuple[Informer, str], asyncio.Task[None]] = {}
        # wildcard resource (`deployments:<identityHash>`) -> the copies' shared informer
        self._shared: dict[GroupVersionResource, SharedCopies] = {}
        # copy -> (resourceVersion of our last write, until when to wait for the cache)
        self._written: dict[WrittenKey, tuple[str, float]] = {}
        # mailbox name -> the SyncerConfig spec (normalized) its mailbox refused
        self._configs_refused: dict[str, Any] = {}
        # (mailbox cluster, namespace) -> its creation, while under way
        self._namespaces_in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}
        # (mailbox cluster, namespace) -> until when a creation just made is trusted
        # without the namespaces cache showing it
        self._namespaces_made: dict[tuple[str, str], float] = {}

        self.discovery = mgr.add(Controller("placement-discovery", self._discover, workers=workers))
        self.planner = mgr.add(Controller("placement-planner", self._plan, workers=1))
        self.syncerconfig = mgr.add(
            Controller("placement-syncerconfig", self._syncer_config, workers=workers)
        )
        self.projection = mgr.add(
            Controller("placement-projection", self._project, workers=workers)
        )
        self.conditions = mgr.add(Controller("placement-conditions", self._condition, workers=1))
        self._wire()
        mgr.add_runnable(self._own_informers, needs_leader=False)

    # -- lifecycle ----------------------------------------------------------------------

    async def _own_informers(self) -> None:
        """Runs while the manager does; on stop, stops the informers made per workspace."""
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self._tasks.values()):
                task.cancel()
            informers = {
                i
                for state in self.clusters.values()
                for i in (*state.sources.values(), *state.copies.values())
            }
            await self._stop_informers(list(informers))

    @property
    def controllers(self) -> tuple[Controller, ...]:
        return (self.discovery, self.planner, self.syncerconfig, self.projection, self.conditions)

    def idle(self) -> bool:
        """Nothing queued, delayed or in flight, every cache filled, a plan made."""
        if self.plans is None or self._tasks:
            return False
        for controller in self.controllers:
            queue = controller.queue
            if len(queue) or queue.processing() or queue.waiting():
                return False
        return all(
            i.has_synced()
            for state in self.clusters.values()
            for i in (*state.sources.values(), *state.copies.values())
        )

    # -- wiring -------------------------------------------------------------------------

    def _wire(self) -> None:
        plan = self.planner
        # CRDs and APIBindings change what a cluster serves: discover it again at once.
        # Only changes of what they make a cluster serve: an APIBinding's or CRD's status is
        # written several times while it settles, and a discovery read is ~8 requests.
        self._rediscover_on(self.crds, _crd_serving)
        self._rediscover_on(self.bindings, _binding_serving)
        self.discovery.watch(self.placements, lambda obj: Key(cluster_of(obj), "", ""))
        self.discovery.watch(self.workspaces, self._mailbox_cluster_keys)
        for informer in (self.placements, self.slices, self.workspaces):
            plan.watch(informer, lambda _obj: PLAN_KEY)
        plan.watch(self.namespaces, self._namespace_plan_key)
        self.syncerconfig.watch(self.syncer_configs, self._syncer_config_key)
        self.syncerconfig.watch(self.workspaces, self._syncer_config_keys_of_workspace)
        self.projection.watch(self.namespaces, self._namespace_projection_keys)
        self.projection.watch(self.customizers, self._customizer_keys)
        if self.locations is not None:
            self.projection.watch(self.locations, self._location_keys)
        self.conditions.watch(self.placements)

    def _rediscover_on(self, informer: Informer, serving: Callable[[Obj], Any]) -> None:
        """Re-read a cluster's discovery when an object of `informer` there comes or goes,
        or when `serving(object)` changes."""

        def rediscover(obj: Obj | DeletedFinalStateUnknown) -> None:
            self.discovery.enqueue(Key(cluster_of(final_state(obj)), "", REDISCOVER))

        def changed(old: Obj, new: Obj) -> None:
            if serving(old) != serving(new):
                rediscover(new)

        informer.add_handler(rediscover, changed, rediscover)

    def _namespace_plan_key(self, ns: Obj) -> Key | None:
        # Only workload workspaces' namespaces are inputs of the plan.
        if self.placements.store.index_keys(BY_CLUSTER, cluster_of(ns)):
            return PLAN_KEY
        return None

    def _mailbox_cluster_keys(self, ws: Obj) -> list[Key]:
        return [Key(c, "", "") for c in _spec_cluster(ws)]

    def _syncer_config_key(self, obj: Obj) -> Key | None:
        if (obj.get("metadata") or {}).get("name") != edge.SYNCER_CONFIG_NAME:
            return None
        return Key(cluster_of(obj), "", edge.SYNCER_CONFIG_NAME)

    def _syncer_config_keys_of_workspace(self, ws: Obj) -> list[Key]:
        return [Key(c, "", edge.SYNCER_CONFIG_NAME) for c in _spec_cluster(ws)]

    def _namespace_projection_keys(self, ns: Obj) -> list[Key]:
        cluster = cluster_of(ns)
        if self.mailbox_name(cluster) is not None:
            return [Key(cluster, "", gr_name(NAMESPACES))]
        name = (ns.get("metadata") or {}).get("name", "")
        return [
            Key(c, "", gr_name(NAMESPACES))
            for c in self._mailbox_clusters(self._obj_routes.get((cluster, "", "namespaces", name)))
        ]

    def _customizer_keys(self, customizer: Obj) -> list[Key]:
        # A Customizer may be named by any object of its namespace (or, as ns/name, by a
        # cluster-scoped one): re-check the namespace's copies of every resource.
        cluster = cluster_of(customizer)
        ns = (customizer.get("metadata") or {}).get("namespace", "")
        state = self.clusters.get(cluster)
        if state is None:
            return []
        keys = []
        for mailbox in self._mailbox_clusters(self._ns_routes.get((cluster, ns))):
            keys.extend(Key(mailbox, ns, gr_name(gr)) for gr in state.sources)
        return keys

    def _location_keys(self, location: Obj) -> list[Key]:
        # Labels and annotations of a Location are customization parameters of every
        # object copied to its mailboxes.
        cluster, name = cluster_of(location), (location.get("metadata") or {}).get("name")
        mailboxes = {
            d.mailbox_workspace_name
            for d in self._all_destinations()
            if d.cluster == cluster and d.location_name == name
        }
        keys: list[Key] = []
        for mailbox in self._mailbox_clusters(mailboxes):
            plan = (self.plans or {}).get(self.mailbox_name(mailbox) or "")
            if plan is not None:
                keys.extend(_plan_keys(mailbox, plan))
        return keys

    def _mailbox_clusters(self, names: set[str] | None) -> list[str]:
        out = []
        for name in names or ():
            ws = self.workspaces.store.get_by(self._espw_cluster(), "", name)
            cluster = ((ws or {}).get("spec") or {}).get("cluster")
            if cluster:
                out.append(cluster)
        return out

    def _espw_cluster(self) -> str:
        clusters = self.workspaces.store.index_values(BY_CLUSTER)
        return clusters[0] if clusters else ""

    def mailbox_name(self, cluster: str) -> str | None:
        """The name of the mailbox Workspace whose logical cluster is `cluster`."""
        found = self.workspaces.store.by_index(BY_SPEC_CLUSTER, cluster)
        return found[0]["metadata"]["name"] if found else None

    def _spawn_after_sync(
        self, informer: Informer, then: Callable[[], None], mailbox: str = ""
    ) -> None:
        async def wait() -> None:
            await informer.wait_for_sync()
            then()

        key = (informer, mailbox)
        task = asyncio.create_task(wait())
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    # -- discovery ----------------------------------------------------------------------

    async def _discover(self, key: Key) -> Result | None:
        cluster = key.cluster
        has_placements = bool(self.placements.store.index_keys(BY_CLUSTER, cluster))
        is_mailbox = self.mailbox_name(cluster) is not None
        if not cluster or not (has_placements or is_mailbox):
            state = self.clusters.pop(cluster, None)
            if state is not None:
                await self._stop_informers(list(state.sources.values()))
                await self._release_copies(cluster, list(state.copies.values()))
                self.planner.enqueue(PLAN_KEY)
            return None
        state = self.clusters.setdefault(cluster, ClusterState())
        if state.resources is None or key.name == REDISCOVER:
            state.resources = await self._discovery_of(cluster)
        resources = state.resources
        wanted_sources: dict[GroupResource, ApiResource] = {}
        if has_placements:
            for api in resources.values():
                if api.namespaced and api.listable and goes_to_mailbox(*api.gr):
                    wanted_sources[api.gr] = api
            for obj in self.placements.store.by_index(BY_CLUSTER, cluster):
                placement = self._placement(obj)
                if placement is not None:
                    if bad := unsupported_references(placement):
                        message = f"resources that cannot be propagated: {', '.join(bad)}"
                        log.error(
                            "EdgePlacement names resources that cannot be propagated",
                            ", ".join(bad),
                            cluster=cluster,
                            name=placement.metadata.name,
                        )
                        await self.events.warn(
                            cluster, obj, edge.API_VERSION, "EdgePlacement", UNSUPPORTED, message
                        )
                    for gr in cluster_resources_named(placement, resources):
                        wanted_sources[gr] = resources[gr]
        wanted_copies: dict[GroupResource, ApiResource] = {}
        if is_mailbox:
            candidates = {
                api.gr: api
                for api in resources.values()
                if api.listable and goes_to_mailbox(*api.gr) and api.gr != NAMESPACES
            }
            wanted_copies = await self._copies_in_use(cluster, state, candidates)
        await self._sync_informers(cluster, state.sources, wanted_sources, self._source_handlers)
        await self._sync_copies(cluster, state, wanted_copies)
        self.planner.enqueue(PLAN_KEY)
        return None

    async def _discovery_of(self, cluster: str) -> dict[GroupResource, ApiResource]:
        client = self.allclusters.cluster(cluster)
        groups = await client.server_groups()
        lists: dict[str, Any] = {}
        for group in groups.get("groups") or []:
            gv = (group.get("preferredVersion") or {}).get("groupVersion")
            if gv:
                try:
                    lists[gv] = await client.server_resources(gv)
                except NotFound:
                    continue  # the group went away between the two requests
        return parse_discovery(groups, lists)

    async def _copies_in_use(
        self,
        cluster: str,
        state: ClusterState,
        candidates: dict[GroupResource, ApiResource],
    ) -> dict[GroupResource, ApiResource]:
        """Of a mailbox's `candidates`, those to follow with a copy informer: the ones
        followed already and the ones of which a LIST finds copies; the others are recorded
        in `state.idle_copies` and their projection keys looked at (an informer's first
        sync would have done that). Resources whose copies a shared wildcard informer
        follows are always followed: that costs no watch of the mailbox's own."""
        client = self.allclusters.cluster(cluster)
        shared = {gr for gr, api in candidates.items() if self._shared_resource(cluster, api)}
        unknown = [
            api
            for gr, api in candidates.items()
            if gr not in state.copies and gr not in state.idle_copies and gr not in shared
        ]

        async def has_copies(api: ApiResource) -> bool:
            gvr = GroupVersionResource(api.group, api.version, api.resource)
            try:
                found = await client.list(gvr, label_selector=PROJECTED_SELECTOR, limit=1)
            except NotFound:
                return False  # not served after all; a later discovery sees it again
            return bool(found.get("items"))

        used = await asyncio.gather(*(has_copies(api) for api in unknown))
        empty = {api.gr for api, found in zip(unknown, used, strict=True) if not found}
        idle = (set(state.idle_copies) | empty) - shared
        state.idle_copies = {gr: candidates[gr] for gr in idle if gr in candidates}
        plan = (self.plans or {}).get(self.mailbox_name(cluster) or "")
        for gr in empty if plan is not None else ():
            for projection_key in _plan_keys(cluster, plan, only=gr):
                self.projection.enqueue(projection_key)
        return {gr: api for gr, api in candidates.items() if gr not in state.idle_copies}

    def _new_informer(
        self,
        cluster: str,
        api: ApiResource,
        handlers: Callable[[str, ApiResource, Informer], None],
        label_selector: str | None = None,
    ) -> Informer:
        gvr = GroupVersionResource(api.group, api.version, api.resource)
        informer = Informer(
            self.allclusters.cluster(cluster),
            gvr,
            label_selector=label_selector,
            options=self.mgr.informers.options,
        )
        handlers(cluster, api, informer)
        informer.start()
        return informer

    async def _sync_informers(
        self,
        cluster: str,
        have: dict[GroupResource, Informer],
        wanted: dict[GroupResource, ApiResource],
        handlers: Callable[[str, ApiResource, Informer], None],
    ) -> None:
        stale = [
            gr for gr, inf in have.items() if gr not in wanted or _version_changed(inf, wanted)
        ]
        await self._stop_informers([have.pop(gr) for gr in stale])
        for gr, api in wanted.items():
            if gr not in have:
                have[gr] = self._new_informer(cluster, api, handlers)

    async def _stop_informers(self, informers: list[Informer]) -> None:
        stopping = set(informers)
        for key in [k for k in self._tasks if k[0] in stopping]:
            self._tasks.pop(key).cancel()
        await asyncio.gather(*(i.stop() for i in informers))

    # -- copy informers -----------------------------------------------------------------

    def _shared_resource(self, cluster: str, api: ApiResource) -> GroupVersionResource | None:
        """How `/clusters/*` names the resource of `api` in mailbox `cluster`, or None."""
        gvr = GroupVersionResource(api.group, api.version, api.resource)
        return wildcard_resource(gvr, self.bindings.store.by_index(BY_CLUSTER, cluster))

    async def _sync_copies(
        self, cluster: str, state: ClusterState, wanted: dict[GroupResource, ApiResource]
    ) -> None:
        """Follow the copies of the `wanted` resources of mailbox `cluster`, and only them."""

        def where(api: ApiResource) -> GroupVersionResource:
            own = GroupVersionResource(api.group, api.version, api.resource)
            return self._shared_resource(cluster, api) or own

        stale = [
            gr
            for gr, informer in state.copies.items()
            if gr not in wanted or informer.resource != where(wanted[gr])
        ]
        await self._release_copies(cluster, [state.copies.pop(gr) for gr in stale])
        for gr, api in wanted.items():
            if gr not in state.copies:
                state.copies[gr] = self._copy_informer(cluster, api)

    def _copy_informer(self, cluster: str, api: ApiResource) -> Informer:
        """An informer of the copies of `api` in mailbox `cluster`: the shared wildcard one
        when `/clusters/*` can name the resource, else one of the mailbox's own."""
        target = self._shared_resource(cluster, api)
        if target is None:
            return self._new_informer(cluster, api, self._copy_handlers, PROJECTED_SELECTOR)
        shared = self._shared.get(target)
        if shared is None:
            informer = Informer(
                self.allclusters.cluster("*"),
                target,
                label_selector=PROJECTED_SELECTOR,
                options=self.mgr.informers.options,
            )
            shared = self._shared[target] = SharedCopies(informer)
            self._shared_copy_handlers(api, shared)
            informer.start()
        shared.mailboxes.add(cluster)
        self._spawn_after_sync(
            shared.informer,
            lambda: self._shared_copies_listed(cluster, api.gr, shared),
            mailbox=cluster,
        )
        return shared.informer

    async def _release_copies(self, cluster: str, informers: list[Informer]) -> None:
        """Stop following copies in mailbox `cluster` through `informers`: its own are
        stopped, a shared one when no mailbox follows it any more."""
        own: list[Informer] = []
        for informer in informers:
            shared = self._shared.get(informer.resource)
            if shared is None or shared.informer is not informer:
                own.append(informer)
                continue
            shared.mailboxes.discard(cluster)
            task = self._tasks.pop((informer, cluster), None)
            if task is not None:
                task.cancel()
            if not shared.mailboxes:
                del self._shared[informer.resource]
                own.append(informer)
        await self._stop_informers(own)

    def _shared_copy_handlers(self, api: ApiResource, shared: SharedCopies) -> None:
        name = gr_name(api.gr)

        def key(obj: Obj | DeletedFinalStateUnknown) -> None:
            final = final_state(obj)
            cluster = cluster_of(final)
            if cluster in shared.mailboxes:
                ns = (final.get("metadata") or {}).get("namespace", "")
                self.projection.enqueue(Key(cluster, ns, name))

        shared.informer.add_handler(key, lambda _old, new: key(new), key)

    def _copies_listed(self, cluster: str, gr: GroupResource) -> None:
        """A mailbox's copies of `gr` are listed: an empty cache delivers nothing, so ask
        for what the plan wants there."""
        plan = (self.plans or {}).get(self.mailbox_name(cluster) or "")
        if plan is not None:
            for projection_key in _plan_keys(cluster, plan, only=gr):
                self.projection.enqueue(projection_key)

    def _shared_copies_listed(self, cluster: str, gr: GroupResource, shared: SharedCopies) -> None:
        """As `_copies_listed`, for a mailbox that joined a shared informer: the copies of
        it the cache held before were delivered while the handler ignored the mailbox, so
        their keys come from the cache (a copy no plan wants any more, left by a run before
        a restart, would otherwise stay for good)."""
        self._copies_listed(cluster, gr)
        name = gr_name(gr)
        held = shared.informer.store.by_index(BY_CLUSTER, cluster)
        for ns in sorted({(obj.get("metadata") or {}).get("namespace", "") for obj in held}):
            self.projection.enqueue(Key(cluster, ns, name))

    def _source_handlers(self, cluster: str, api: ApiResource, informer: Informer) -> None:
        name = gr_name(api.gr)

        def keys(obj: Obj) -> None:
            meta = obj.get("metadata") or {}
            if api.namespaced:
                ns = meta.get("namespace", "")
                for mb in self._mailbox_clusters(self._ns_routes.get((cluster, ns))):
                    self.projection.enqueue(Key(mb, ns, name))
            else:
                self.planner.enqueue(PLAN_KEY)  # labels decide membership
                route = (cluster, api.group, api.resource, meta.get("name", ""))
                for mb in self._mailbox_clusters(self._obj_routes.get(route)):
                    self.projection.enqueue(Key(mb, "", name))

        informer.add_handler(
            keys,
            lambda _old, new: keys(new),
            lambda obj: keys(final_state(obj)),
        )

        def synced() -> None:
            # Projection skips mailboxes while a source cache fills; look at them again.
            self.planner.enqueue(PLAN_KEY)
            for (source, ns), mailboxes in self._ns_routes.items():
                if source == cluster:
                    for mb in self._mailbox_clusters(mailboxes):
                        self.projection.enqueue(Key(mb, ns if api.namespaced else "", name))

        self._spawn_after_sync(informer, synced)

    def _copy_handlers(self, cluster: str, api: ApiResource, informer: Informer) -> None:
        name = gr_name(api.gr)

        def key(obj: Obj | DeletedFinalStateUnknown) -> None:
            ns = (final_state(obj).get("metadata") or {}).get("namespace", "")
            self.projection.enqueue(Key(cluster, ns, name))

        informer.add_handler(key, lambda _old, new: key(new), key)
        self._spawn_after_sync(informer, lambda: self._copies_listed(cluster, api.gr))

    # -- planning -----------------------------------------------------------------------

    def _placement(self, obj: Obj) -> edge.EdgePlacement | None:
        try:
            return edge.EdgePlacement.model_validate(obj)
        except ValidationError as err:
            log.error(
                "Ignoring invalid EdgePlacement",
                str(err).splitlines()[0],
                cluster=cluster_of(obj),
                name=(obj.get("metadata") or {}).get("name"),
            )
            return None

    def _destinations(self, cluster: str, name: str) -> list[edge.Destination]:
        sps = self.slices.store.get_by(cluster, "", name)
        if sps is None:
            return []
        try:
            return edge.SinglePlacementSlice.model_validate(sps).destinations
        except ValidationError as err:
            log.error("Ignoring invalid SinglePlacementSlice", str(err), cluster=cluster, name=name)
            return []

    def workload_inputs(self) -> tuple[list[WorkloadInputs], set[str]]:
        """Inputs of every ready workload workspace, and the mailboxes the others reach."""
        inputs: list[WorkloadInputs] = []
        blocked: set[str] = set()
        for cluster in self.placements.store.index_values(BY_CLUSTER):
            placements = [
                p
                for p in map(self._placement, self.placements.store.by_index(BY_CLUSTER, cluster))
                if p is not None
            ]
            destinations = {
                p.metadata.name or "": self._destinations(cluster, p.metadata.name or "")
                for p in placements
            }
            state = self.clusters.get(cluster)
            if state is None or not state.sources_synced():
                blocked |= {d.mailbox_workspace_name for ds in destinations.values() for d in ds}
                continue
            assert state.resources is not None
            namespaces = {
                ns["metadata"]["name"]: (ns["metadata"].get("labels") or {})
                for ns in self.namespaces.store.by_index(BY_CLUSTER, cluster)
            }
            objects = [
                ClusterObject.of(gr[0], gr[1], obj)
                for gr, informer in state.sources.items()
                if not state.resources[gr].namespaced
                for obj in informer.store.list()
            ]
            inputs.append(
                WorkloadInputs(
                    cluster, placements, destinations, namespaces, state.resources, objects
                )
            )
        return inputs, blocked

    async def _plan(self, key: Key) -> Result | None:
        inputs, blocked = self.workload_inputs()
        plans = plan_mailboxes(inputs)
        old = self.plans or {}
        old_blocked = self.blocked
        self.plans, self.blocked = plans, blocked
        self._ns_routes = route_namespaces(plans)
        self._obj_routes = route_cluster_objects(plans)
        first = not self._planned
        self._planned = True
        for mailbox in set(old) | set(plans) | old_blocked | blocked:
            before, after = old.get(mailbox), plans.get(mailbox)
            unblocked = mailbox in old_blocked and mailbox not in blocked
            if before == after and not unblocked and not first:
                continue
            for warning in after.warnings if after else []:
                log.error("Version disagreement", warning, mailbox=mailbox)
            ws = self.workspaces.store.get_by(self._espw_cluster(), "", mailbox)
            cluster = ((ws or {}).get("spec") or {}).get("cluster")
            if not cluster:
                continue  # the mailbox workspace is not there yet; its arrival enqueues it
            self.syncerconfig.enqueue(Key(cluster, "", edge.SYNCER_CONFIG_NAME))
            for plan in (before, after):
                if plan is not None:
                    for projection_key in _plan_keys(cluster, plan):
                        self.projection.enqueue(projection_key)
        if first:
            # Mailboxes no placement reaches still get an (empty) SyncerConfig.
            for ws in self.workspaces.store.by_index(BY_CLUSTER, self._espw_cluster()):
                for cluster in _spec_cluster(ws):
                    self.syncerconfig.enqueue(Key(cluster, "", edge.SYNCER_CONFIG_NAME))
        return None

    # -- SyncerConfig -------------------------------------------------------------------

    async def _syncer_config(self, key: Key) -> Result | None:
        mailbox = self.mailbox_name(key.cluster)
        if mailbox is None or self.plans is None or mailbox in self.blocked:
            return None  # the planner enqueues this mailbox once its inputs are complete
        spec = syncer_config_spec(self.plans.get(mailbox))
        if self._configs_refused.get(mailbox) == normalize_spec(spec):
            return None  # refused as it is (said once); a change of the plan tries again
        existing = self.syncer_configs.store.get_by(key.cluster, "", edge.SYNCER_CONFIG_NAME)
        client = self.allclusters.cluster(key.cluster)
        if existing is None:
            body = {
                "apiVersion": edge.API_VERSION,
                "kind": "SyncerConfig",
                "metadata": {"name": edge.SYNCER_CONFIG_NAME},
                "spec": spec,
            }
            try:
                await client.create(r.SYNCER_CONFIGS, body, field_manager=FIELD_MANAGER)
            except AlreadyExists:
                return Result.requeue()  # the cache is behind; look again
            except NotFound:
                # A mailbox whose bind-edge binding is not serving SyncerConfigs yet: not an
                # error, just early; look again shortly without the error backoff.
                log.v(4).info("SyncerConfigs not served yet", mailbox=mailbox, cluster=key.cluster)
                return Result.requeue_after(MAILBOX_NOT_READY_RETRY)
            except ApiError as err:
                if err.code not in REFUSED_CODES:
                    raise
                await self._config_refused(mailbox, spec, err)
                return None
            self.writes["create"] += 1
            self._configs_refused.pop(mailbox, None)
            log.v(2).info("Created SyncerConfig", mailbox=mailbox, cluster=key.cluster)
            return None
        if normalize_spec(existing.get("spec")) == normalize_spec(spec):
            return None
        # The namespaces first: a syncer that learns of a namespace before the mailbox has
        # it creates a bare one at the edge, then updates it when the real one shows up.
        for ns in sorted((self.plans.get(mailbox) or MailboxPlan()).namespaces):
            await self._ensure_namespace(key.cluster, ns)
        # The spec is ours alone, but the syncer's heartbeat changes the object (its status)
        # every few seconds: a PUT with the cached resourceVersion would often be refused as
        # a Conflict. Replacing only the spec needs no resourceVersion.
        try:
            await client.patch(
                r.SYNCER_CONFIGS,
                edge.SYNCER_CONFIG_NAME,
                [{"op": "add", "path": "/spec", "value": spec}],  # "add" sets it, even if absent
                patch_type="json",
                field_manager=FIELD_MANAGER,
            )
        except ApiError as err:
            if err.code not in REFUSED_CODES:
                raise
            await self._config_refused(mailbox, spec, err)
            return None
        self.writes["update"] += 1
        self._configs_refused.pop(mailbox, None)
        log.v(2).info("Updated SyncerConfig", mailbox=mailbox, cluster=key.cluster)
        return None

    # -- projection ---------------------------------------------------------------------

    async def _project(self, key: Key) -> Result | None:
        mailbox = self.mailbox_name(key.cluster)
        if mailbox is None:
            return None
        # Not decidable yet (no plan, or a source cache is (re)filling): look again shortly.
        # The planner and the sources' sync enqueue the keys the plan wants, but the key of a
        # copy that no plan wants any more (say, from the copies' informer after a restart)
        # comes only once; dropping it would leave that copy in the mailbox for good.
        if self.plans is None or mailbox in self.blocked:
            return Result.requeue_after(MAILBOX_NOT_READY_RETRY)
        plan = self.plans.get(mailbox) or MailboxPlan()
        if not all(self._sources_synced(c) for c in plan.sources):
            return Result.requeue_after(MAILBOX_NOT_READY_RETRY)
        gr = parse_gr_name(key.name)
        if gr == NAMESPACES:
            await self._project_namespaces(key.cluster, mailbox, plan)
            return None
        state = self.clusters.get(key.cluster)
        copies = state.copies.get(gr) if state is not None else None
        reports: list[Report] = []
        desired = self._desired(mailbox, plan, gr, key.namespace, reports)
        for report in reports:
            await self.events.record(report)
        if copies is None and state is not None and gr in state.idle_copies:
            if not desired:
                return None  # no copies there (listed) and none wanted
            api = state.idle_copies.pop(gr)
            state.copies[gr] = self._copy_informer(key.cluster, api)
            return None  # the new cache's sync enqueues this key again
        if copies is None:
            if not desired or state is None or state.resources is None:
                return None  # the mailbox's discovery makes the cache, whose sync enqueues
            # Not served in the mailbox (yet): the binding or CRD that serves it triggers a
            # discovery re-run and the new cache's sync enqueues this key; until then retry
            # with backoff in case it is served without either.
            log.v(2).info("Resource not served in mailbox yet", mailbox=mailbox, key=key)
            return Result.requeue()
        if not copies.has_synced():
            return None  # the cache's first sync enqueues this key again
        current = {
            obj["metadata"]["name"]: obj
            for obj in copies.store.by_index(BY_CLUSTER_NAMESPACE, f"{key.cluster}|{key.namespace}")
        }
        client = self.allclusters.cluster(key.cluster)
        res = copies.resource  # a shared informer's names the identity: not a write's path
        gvr = GroupVersionResource(res.group, res.version, res.resource.partition(":")[0])
        # One copy the mailbox refuses must not hold back the others of this key: each write
        # failure is dealt with after trying them all (see `_refused`).
        retry: ApiError | None = None
        behind = False
        for name, source in sorted(desired.items()):
            have = current.get(name)
            written_key = (key.cluster, gvr, key.namespace, name)
            if self._cache_behind(written_key, have):
                behind = True  # deciding on it now would repeat our last write (a 409)
                continue
            try:
                if have is None:
                    if key.namespace:
                        await self._ensure_namespace(key.cluster, key.namespace)
                    written = await self._create(client, gvr, source, key.namespace)
                else:
                    merged = merge_into(have, source)
                    if merged == have:
                        continue
                    written = await self._update(client, gvr, merged, key.namespace)
                self._note_written(written_key, written)
            except ApiError as err:
                if not await self._refused(mailbox, gr, source, err):
                    retry = retry or err
        for name, have in sorted(current.items()):
            if name not in desired:
                await self._delete(client, gvr, have)
        if retry is not None:
            raise retry
        if behind:
            return Result.requeue_after(CACHE_RECHECK)
        return None

    async def _config_refused(self, mailbox: str, spec: Obj, err: ApiError) -> None:
        """The mailbox refused the SyncerConfig's content (say, upsync lists past the size
        limit): retrying the same content cannot help, and a change of the plan enqueues the
        mailbox again. A Warning Event on each EdgePlacement sending there says why."""
        message = (
            f"mailbox {mailbox} refused SyncerConfig {edge.SYNCER_CONFIG_NAME} "
            f"({err.code} {err.reason}): {err.message}"
        )
        log.error("SyncerConfig refused", message, mailbox=mailbox)
        self._configs_refused[mailbox] = normalize_spec(spec)
        plan = (self.plans or {}).get(mailbox) or MailboxPlan()
        for cluster, name in sorted(plan.placements):
            placement = self.placements.store.get_by(cluster, "", name)
            if placement is not None:
                await self.events.warn(
                    cluster, placement, edge.API_VERSION, "EdgePlacement", CONFIG_REFUSED, message
                )

    async def _refused(self, mailbox: str, gr: GroupResource, source: Obj, err: ApiError) -> bool:
        """Deal with a failed write of the copy of `source`; True if retrying cannot help.

        The mailbox refusing the content (400, 413, 422) is final until the source changes
        (which enqueues its key again): a Warning Event on the source says why. Anything
        else (a conflict, an outage) is retried with the key's backoff.
        """
        if err.code not in REFUSED_CODES:
            return False
        cluster = cluster_of(source)
        message = f"mailbox {mailbox} refused the copy ({err.code} {err.reason}): {err.message}"
        log.error("Copy refused", message, cluster=cluster, object=_name(source))
        api = self._source_api(cluster, gr)
        if api is not None:
            await self.events.warn(cluster, source, api.api_version, api.kind, REFUSED, message)
        return True

    def _desired(
        self,
        mailbox: str,
        plan: MailboxPlan,
        gr: GroupResource,
        namespace: str,
        reports: list[Report],
    ) -> dict[str, Obj]:
        """Name -> customized source object for one resource/namespace of one mailbox; the
        objects that cannot be customized are added to `reports`."""
        candidates: dict[str, list[tuple[str, Obj]]] = {}
        if namespace:
            for cluster in sorted(plan.namespaces.get(namespace, ())):
                informer = self._source(cluster, gr)
                if informer is None:
                    continue
                for obj in informer.store.by_index(BY_CLUSTER_NAMESPACE, f"{cluster}|{namespace}"):
                    if is_system_object(obj) or obj["metadata"].get("deletionTimestamp"):
                        continue
                    candidates.setdefault(obj["metadata"]["name"], []).append((cluster, obj))
        else:
            for (group, resource, name), clusters in plan.cluster_objects.items():
                if (group, resource) != gr:
                    continue
                for cluster in sorted(clusters):
                    informer = self._source(cluster, gr)
                    obj = informer.store.get_by(cluster, "", name) if informer else None
                    if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                        candidates.setdefault(name, []).append((cluster, obj))
        out: dict[str, Obj] = {}
        for name, found in candidates.items():
            self._note_conflict(mailbox, gr, namespace, name, found)
            cluster, obj = found[0]
            custom = self._customize(cluster, gr, obj, plan, mailbox, reports)
            if custom is not None:
                out[name] = custom
        return out

    def _sources_synced(self, cluster: str) -> bool:
        state = self.clusters.get(cluster)
        return state is not None and state.sources_synced()

    def _source(self, cluster: str, gr: GroupResource) -> Informer | None:
        state = self.clusters.get(cluster)
        return state.sources.get(gr) if state is not None else None

    def _note_conflict(
        self,
        mailbox: str,
        gr: GroupResource,
        namespace: str,
        name: str,
        found: list[tuple[str, Obj]],
    ) -> None:
        key = (mailbox, gr[0], gr[1], namespace, name)
        clusters = tuple(c for c, _ in found)
        distinct = len(found) > 1 and len({_content(o) for _, o in found}) > 1
        before = self.conflicts.get(key)
        if len(clusters) > 1 and distinct:
            if before != clusters:
                self.conflicts[key] = clusters
                log.error(
                    "Conflicting workload objects",
                    f"{gr_name(gr)} {namespace}/{name} comes from {', '.join(clusters)}; "
                    f"the copy from {clusters[0]} is used",
                    mailbox=mailbox,
                )
                self._enqueue_placements(mailbox, clusters)
        elif before is not None:
            del self.conflicts[key]
            self._enqueue_placements(mailbox, before)

    def _enqueue_placements(self, mailbox: str, clusters: tuple[str, ...]) -> None:
        plan = (self.plans or {}).get(mailbox)
        for cluster, name in plan.placements if plan else ():
            if cluster in clusters:
                self.conditions.enqueue(Key(cluster, "", name))

    def _customize(
        self,
        cluster: str,
        gr: GroupResource,
        obj: Obj,
        plan: MailboxPlan,
        mailbox: str,
        reports: list[Report],
    ) -> Obj | None:
        ref = customizer_reference(obj)
        if ref is None and not wants_expansion(obj):
            return obj
        customizer = None
        if ref is not None:
            customizer = self.customizers.store.get_by(cluster, ref[0], ref[1])
            if customizer is None:
                log.error(
                    "Customizer not found, copying unchanged",
                    f"{ref[0]}/{ref[1]}",
                    cluster=cluster,
                    object=obj["metadata"].get("name"),
                )
                api = self._source_api(cluster, gr)
                if api is not None:
                    message = f"Customizer {ref[0]}/{ref[1]} not found; copied unchanged"
                    reports.append(
                        Report(
                            cluster, obj, api.api_version, api.kind, CUSTOMIZER_NOT_FOUND, message
                        )
                    )
                return obj
        location = self._location(plan, mailbox)
        try:
            return customize(obj, customizer, location)
        except CustomizationError as err:
            log.error(
                "Cannot customize, copying unchanged",
                err,
                cluster=cluster,
                object=obj["metadata"].get("name"),
                mailbox=mailbox,
            )
            about, api_version, kind = obj, None, None
            if customizer is not None:
                about, api_version, kind = customizer, edge.API_VERSION, "Customizer"
            elif (api := self._source_api(cluster, gr)) is not None:
                api_version, kind = api.api_version, api.kind
            if api_version and kind:
                message = f"cannot customize {_name(obj)} for mailbox {mailbox}: {err}"
                reports.append(
                    Report(cluster, about, api_version, kind, CUSTOMIZATION_FAILED, message)
                )
            return obj

    def _source_api(self, cluster: str, gr: GroupResource) -> ApiResource | None:
        state = self.clusters.get(cluster)
        return (state.resources or {}).get(gr) if state is not None else None

    def _location(self, plan: MailboxPlan, mailbox: str) -> Obj | None:
        if self.locations is None:
            return None
        for dest in sorted(self._destinations_of(mailbox), key=lambda d: d.location_name):
            found = self.locations.store.get_by(dest.cluster, "", dest.location_name)
            if found is not None:
                return found
        return None

    def _destinations_of(self, mailbox: str) -> set[edge.Destination]:
        return {d for d in self._all_destinations() if d.mailbox_workspace_name == mailbox}

    def _all_destinations(self) -> set[edge.Destination]:
        out = set()
        for sps in self.slices.store.list():
            for dest in sps.get("destinations") or []:
                try:
                    out.add(edge.Destination.model_validate(dest))
                except ValidationError:
                    continue
        return out

    async def _project_namespaces(self, cluster: str, mailbox: str, plan: MailboxPlan) -> None:
        # Namespaces are never deleted: objects the syncer upsynced may live in them.
        client = self.allclusters.cluster(cluster)
        for ns in sorted(plan.namespaces):
            await self._ensure_namespace(cluster, ns)
        for (group, resource, name), clusters in sorted(plan.cluster_objects.items()):
            if (group, resource) != NAMESPACES:
                continue
            source_cluster = sorted(clusters)[0]
            source = self.namespaces.store.get_by(source_cluster, "", name)
            have = self.namespaces.store.get_by(cluster, "", name)
            if source is None:
                continue
            if have is None:
                await self._create(client, r.NAMESPACES, source, "")
            else:
                merged = merge_into(have, source)
                if merged != have:
                    await self._update(client, r.NAMESPACES, merged, "")

    async def _ensure_namespace(self, cluster: str, ns: str) -> None:
        if self.namespaces.store.get_by(cluster, "", ns) is not None:
            self._namespaces_made.pop((cluster, ns), None)
            return
        if self._namespaces_made.get((cluster, ns), 0.0) > time.monotonic():
            return  # made a moment ago; the cache has not shown it yet
        # The first copies of a namespace (one projection key per resource) are made at
        # once: they share one creation instead of each sending its own (all but one 409).
        pending = self._namespaces_in_flight.get((cluster, ns))
        if pending is None:
            pending = asyncio.ensure_future(self._create_namespace(cluster, ns))
            self._namespaces_in_flight[(cluster, ns)] = pending
            pending.add_done_callback(lambda _t: self._namespaces_in_flight.pop((cluster, ns)))
        await asyncio.shield(pending)

    async def _create_namespace(self, cluster: str, ns: str) -> None:
        try:
            await self.allclusters.cluster(cluster).create(
                r.NAMESPACES, projected_namespace(ns), field_manager=FIELD_MANAGER
            )
            self.writes["create"] += 1
        except AlreadyExists:
            pass
        self._namespaces_made[(cluster, ns)] = time.monotonic() + NAMESPACE_CACHE_WAIT

    async def _create(
        self, client: Client, gvr: GroupVersionResource, source: Obj, namespace: str
    ) -> Obj | None:
        """Create the copy of `source`; the server's answer (None: nothing written)."""
        body = project_object(source)
        try:
            created = await client.create(gvr, body, namespace or None, field_manager=FIELD_MANAGER)
            self.writes["create"] += 1
            log.v(3).info("Created copy", url=client.base_url, resource=str(gvr), name=_name(body))
            return created
        except AlreadyExists:
            # There but not labelled as ours (or not in the cache yet): adopt it by merging.
            have = await client.get(gvr, body["metadata"]["name"], namespace or None)
            merged = merge_into(have, source)
            if merged != have:
                return await self._update(client, gvr, merged, namespace)
            return None

    async def _update(
        self, client: Client, gvr: GroupVersionResource, obj: Obj, namespace: str
    ) -> Obj:
        updated = await client.update(gvr, obj, namespace or None, field_manager=FIELD_MANAGER)
        self.writes["update"] += 1
        log.v(3).info("Updated copy", url=client.base_url, resource=str(gvr), name=_name(obj))
        return updated

    def _note_written(self, key: WrittenKey, written: Obj | None) -> None:
        """Remember the resourceVersion of our write of a copy until the cache shows it."""
        rv = str(((written or {}).get("metadata") or {}).get("resourceVersion") or "")
        if not rv:
            return
        now = time.monotonic()
        if len(self._written) > WRITTEN_PRUNE_AT:
            self._written = {k: v for k, v in self._written.items() if v[1] > now}
        self._written[key] = (rv, now + CACHE_WAIT)

    def _cache_behind(self, key: WrittenKey, have: Obj | None) -> bool:
        """Whether the copies cache does not show our last write of `key` yet (for at most
        CACHE_WAIT: a copy deleted meanwhile by someone else is decided on after that)."""
        written = self._written.get(key)
        if written is None:
            return False
        rv, deadline = written
        cached = str(((have or {}).get("metadata") or {}).get("resourceVersion") or "")
        if shows_write(cached, rv) or time.monotonic() > deadline:
            del self._written[key]
            return False
        return True

    async def _delete(self, client: Client, gvr: GroupVersionResource, obj: Obj) -> None:
        meta = obj["metadata"]
        try:
            await client.delete(
                gvr,
                meta["name"],
                meta.get("namespace") or None,
                preconditions={"resourceVersion": meta["resourceVersion"]},
            )
            self.writes["delete"] += 1
            log.v(3).info("Deleted copy", url=client.base_url, resource=str(gvr), name=_name(obj))
        except NotFound:
            pass

    # -- conditions ---------------------------------------------------------------------

    async def _condition(self, key: Key) -> Result | None:
        obj = self.placements.store.get_by(key.cluster, "", key.name)
        if obj is None:
            return None
        mine = sorted(
            f"{gr_name((g, res))} {ns + '/' if ns else ''}{name} in mailbox {mb} "
            f"(from {', '.join(clusters)})"
            for (mb, g, res, ns, name), clusters in self.conflicts.items()
            if key.cluster in clusters and (key.cluster, key.name) in self._placements_of(mb)
        )
        status = dict(obj.get("status") or {"matchingLocationCount": 0})
        conditions = [Condition.model_validate(c) for c in status.get("conditions") or []]
        if not mine and not any(c.type == CONDITION_CONFLICT for c in conditions):
            return None
        wanted = Condition(
            type=CONDITION_CONFLICT,
            status="True" if mine else "False",
            reason="ConflictingObjects" if mine else "NoConflicts",
            message="; ".join(mine),
        )
        if not set_condition(conditions, wanted):
            return None
        status["conditions"] = [c.to_dict() for c in conditions]
        if mine:
            await self._event(key, obj, "; ".join(mine))
        try:
            await self.allclusters.cluster(key.cluster).update_status(
                r.EDGE_PLACEMENTS, {**obj, "status": status}
            )
        except Conflict:
            return Result.requeue()
        return None

    def _placements_of(self, mailbox: str) -> set[tuple[str, str]]:
        plan = (self.plans or {}).get(mailbox)
        return plan.placements if plan else set()

    async def _event(self, key: Key, placement: Obj, message: str) -> None:
        # Through the recorder: an Event name that fits (a placement's name may use all
        # 253 characters) and a failure that cannot hold back the condition's update.
        await self.events.warn(
            key.cluster, placement, edge.API_VERSION, "EdgePlacement", CONDITION_CONFLICT, message
        )


def _plan_keys(cluster: str, plan: MailboxPlan, only: GroupResource | None = None) -> list[Key]:
    """Every projection key a plan touches in the mailbox whose logical cluster is `cluster`."""
    keys = [] if only not in (None, NAMESPACES) else [Key(cluster, "", gr_name(NAMESPACES))]
    resources: set[GroupResource] = set()
    for sources in plan.sources.values():
        resources |= set(sources)
    for ns in plan.namespaces:
        for gr in resources:
            if only is None or gr == only:
                keys.append(Key(cluster, ns, gr_name(gr)))
    for group, resource, _name in plan.cluster_objects:
        gr = (group, resource)
        if gr != NAMESPACES and (only is None or gr == only):
            keys.append(Key(cluster, "", gr_name(gr)))
    return keys


def _binding_serving(binding: Obj) -> Any:
    """What of an APIBinding decides what its cluster serves."""
    status = binding.get("status") or {}
    return (binding.get("spec"), status.get("phase"), status.get("boundResources"))


def _crd_serving(crd: Obj) -> Any:
    """What of a CRD decides what its cluster serves."""
    status = crd.get("status") or {}
    conditions = sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])
    return (crd.get("spec"), status.get("acceptedNames"), conditions)


def _version_changed(informer: Informer, wanted: dict[GroupResource, ApiResource]) -> bool:
    res = informer.resource
    api = wanted.get((res.group, res.resource))
    return api is not None and api.version != res.version


def _content(obj: Obj) -> bytes:
    return orjson.dumps(
        {k: v for k, v in obj.items() if k not in ("metadata", "status")},
        option=orjson.OPT_SORT_KEYS,
    )


def _name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))
