"""The `status-summarizer` component: edge status of placed workloads, summed in their workspace.

For every workload object (of the summarized resources: Deployments, ReplicaSets,
StatefulSets, DaemonSets, Jobs) that an EdgePlacement places, the summarizer keeps one
StatusSummary in the object's workspace and namespace (`edgemc.controllers.summaries` says
what it holds), and, unless an EdgePlacement placing it sets
`spec.aggregateStatusIntoSource: false`, writes the summed replica counts into the status
of the source Deployment, ReplicaSet or StatefulSet (as Karmada does for its templates).
Summaries of objects that are no longer placed are deleted.

Inputs, all from informer caches:

* `main` (the ESPW): the `edge.kcp.io` APIExport's view for EdgePlacements,
  SinglePlacementSlices, SyncerConfigs (heartbeats) and StatusSummaries; the ESPW's
  Workspaces, mapping each mailbox name to its logical cluster.
* `allclusters` (default context `system:admin`): Namespaces and APIBindings of every
  cluster (wildcard); per logical cluster, an informer of each summarized resource the
  cluster serves: the sources in each workload workspace that holds an EdgePlacement; and
  the copies labelled `edge.kcp.io/projected=yes` in the mailboxes, through one wildcard
  informer per resource (`deployments:<identityHash>`) shared by all mailboxes, or the
  mailbox's own where the wildcard cannot name the resource. Which resources a cluster
  serves comes from its discovery, re-read when its APIBindings change. Writes (summaries,
  source status) go through this client too.

A subject is placed when its namespace's labels match a placement's namespaceSelector; its
destinations are the union of those placements' slices. The reconcile key is one subject
(workspace, namespace, `<resource>.<group>/<name>`); every input event maps to the subjects
it can change. Heartbeats age without events, so a reconcile that sees a fresh heartbeat
asks to run again when it would turn stale. Writes happen only when content differs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from edgemc.apis import edge
from edgemc.apis.meta import selector_from_label_selector
from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.summaries import (
    REPLICATED_KINDS,
    DestinationState,
    Subject,
    aggregated_source_status,
    desired_summary,
    is_stale,
    seconds_until_stale,
    summarize,
    summary_name,
    updated_summary,
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
from edgemc.runtime.cache import BY_CLUSTER, BY_CLUSTER_NAMESPACE, Obj, cluster_of, object_key
from edgemc.runtime.informer import final_state
from edgemc.runtime.kcp import wait_for_apiexport_view, wildcard_resource

CONTROLLER_NAME = "status-summarizer"
DISCOVERY_NAME = "status-summarizer-discovery"
FIELD_MANAGER = "status-summarizer"
PROJECTED_SELECTOR = f"{edge.LABEL_PROJECTED}={edge.PROJECTED_VALUE}"

log = get_logger("edgemc.controllers.summarizer", controller=CONTROLLER_NAME)

WRITES = Counter(
    "edgemc_summarizer_writes",
    "API writes made by the status summarizer, by resource, verb and outcome",
    ["resource", "verb", "result"],
)

STATUS_SUMMARIES = r.edge_resource("statussummaries")


@dataclass(frozen=True)
class Summarized:
    """A summarized resource: where it is served and its kind."""

    gvr: GroupVersionResource
    kind: str

    @property
    def name(self) -> str:
        """`<resource>.<group>` (the form used in keys and the `--resources` flag)."""
        g = self.gvr
        return f"{g.resource}.{g.group}" if g.group else g.resource


WORKLOAD_RESOURCES: dict[str, Summarized] = {
    s.name: s
    for s in (
        Summarized(GroupVersionResource("apps", "v1", "deployments"), "Deployment"),
        Summarized(GroupVersionResource("apps", "v1", "replicasets"), "ReplicaSet"),
        Summarized(GroupVersionResource("apps", "v1", "statefulsets"), "StatefulSet"),
        Summarized(GroupVersionResource("apps", "v1", "daemonsets"), "DaemonSet"),
        Summarized(GroupVersionResource("batch", "v1", "jobs"), "Job"),
    )
}


@dataclass(frozen=True)
class SummarizerOptions:
    """Tunables of the status summarizer."""

    # A destination whose syncer heartbeat (SyncerConfig the-one) is older than this many
    # seconds is stale. The syncer beats every 10 s by default, so 60 s tolerates a few
    # missed beats without flapping.
    staleness_threshold: float = 60.0
    # Reconcile workers; each reconcile handles one subject and is cheap (cache reads), so a
    # few suffice unless writes are slow.
    workers: int = 4
    # The resources summarized (`<resource>.<group>` from WORKLOAD_RESOURCES).
    resources: tuple[str, ...] = tuple(WORKLOAD_RESOURCES)
    # Longest wait for an informer cache to show the reconcile's own write, so the next
    # reconcile of the key compares against it (no repeated write, no stale-version
    # Conflict). Normally milliseconds; the bound only matters when a watch is broken.
    cache_wait: float = 5.0
    # While a workspace's or mailbox's objects are not listed yet (start-up, a new mailbox),
    # its subjects are looked at again this much later instead of being judged incomplete.
    inputs_wait: float = 0.5
    # A destination new to a subject whose copy is not in its mailbox yet is not reported
    # (NotProjected, MailboxMissing) for this many seconds: the translator is projecting it
    # (P99 0.2 s at 100 clusters, 1.1 s at 900 on a loaded 2-core machine). Writing the
    # summary at once and again as each copy landed made 1.5-2.4 writes per placement change
    # at 100 clusters and 18 at 900 (with a 2 s grace) in bench/system.py; after the grace
    # the destination is reported as it is. 0 reports at once.
    projection_grace: float = 5.0


# Index names.
BY_MAILBOX_CLUSTER = "mailbox-cluster"  # Workspaces in the ESPW: value = spec.cluster
BY_MAILBOX_NAME = "mailbox-name"  # slices: value = mailbox workspace name of a destination
BY_NAME = "name"  # mailbox Workspaces in the ESPW: value = metadata.name


def _mailbox_cluster_index(ws: Obj) -> list[str]:
    name = ws["metadata"].get("name", "")
    cluster = (ws.get("spec") or {}).get("cluster")
    return [cluster] if cluster and edge.is_mailbox_workspace_name(name) else []


def _mailbox_name_index(ws: Obj) -> list[str]:
    name = ws["metadata"].get("name", "")
    return [name] if edge.is_mailbox_workspace_name(name) else []


def _slice_mailbox_index(obj: Obj) -> list[str]:
    names = []
    for dest in obj.get("destinations") or []:
        if isinstance(dest, dict) and dest.get("cluster") and dest.get("syncTargetUID"):
            names.append(edge.mailbox_workspace_name(dest["cluster"], dest["syncTargetUID"]))
    return names


def subject_key(cluster: str, namespace: str, resource: str, name: str) -> Key:
    return Key(cluster, namespace, f"{resource}/{name}")


class CacheSync:
    """Lets a reconcile wait until an informer's cache no longer holds a version it wrote over."""

    def __init__(self) -> None:
        self._waiters: dict[tuple[int, str], list[tuple[str | None, asyncio.Future[None]]]] = {}

    def track(self, informer: Informer) -> None:
        store = informer.store

        def notify(obj: Any) -> None:
            key = object_key(final_state(obj))
            cached = store.get(key)
            rv = cached["metadata"].get("resourceVersion") if cached else None
            for old_rv, future in self._waiters.get((id(store), key), ()):
                if rv != old_rv and not future.done():
                    future.set_result(None)

        informer.add_handler(notify, lambda _old, new: notify(new), notify)

    async def wait_changed(self, informer: Informer, old: Obj | None, within: float) -> None:
        """Wait (at most `within` s) until the cached version of `old` is not `old`'s.

        `old` None waits for the object to appear; so does an object without a version.
        """
        store = informer.store
        key = object_key(old) if old is not None else ""
        old_rv = old["metadata"].get("resourceVersion") if old is not None else None
        cached = store.get(key)
        if (cached["metadata"].get("resourceVersion") if cached else None) != old_rv:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (old_rv, future)
        waiters = self._waiters.setdefault((id(store), key), [])
        waiters.append(entry)
        try:
            async with asyncio.timeout(within):
                await future
        except TimeoutError:
            log.v(2).info("Cache did not show our write in time", key=key)
        finally:
            waiters.remove(entry)
            if not waiters:
                del self._waiters[(id(store), key)]


@dataclass(frozen=True)
class ParsedSlice:
    """A SinglePlacementSlice's destinations, validated, with their mailbox names."""

    resource_version: str
    destinations: tuple[tuple[edge.Destination, str], ...]
    mailboxes: frozenset[str]


ClusterInformers = dict[str, dict[str, Informer]]
"""cluster -> `<resource>.<group>` -> informer; a cluster is present once its discovery ran."""


class Summarizer:
    """The status summarizer's caches, key mapping and reconcile (see the module docstring)."""

    def __init__(
        self,
        mgr: Manager,
        *,
        edge_view: Client,
        espw: Client,
        allclusters: Client,
        options: SummarizerOptions | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.options = options or SummarizerOptions()
        self.mgr = mgr
        self.allclusters = allclusters
        self.clock = clock
        self.resources = {n: WORKLOAD_RESOURCES[n] for n in self.options.resources}
        inf = mgr.informers
        edge_all = edge_view.cluster("*")
        wildcard = allclusters.cluster("*")
        self.placements = inf.informer(r.EDGE_PLACEMENTS, client=edge_all)
        self.slices = inf.informer(r.SINGLE_PLACEMENT_SLICES, client=edge_all)
        self.syncer_configs = inf.informer(r.SYNCER_CONFIGS, client=edge_all)
        self.summaries = inf.informer(STATUS_SUMMARIES, client=edge_all)
        self.workspaces = inf.informer(r.WORKSPACES, client=espw)
        self.namespaces = inf.informer(r.NAMESPACES, client=wildcard)
        self.bindings = inf.informer(r.API_BINDINGS, client=wildcard)
        self.workspaces.add_indexers(
            {BY_MAILBOX_CLUSTER: _mailbox_cluster_index, BY_NAME: _mailbox_name_index}
        )
        self.slices.add_indexers({BY_MAILBOX_NAME: _slice_mailbox_index})
        # Sources in workload workspaces, projected copies in mailboxes.
        self.sources: ClusterInformers = {}
        self.copies: ClusterInformers = {}
        # Wildcard resources of the copy informers shared by every mailbox.
        self._shared_copies: set[GroupVersionResource] = set()
        self.cache = CacheSync()
        self.cache.track(self.summaries)
        self._slices_parsed: dict[str, ParsedSlice] = {}
        # Mailboxes (by workspace name) whose copies are not listed yet: subjects sent to
        # them wait, instead of counting every copy missing and being rewritten as each
        # mailbox's informer syncs (at start-up that would cost mailboxes x subjects
        # reconciles of every destination).
        self._pending_mailboxes: set[str] = set()
        self.workspaces.add_handler(
            self._note_mailbox,
            lambda _old, new: self._note_mailbox(new),
            lambda obj: self._pending_mailboxes.discard(final_state(obj)["metadata"]["name"]),
        )
        self.slices.add_handler(
            on_delete=lambda obj: self._slices_parsed.pop(object_key(final_state(obj)), None)
        )
        # subject -> mailbox name -> when (monotonic) it was first seen as a destination
        self._first_seen: dict[Key, dict[str, float]] = {}
        # EdgePlacement uid -> the generation whose invalid namespaceSelector was logged
        self._invalid_selector_said: dict[str, Any] = {}
        self.placements.add_handler(
            on_delete=lambda obj: self._invalid_selector_said.pop(
                final_state(obj)["metadata"].get("uid", ""), None
            )
        )

        self.controller = mgr.add(
            Controller(CONTROLLER_NAME, self.reconcile, workers=self.options.workers)
        )
        self.discovery = mgr.add(
            Controller(DISCOVERY_NAME, self.reconcile_discovery, workers=self.options.workers)
        )
        c = self.controller
        c.watch(self.placements, self._keys_for_workspace_event)
        c.watch(self.slices, self._keys_for_workspace_event)
        c.watch(self.namespaces, self._keys_for_namespace)
        c.watch(self.summaries, self._key_for_summary)
        self.syncer_configs.add_handler(*self._syncer_config_handlers())
        c.watch(self.workspaces, self._keys_for_mailbox_workspace)
        d = self.discovery
        d.watch(self.placements, lambda obj: Key(cluster_of(obj), "", "sources"))
        d.watch(self.workspaces, self._discovery_key_for_workspace)
        d.watch(self.bindings, self._discovery_keys_for_binding)

    # -- discovery: which per-cluster informers exist -----------------------------------

    def _note_mailbox(self, ws: Obj) -> None:
        clusters = _mailbox_cluster_index(ws)
        if clusters and clusters[0] not in self.copies:
            self._pending_mailboxes.add(ws["metadata"]["name"])

    def _discovery_key_for_workspace(self, ws: Obj) -> Key | None:
        clusters = _mailbox_cluster_index(ws)
        return Key(clusters[0], "", "copies") if clusters else None

    def _discovery_keys_for_binding(self, binding: Obj) -> list[Key]:
        cluster = cluster_of(binding)
        keys = []
        if cluster in self.sources:
            keys.append(Key(cluster, "", "sources"))
        if cluster in self.copies:
            keys.append(Key(cluster, "", "copies"))
        return keys

    async def reconcile_discovery(self, key: Key) -> Result | None:
        """Start the informers of the summarized resources that cluster `key` serves."""
        role = key.name
        table = self.sources if role == "sources" else self.copies
        if role == "sources":
            wanted = bool(self.placements.store.index_keys(BY_CLUSTER, key.cluster))
        else:
            wanted = bool(self.workspaces.store.index_keys(BY_MAILBOX_CLUSTER, key.cluster))
        if not wanted:
            return None  # informers of a cluster that lost its role are kept (cheap, rare)
        client = self.allclusters.cluster(key.cluster)
        served: set[str] = set()
        for group_version in sorted({s.gvr.group_version for s in self.resources.values()}):
            try:
                listing = await client.server_resources(group_version)
            except NotFound:
                continue
            names = {res.get("name") for res in listing.get("resources") or []}
            served.update(
                s.name
                for s in self.resources.values()
                if s.gvr.group_version == group_version and s.gvr.resource in names
            )
        informers = table.setdefault(key.cluster, {})
        if role == "sources":
            for name in sorted(served - set(informers)):
                informers[name] = self._start_informer(key.cluster, role, self.resources[name])
        for name in sorted(served) if role == "copies" else ():
            await self._follow_copies(key.cluster, informers, self.resources[name])
        log.v(3).info("Discovered", cluster=key.cluster, role=role, resources=sorted(served))
        if role == "copies":
            await self._mailbox_listed(key.cluster, informers.values())
        return None

    async def _mailbox_listed(self, cluster: str, informers: Iterable[Informer]) -> None:
        """Wait (bounded) for a mailbox's copy informers to list, then let its subjects go."""
        try:
            async with asyncio.timeout(self.options.cache_wait):
                for informer in informers:
                    await informer.wait_for_sync()
        except TimeoutError:
            # Do not hold the subjects back for ever: they count the copies missing until
            # the informer lists (its adds bring them back).
            log.warning("Mailbox copies not listed in time", mailboxCluster=cluster)
        released = False
        for ws in self.workspaces.store.by_index(BY_MAILBOX_CLUSTER, cluster):
            name = ws["metadata"]["name"]
            if name in self._pending_mailboxes:
                self._pending_mailboxes.discard(name)
                released = True
        if released:
            for key in self._subjects_sent_to(cluster):
                self.controller.enqueue(key)

    async def _follow_copies(
        self, cluster: str, informers: dict[str, Informer], res: Summarized
    ) -> None:
        """Follow the copies of `res` in mailbox `cluster`: through one wildcard informer
        shared by every mailbox where `/clusters/*` can name the resource (bound through an
        APIBinding, as the workload kinds are, or built in), else one of the mailbox's own.
        An own informer made while the binding's status was not in the cache yet gives way
        to the shared one."""
        have = informers.get(res.name)
        target = wildcard_resource(res.gvr, self.bindings.store.by_index(BY_CLUSTER, cluster))
        if target is None:
            if have is None:
                informers[res.name] = self._start_informer(cluster, "copies", res)
            return
        shared = self.mgr.informers.informer(
            target, label_selector=PROJECTED_SELECTOR, client=self.allclusters.cluster("*")
        )
        if target not in self._shared_copies:
            self._shared_copies.add(target)
            shared.add_handler(*self._handlers(lambda o: self._keys_for_copy(res, o)))
        if have is shared:
            return
        informers[res.name] = shared
        if have is not None and have.resource not in self._shared_copies:
            await self.mgr.informers.discard(have)

    def _start_informer(self, cluster: str, role: str, res: Summarized) -> Informer:
        selector = PROJECTED_SELECTOR if role == "copies" else None
        informer = self.mgr.informers.informer(
            res.gvr, label_selector=selector, client=self.allclusters.cluster(cluster)
        )
        if role == "sources":
            informer.add_handler(*self._handlers(lambda o: [self._key_of(res, o)]))
            self.cache.track(informer)
        else:
            informer.add_handler(*self._handlers(lambda o: self._keys_for_copy(res, o)))
        return informer

    def _handlers(self, mapper: Callable[[Obj], list[Key]]) -> tuple[Any, Any, Any]:
        add = self.controller.enqueue

        def on_add(obj: Obj) -> None:
            for key in mapper(obj):
                add(key)

        def on_update(old: Obj, new: Obj) -> None:
            on_add(new)

        def on_delete(obj: Any) -> None:
            on_add(final_state(obj))

        return on_add, on_update, on_delete

    # -- event -> keys ------------------------------------------------------------------

    @staticmethod
    def _key_of(res: Summarized, obj: Obj) -> Key:
        meta = obj["metadata"]
        return subject_key(cluster_of(obj), meta.get("namespace") or "", res.name, meta["name"])

    def _source_informers(self, cluster: str) -> dict[str, Informer]:
        return self.sources.get(cluster) or {}

    def _copy_informers(self, cluster: str) -> dict[str, Informer]:
        return self.copies.get(cluster) or {}

    def _subjects_in(self, cluster: str, namespace: str | None = None) -> list[Key]:
        """Keys of every source and every summary in a workspace (or one namespace of it)."""
        keys = []
        for name, informer in self._source_informers(cluster).items():
            store = informer.store
            objs = (
                store.by_index(BY_CLUSTER_NAMESPACE, f"{cluster}|{namespace}")
                if namespace is not None
                else store.by_index(BY_CLUSTER, cluster)
            )
            keys.extend(self._key_of(self.resources[name], o) for o in objs)
        index, value = (
            (BY_CLUSTER_NAMESPACE, f"{cluster}|{namespace}")
            if namespace is not None
            else (BY_CLUSTER, cluster)
        )
        keys.extend(self._key_for_summary(s) for s in self.summaries.store.by_index(index, value))
        return keys

    def _keys_for_workspace_event(self, obj: Obj) -> list[Key]:
        return self._subjects_in(cluster_of(obj))

    def _keys_for_namespace(self, ns: Obj) -> list[Key]:
        cluster = cluster_of(ns)
        if cluster not in self.sources:
            return []
        return self._subjects_in(cluster, ns["metadata"]["name"])

    def _key_for_summary(self, summary: Obj) -> Key:
        subject = summary.get("subject") or {}
        resource, name = subject.get("resource"), subject.get("name")
        if not resource or not name:
            return Key.of(summary)  # not ours to interpret: reconciled (and removed) as is
        group = subject.get("group") or ""
        gr = f"{resource}.{group}" if group else resource
        return subject_key(cluster_of(summary), summary["metadata"].get("namespace", ""), gr, name)

    def _workspaces_sending_to(self, mailbox_cluster: str) -> set[str]:
        workspaces = set()
        for ws in self.workspaces.store.by_index(BY_MAILBOX_CLUSTER, mailbox_cluster):
            for sps in self.slices.store.by_index(BY_MAILBOX_NAME, ws["metadata"]["name"]):
                workspaces.add(cluster_of(sps))
        return workspaces

    def _keys_for_copy(self, res: Summarized, copy: Obj) -> list[Key]:
        meta = copy["metadata"]
        namespace, name = meta.get("namespace") or "", meta["name"]
        return [
            subject_key(w, namespace, res.name, name)
            for w in sorted(self._workspaces_sending_to(cluster_of(copy)))
        ]

    def _keys_for_mailbox_event(self, obj: Obj) -> list[Key]:
        return self._subjects_sent_to(cluster_of(obj))

    def _subjects_sent_to(self, mailbox_cluster: str) -> list[Key]:
        """Every subject (and summary) of the workspaces that send to a mailbox."""
        keys = []
        for w in sorted(self._workspaces_sending_to(mailbox_cluster)):
            keys.extend(self._subjects_in(w))
        return keys

    def _syncer_config_handlers(self) -> tuple[Any, Any, Any]:
        """Handlers of SyncerConfig events; a heartbeat that only renews a fresh one is no
        news: the reconciles that saw the old one fresh already wait for its deadline (and
        then read the new one), so a steady stream of beats costs no reconcile."""
        enqueue = self.controller.enqueue
        threshold = self.options.staleness_threshold

        def changed(obj: Obj) -> None:
            if obj["metadata"].get("name") == edge.SYNCER_CONFIG_NAME:
                for key in self._keys_for_mailbox_event(obj):
                    enqueue(key)

        def on_update(old: Obj, new: Obj) -> None:
            old_beat = (old.get("status") or {}).get("lastSyncerHeartbeatTime")
            new_beat = (new.get("status") or {}).get("lastSyncerHeartbeatTime")
            renewal = old_beat != new_beat and {**old, "status": None, "metadata": None} == {
                **new,
                "status": None,
                "metadata": None,
            }
            if renewal and not is_stale(old_beat, self.clock(), threshold):
                if not is_stale(new_beat, self.clock(), threshold):
                    return
            changed(new)

        return changed, on_update, lambda obj: changed(final_state(obj))

    def _keys_for_mailbox_workspace(self, ws: Obj) -> list[Key]:
        keys = []
        name = ws["metadata"].get("name", "")
        for sps in self.slices.store.by_index(BY_MAILBOX_NAME, name):
            keys.extend(self._subjects_in(cluster_of(sps)))
        return keys

    # -- reconcile ----------------------------------------------------------------------

    def _placing(self, cluster: str, namespace: str) -> list[Obj]:
        """The EdgePlacements of workspace `cluster` that select `namespace`."""
        ns = self.namespaces.store.get_by(cluster, "", namespace)
        if ns is None or not namespace:
            return []
        labels = ns["metadata"].get("labels") or {}
        placing = []
        for placement in self.placements.store.by_index(BY_CLUSTER, cluster):
            if placement["metadata"].get("deletionTimestamp"):
                continue
            raw = (placement.get("spec") or {}).get("namespaceSelector")
            try:
                selects = raw is None or selector_from_label_selector(raw).matches(labels)
            except (ValueError, TypeError) as err:
                meta = placement["metadata"]
                # Said once per generation, not on every reconcile of every subject.
                if self._invalid_selector_said.get(meta.get("uid", "")) != meta.get("generation"):
                    self._invalid_selector_said[meta.get("uid", "")] = meta.get("generation")
                    log.warning(
                        "EdgePlacement has an invalid namespaceSelector; ignored",
                        key=str(Key.of(placement)),
                        err=str(err),
                    )
                continue
            if selects:
                placing.append(placement)
        return placing

    def _parsed_slice(self, sps: Obj) -> ParsedSlice:
        """The slice's destinations with their mailbox names (cached per resourceVersion)."""
        key = object_key(sps)
        rv = sps["metadata"].get("resourceVersion", "")
        cached = self._slices_parsed.get(key)
        if cached is not None and cached.resource_version == rv:
            return cached
        dests = []
        for dest in sps.get("destinations") or []:
            try:
                d = edge.Destination.model_validate(dest)
            except ValueError:
                log.warning("SinglePlacementSlice has a malformed destination; ignored", key=key)
                continue
            dests.append((d, d.mailbox_workspace_name))
        parsed = ParsedSlice(rv, tuple(dests), frozenset(m for _, m in dests))
        self._slices_parsed[key] = parsed
        return parsed

    def _destinations(
        self, cluster: str, placements: Iterable[Obj], res: Summarized, ns: str, name: str
    ) -> list[DestinationState] | None:
        """One DestinationState per distinct mailbox of the placements' slices; None while
        some of those mailboxes' copies are not listed yet."""
        slices = []
        for placement in placements:
            sps = self.slices.store.get_by(cluster, "", placement["metadata"]["name"])
            if sps is not None:
                slices.append(self._parsed_slice(sps))
        pending = self._pending_mailboxes
        if pending and any(not pending.isdisjoint(p.mailboxes) for p in slices):
            return None
        seen: dict[str, DestinationState] = {}
        for parsed in slices:
            for d, mailbox in parsed.destinations:
                if mailbox not in seen:
                    seen[mailbox] = self._destination_state(d, mailbox, res, ns, name)
        return list(seen.values())

    def _destination_state(
        self, d: edge.Destination, mailbox: str, res: Summarized, ns: str, name: str
    ) -> DestinationState:
        found = self.workspaces.store.by_index(BY_NAME, mailbox)
        ws = found[0] if found else None
        mb_cluster = (ws.get("spec") or {}).get("cluster") if ws else None
        copy = heartbeat = None
        if mb_cluster:
            informer = self._copy_informers(mb_cluster).get(res.name)
            if informer is not None:
                copy = informer.store.get_by(mb_cluster, ns, name)
            config = self.syncer_configs.store.get_by(mb_cluster, "", edge.SYNCER_CONFIG_NAME)
            heartbeat = ((config or {}).get("status") or {}).get("lastSyncerHeartbeatTime")
        return DestinationState(
            sync_target_name=d.sync_target_name,
            location_name=d.location_name,
            cluster=d.cluster,
            mailbox=mailbox,
            mailbox_exists=bool(mb_cluster),
            copy=copy,
            heartbeat=heartbeat if isinstance(heartbeat, str) else None,
        )

    async def reconcile(self, key: Key) -> Result | None:
        """Make the summary (and source status) of subject `key` match the caches."""
        gr, _, name = key.name.partition("/")
        res = self.resources.get(gr)
        existing = self._existing_summary(key, res, name)
        informer = self._source_informers(key.cluster).get(gr) if res is not None else None
        if res is not None and not self._known(self.sources, key.cluster, informer):
            # Sources not listed yet (start-up): deciding now could delete a good summary.
            if self.placements.store.index_keys(BY_CLUSTER, key.cluster):
                return Result.requeue_after(self.options.inputs_wait)
        source = informer.store.get_by(key.cluster, key.namespace, name) if informer else None
        placing = self._placing(key.cluster, key.namespace) if source is not None else []
        if res is None or informer is None or source is None or not placing:
            self._first_seen.pop(key, None)
            if existing is not None:
                await self._delete_summary(key, existing)
            return None
        now = self.clock()
        g = res.gvr
        subject = Subject(g.group, g.version, g.resource, res.kind, key.namespace, name)
        destinations = self._destinations(key.cluster, placing, res, key.namespace, name)
        if destinations is None:
            return Result.requeue_after(self.options.inputs_wait)
        hold = self._projection_hold(key, destinations)
        if hold is not None:
            log.v(3).info("Waiting for copies at new destinations", key=str(key), within=hold)
            return Result.requeue_after(hold)
        status = summarize(subject, source, destinations, now, self.options.staleness_threshold)
        desired = desired_summary(subject, [p["metadata"]["name"] for p in placing], status)
        result = None
        if existing is None:
            result = await self._create_summary(key, desired)
        else:
            update = updated_summary(existing, desired)
            if update is not None:
                result = await self._update_summary(key, existing, update)
        aggregate = res.kind in REPLICATED_KINDS and all(
            (p.get("spec") or {}).get("aggregateStatusIntoSource") is not False for p in placing
        )
        if result is None and aggregate:
            new_status = aggregated_source_status(source, status)
            if new_status is not None:
                result = await self._update_source_status(key, res, informer, source, new_status)
        if result is not None:
            return result
        left = seconds_until_stale(destinations, now, self.options.staleness_threshold)
        return Result.requeue_after(left + 0.2) if left is not None else None

    def _projection_hold(self, key: Key, destinations: list[DestinationState]) -> float | None:
        """Seconds to wait before summarizing `key`: while a destination first seen less
        than `projection_grace` ago has no copy yet (the translator is making it); else None.
        Destinations present when the summarizer starts count as seen long ago."""
        grace = self.options.projection_grace
        now = time.monotonic()
        known = self._first_seen.get(key)
        since = now - grace if known is None else now
        seen = {d.mailbox: (known or {}).get(d.mailbox, since) for d in destinations}
        self._first_seen[key] = seen
        waits = [seen[d.mailbox] + grace - now for d in destinations if d.copy is None]
        wait = max(waits, default=0.0)
        return wait if wait > 0 else None

    @staticmethod
    def _known(table: ClusterInformers, cluster: str, informer: Informer | None) -> bool:
        """Whether a cluster's objects of one resource are known: its discovery ran and the
        resource is not served (no informer) or its informer has listed."""
        return cluster in table and (informer is None or informer.has_synced())

    def _existing_summary(self, key: Key, res: Summarized | None, name: str) -> Obj | None:
        gr = key.name.partition("/")[0]
        if not name:  # a key made from a summary without a subject
            return self.summaries.store.get_by(key.cluster, key.namespace, key.name)
        if res is not None:
            group, resource = res.gvr.group, res.gvr.resource
        else:  # a subject of a resource not (or no longer) summarized
            resource, _, group = gr.partition(".")
        summary = summary_name(group, resource, name)
        return self.summaries.store.get_by(key.cluster, key.namespace, summary)

    # -- writes -------------------------------------------------------------------------

    def _client(self, key: Key) -> Client:
        return self.allclusters.cluster(key.cluster)

    async def _create_summary(self, key: Key, obj: Obj) -> Result | None:
        try:
            created = await self._client(key).create(
                STATUS_SUMMARIES, obj, field_manager=FIELD_MANAGER
            )
        except AlreadyExists:
            WRITES.labels("statussummaries", "create", "AlreadyExists").inc()
            return Result.requeue()  # not cached yet; the retry updates it
        WRITES.labels("statussummaries", "create", "ok").inc()
        log.v(2).info("Created StatusSummary", key=str(key), summary=obj["metadata"]["name"])
        absent = {"metadata": {**created["metadata"], "resourceVersion": None}}
        await self.cache.wait_changed(self.summaries, absent, self.options.cache_wait)
        return None

    async def _update_summary(self, key: Key, current: Obj, obj: Obj) -> Result | None:
        try:
            await self._client(key).update(STATUS_SUMMARIES, obj, field_manager=FIELD_MANAGER)
        except (Conflict, NotFound) as err:
            WRITES.labels("statussummaries", "update", type(err).__name__).inc()
            log.v(2).info("StatusSummary changed meanwhile, will retry", key=str(key))
            return Result.requeue()
        WRITES.labels("statussummaries", "update", "ok").inc()
        log.v(2).info("Updated StatusSummary", key=str(key), summary=obj["metadata"]["name"])
        await self.cache.wait_changed(self.summaries, current, self.options.cache_wait)
        return None

    async def _delete_summary(self, key: Key, obj: Obj) -> None:
        meta = obj["metadata"]
        uid = meta.get("uid")
        try:
            await self._client(key).delete(
                STATUS_SUMMARIES,
                meta["name"],
                meta.get("namespace"),
                preconditions={"uid": uid} if uid else None,
            )
        except (NotFound, Conflict) as err:
            WRITES.labels("statussummaries", "delete", type(err).__name__).inc()
            return
        WRITES.labels("statussummaries", "delete", "ok").inc()
        log.v(2).info("Deleted StatusSummary", key=str(key), summary=meta["name"])
        await self.cache.wait_changed(self.summaries, obj, self.options.cache_wait)

    async def _update_source_status(
        self, key: Key, res: Summarized, informer: Informer, source: Obj, status: Obj
    ) -> Result | None:
        resource = res.gvr.resource + "/status"
        try:
            await self._client(key).update_status(res.gvr, {**source, "status": status})
        except (Conflict, NotFound) as err:
            WRITES.labels(resource, "update", type(err).__name__).inc()
            log.v(2).info("Source changed meanwhile, will retry", key=str(key))
            return Result.requeue()
        except ApiError as err:
            # E.g. a source served without a status subresource: the summary is still kept,
            # and retrying would not help until the source changes.
            WRITES.labels(resource, "update", type(err).__name__).inc()
            log.warning("Cannot aggregate into the source's status", key=str(key), err=str(err))
            return None
        WRITES.labels(resource, "update", "ok").inc()
        log.v(2).info(
            "Aggregated status into source",
            key=str(key),
            readyReplicas=status.get("readyReplicas"),
            replicas=status.get("replicas"),
        )
        await self.cache.wait_changed(informer, source, self.options.cache_wait)
        return None


def _add_flags(parser: argparse.ArgumentParser) -> None:
    defaults = SummarizerOptions()
    parser.add_argument(
        "--staleness-threshold",
        type=float,
        default=defaults.staleness_threshold,
        help="seconds after the last syncer heartbeat of a mailbox before its destinations "
        f"count as stale (default {defaults.staleness_threshold:g})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help=f"reconcile workers (default {defaults.workers})",
    )
    parser.add_argument(
        "--projection-grace",
        type=float,
        default=defaults.projection_grace,
        help="seconds a destination new to an object may lack its mailbox copy before the "
        f"summary reports it (default {defaults.projection_grace:g})",
    )
    parser.add_argument(
        "--resources",
        default=",".join(defaults.resources),
        help="comma-separated resources to summarize, of "
        f"{', '.join(WORKLOAD_RESOURCES)} (default: all)",
    )


def options_from(args: argparse.Namespace) -> SummarizerOptions:
    """The options of parsed flags; unknown resources are an error."""
    resources = tuple(r.strip() for r in args.resources.split(",") if r.strip())
    unknown = [r for r in resources if r not in WORKLOAD_RESOURCES]
    if unknown:
        raise ValueError(f"--resources: unknown {', '.join(unknown)}")
    if args.projection_grace < 0:
        raise ValueError("--projection-grace must not be negative")
    return SummarizerOptions(
        staleness_threshold=args.staleness_threshold,
        workers=args.workers,
        resources=resources,
        projection_grace=args.projection_grace,
    )


async def build(mgr: Manager, args: argparse.Namespace, clients: app.Clients) -> None:
    """Wait for the edge.kcp.io view, then register the summarizer's informers."""
    options = options_from(args)
    espw = await clients.get("main")
    allclusters = await clients.get("allclusters")
    edge_view = espw.with_base_url(await wait_for_apiexport_view(espw, edge.EXPORT_NAME))
    Summarizer(mgr, edge_view=edge_view, espw=espw, allclusters=allclusters, options=options)


APP = app.App(
    name="status-summarizer",
    description="Summarize the status that edge syncers return for each placed workload "
    "object into a StatusSummary (and the source's status) in its workload workspace.",
    build=build,
    client_flags=(
        app.ClientFlag(
            "allclusters",
            "system:admin",
            "all logical clusters: workload and mailbox workspaces (reads and writes)",
        ),
    ),
    add_flags=_add_flags,
    default_verbosity=2,
)


def main(argv: list[str] | None = None) -> int:
    return app.main(APP, argv)
