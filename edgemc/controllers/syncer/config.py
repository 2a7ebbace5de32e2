"""What to sync: all sync configs of a mailbox merged, then resolved into lanes (pure).

`merge_configs` unions every SyncerConfig (spec 7.2: the syncer consumes all of them, not
only `the-one`). `resolve` turns the merged `SyncSpec` into a `Plan` of `Lane`s using both
sides' discovery: one downsync lane per (group, version, resource) the mailbox serves and the
config selects, one upsync lane per edge resource an upsync rule selects. A lane whose
target does not serve the resource yet (a CRD still on its way down, an API not bound in
the mailbox) is reported as pending and appears once discovery shows it, which is how CRDs
go before their custom resources.

Wildcards (spec 7.7): a namespaceScope/clusterScope resource `*` means every resource of that
group/version in mailbox discovery; clusterScope `objects` absent or containing `*` means all
objects, `[]` none; upsync `resources`/`namespaces`/`names` `*` mean all (edge discovery for
resources).

EdgeSyncConfigs (the older kind, spec 2.8) are merged in as well: each entry picks objects
by kind and name (`*` allowed for name and namespace, both directions); their `conversions`
(denaturing) are reported as unsupported.

Namespaces listed in `namespaceScope.namespaces` are only ensured at the edge (created when
missing, kept in step with the mailbox's Namespace if there is one) and never deleted: a
namespace may hold edge-born objects. A listed name that cannot be a Namespace's (not an
RFC 1123 label, e.g. `*` or `ü`) is reported as a problem and ignored, instead of being
tried at the edge, refused and retried for ever. A Namespace selected through
`clusterScope` is synced like any cluster-scoped object, deletion included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import ValidationError

from edgemc.apis.edge import WILDCARD, EdgeSyncConfig, SyncerConfig, UpsyncSet
from edgemc.apis.meta import validate_dns1123_label

Obj = dict[str, Any]
Direction = Literal["down", "up"]


@dataclass(frozen=True, order=True)
class ResourceRef:
    """A resource as a SyncerConfig names it: group, version, plural (plural may be `*`)."""

    group: str
    version: str
    resource: str


@dataclass(frozen=True)
class SyncSpec:
    """The union of every SyncerConfig in the mailbox."""

    namespaces: frozenset[str] = frozenset()
    namespaced: frozenset[ResourceRef] = frozenset()
    # Cluster-scoped selections: names, or None for all objects.
    cluster: Mapping[ResourceRef, frozenset[str] | None] = field(default_factory=dict)
    upsync: tuple[UpsyncSet, ...] = ()
    # Single objects (or `*` sets) from the older EdgeSyncConfig kind.
    picks: tuple[ObjectPick, ...] = ()


@dataclass(frozen=True, order=True)
class ObjectPick:
    """An EdgeSyncConfig entry: one object by kind, or with `*` as namespace/name a set."""

    direction: Direction
    group: str
    version: str
    kind: str
    namespace: str
    name: str


def merge_edge_sync_configs(configs: Iterable[Obj]) -> tuple[tuple[ObjectPick, ...], list[str]]:
    """The picks of EdgeSyncConfig objects (spec 2.8); conversions are not supported."""
    picks: set[ObjectPick] = set()
    problems: list[str] = []
    for obj in configs:
        name = (obj.get("metadata") or {}).get("name", "?")
        try:
            config = EdgeSyncConfig.model_validate(obj)
        except ValidationError as err:
            problems.append(f"EdgeSyncConfig {name} is invalid and ignored: {_first_error(err)}")
            continue
        spec = config.spec
        for direction, entries in (
            ("down", spec.down_synced_resources),
            ("up", spec.up_synced_resources),
        ):
            for e in entries or ():
                if not e.kind or not e.version or not e.name:
                    problems.append(
                        f"EdgeSyncConfig {name}: an entry lacks kind, version or name: "
                        f"{e.to_dict()}"
                    )
                    continue
                picks.add(
                    ObjectPick(
                        direction,  # type: ignore[arg-type]
                        e.group or "",
                        e.version,
                        e.kind,
                        e.namespace or "",
                        e.name,
                    )
                )
        if spec.conversions:
            problems.append(f"EdgeSyncConfig {name}: conversions (denaturing) are not supported")
    return tuple(sorted(picks)), problems


def merge_configs(configs: Iterable[Obj]) -> tuple[SyncSpec, list[str]]:
    """Merge SyncerConfig objects; returns the spec and one problem line per invalid config."""
    namespaces: set[str] = set()
    namespaced: set[ResourceRef] = set()
    cluster: dict[ResourceRef, frozenset[str] | None] = {}
    upsync: list[UpsyncSet] = []
    problems: list[str] = []
    for obj in sorted(configs, key=lambda o: (o.get("metadata") or {}).get("name", "")):
        name = (obj.get("metadata") or {}).get("name", "?")
        try:
            config = SyncerConfig.model_validate(obj)
        except ValidationError as err:
            problems.append(f"SyncerConfig {name} is invalid and ignored: {_first_error(err)}")
            continue
        spec = config.spec
        if spec.namespace_scope is not None:
            for ns in spec.namespace_scope.namespaces or ():
                if ns and validate_dns1123_label(ns):
                    problems.append(
                        f"SyncerConfig {name}: {ns[:80]!r} cannot be a namespace; ignored"
                    )
                else:
                    namespaces.add(ns)
            for res in spec.namespace_scope.resources or ():
                namespaced.add(ResourceRef(res.group, res.api_version, res.resource))
        for res in spec.cluster_scope or ():
            ref = ResourceRef(res.group, res.api_version, res.resource)
            if res.objects is not None and not res.objects:
                continue  # an explicit [] selects nothing
            names = None if res.objects is None or WILDCARD in res.objects else res.objects
            if ref in cluster:
                old = cluster[ref]
                cluster[ref] = None if old is None or names is None else old | frozenset(names)
            else:
                cluster[ref] = None if names is None else frozenset(names)
        upsync.extend(spec.upsync or ())
    namespaces.discard("")
    spec = SyncSpec(frozenset(namespaces), frozenset(namespaced), cluster, tuple(upsync))
    return spec, problems


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}"


# -- discovery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiResource:
    """One resource of a server's discovery."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str] = frozenset()
    has_status: bool = False

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.group_version}/{self.resource}"


# Verbs a lane needs: on the side it reads (informers) and on the side it writes.
READ_VERBS = frozenset({"list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "delete"})


@dataclass(frozen=True)
class Discovery:
    """A snapshot of a server's resources by group and version, with preferred versions."""

    resources: Mapping[tuple[str, str], Mapping[str, ApiResource]] = field(default_factory=dict)
    preferred: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_lists(cls, groups: Obj, lists: Mapping[str, Obj]) -> Discovery:
        """From an APIGroupList (core first, as `Client.server_groups`) and the
        APIResourceLists of its group versions (`lists[groupVersion]`)."""
        preferred: dict[str, str] = {}
        resources: dict[tuple[str, str], dict[str, ApiResource]] = {}
        for group in groups.get("groups") or ():
            name = group.get("name", "")
            pref = (group.get("preferredVersion") or {}).get("version")
            if pref:
                preferred[name] = pref
            for ver in group.get("versions") or ():
                version = ver.get("version", "")
                doc = lists.get(ver.get("groupVersion", ""))
                if doc is None:
                    continue
                entries = doc.get("resources") or ()
                subs = {e["name"] for e in entries if "/" in e.get("name", "")}
                found: dict[str, ApiResource] = {}
                for e in entries:
                    plural = e.get("name", "")
                    if not plural or "/" in plural:
                        continue
                    found[plural] = ApiResource(
                        name,
                        version,
                        plural,
                        e.get("kind", ""),
                        bool(e.get("namespaced")),
                        frozenset(e.get("verbs") or ()),
                        f"{plural}/status" in subs,
                    )
                resources[(name, version)] = found
        return cls(resources, preferred)

    def get(self, group: str, version: str, resource: str) -> ApiResource | None:
        return self.resources.get((group, version), {}).get(resource)

    def in_group_version(self, group: str, version: str) -> list[ApiResource]:
        return sorted(self.resources.get((group, version), {}).values(), key=str)

    def by_kind(self, group: str, version: str, kind: str) -> ApiResource | None:
        return next((r for r in self.in_group_version(group, version) if r.kind == kind), None)

    def preferred_resources(self) -> list[ApiResource]:
        """Every resource once, in its group's preferred version where that serves it."""
        out: dict[tuple[str, str], ApiResource] = {}
        for group in sorted({g for g, _ in self.resources}):
            for version in self.versions_of(group):
                for res in self.in_group_version(group, version):
                    out.setdefault((group, res.resource), res)
        return list(out.values())

    def versions_of(self, group: str) -> list[str]:
        """The group's versions, preferred first."""
        versions = sorted(v for g, v in self.resources if g == group)
        pref = self.preferred.get(group)
        if pref in versions:
            versions.remove(pref)
            versions.insert(0, pref)
        return versions


# -- lanes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lane:
    """One resource synced in one direction, and which of its objects are selected.

    `source` is where objects come from (mailbox for "down", edge for "up"), `target` where
    copies go. For downsync, `namespaces` (namespaced resources) and `names` (None = all)
    select; `ensure` lists Namespaces to create even without a mailbox original. For upsync
    the `upsync` rules select.
    """

    direction: Direction
    source: ApiResource
    target: ApiResource
    namespaces: frozenset[str] = frozenset()
    names: frozenset[str] | None = None
    ensure: frozenset[str] = frozenset()
    upsync: tuple[UpsyncSet, ...] = ()
    # (namespace, name) pairs from EdgeSyncConfigs; `*` in either place matches all.
    objects: frozenset[tuple[str, str]] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.direction}|{self.source}"

    @property
    def namespaced(self) -> bool:
        return self.source.namespaced

    @property
    def is_namespaces(self) -> bool:
        return self.source.group == "" and self.source.resource == "namespaces"

    def selects(self, namespace: str, name: str) -> bool:
        """Whether the object (namespace, name) of the source resource is to be synced."""
        if self.picked(namespace, name):
            return True
        if self.direction == "up":
            src = self.source
            return any(
                s.matches(src.group, src.resource, namespace, name, src.namespaced)
                for s in self.upsync
            )
        if name in self.ensure:
            return True
        if self.namespaced:
            return namespace in self.namespaces and (self.names is None or name in self.names)
        return self.names is None or name in self.names

    def picked(self, namespace: str, name: str) -> bool:
        return any(ns in (WILDCARD, namespace) and n in (WILDCARD, name) for ns, n in self.objects)

    def explicitly_selects(self, name: str) -> bool:
        """For cluster-scoped lanes: selected by name (not merely ensured)."""
        return self.names is None or name in self.names or self.picked("", name)


@dataclass(frozen=True)
class Plan:
    """The lanes to run (by id) and what is waiting for discovery."""

    lanes: Mapping[str, Lane] = field(default_factory=dict)
    pending: tuple[str, ...] = ()


NAMESPACES = ResourceRef("", "v1", "namespaces")


def resolve(spec: SyncSpec, mailbox: Discovery, edge: Discovery) -> Plan:
    """The lanes that `spec` asks for, given what each side serves."""
    lanes: dict[str, Lane] = {}
    pending: list[str] = []

    def expand(ref: ResourceRef, namespaced: bool) -> list[ApiResource]:
        if ref.resource == WILDCARD:
            return [
                r
                for r in mailbox.in_group_version(ref.group, ref.version)
                if r.namespaced == namespaced and READ_VERBS <= r.verbs
            ]
        found = mailbox.get(ref.group, ref.version, ref.resource)
        if found is None:
            pending.append(f"mailbox does not serve {_ref_text(ref)}")
            return []
        if found.namespaced != namespaced:
            scope = "namespaced" if found.namespaced else "cluster-scoped"
            pending.append(f"{_ref_text(ref)} is {scope}; ignored in the other scope's list")
            return []
        return [found]

    def add_down(
        source: ApiResource, namespaces: frozenset[str], names: frozenset[str] | None
    ) -> None:
        target = edge.get(source.group, source.version, source.resource)
        if target is None or not WRITE_VERBS <= target.verbs:
            pending.append(f"edge does not serve {source} yet")
            return
        other = next(
            (
                lane
                for lane in lanes.values()
                if lane.direction == "down"
                and (lane.source.group, lane.source.resource) == (source.group, source.resource)
                and lane.source.version != source.version
            ),
            None,
        )
        if other is not None:
            # Two versions of one resource would overwrite each other's copies.
            pending.append(f"{source} ignored: {other.source} is already synced")
            return
        lane = Lane("down", source, target, namespaces=namespaces, names=names)
        old = lanes.get(lane.id)
        if old is not None:
            merged = None if old.names is None or names is None else old.names | names
            lane = Lane("down", source, target, old.namespaces | namespaces, merged)
        lanes[lane.id] = lane

    if spec.namespaces:
        for ref in sorted(spec.namespaced):
            for res in expand(ref, True):
                add_down(res, spec.namespaces, None)
    for ref, names in sorted(spec.cluster.items(), key=lambda kv: kv[0]):
        for res in expand(ref, False):
            add_down(res, frozenset(), names)
    if spec.namespaces:
        source = mailbox.get(*_astuple(NAMESPACES))
        target = edge.get(*_astuple(NAMESPACES))
        if source is not None and target is not None:
            key = f"down|{source}"
            old = lanes.get(key)
            # clusterScope may also select namespaces; none selected there = none synced.
            names = frozenset() if old is None else old.names
            lanes[key] = Lane("down", source, target, names=names, ensure=spec.namespaces)

    for rule in spec.upsync:
        group = rule.api_group or ""
        for version in edge.versions_of(group):
            for res in edge.in_group_version(group, version):
                if not READ_VERBS <= res.verbs:
                    continue
                if WILDCARD not in rule.resources and res.resource not in rule.resources:
                    continue
                lane_id = f"up|{res}"
                existing = [
                    lane
                    for lane in lanes.values()
                    if lane.direction == "up"
                    and lane.source.group == group
                    and lane.source.resource == res.resource
                ]
                if existing:
                    lane = existing[0]
                    if rule not in lane.upsync:
                        lanes[lane.id] = Lane(
                            "up", lane.source, lane.target, upsync=(*lane.upsync, rule)
                        )
                    continue
                target = _upsync_target(mailbox, group, res)
                if target is None:
                    pending.append(f"mailbox does not serve {group}/{res.resource} for upsync")
                    continue
                lanes[lane_id] = Lane("up", res, target, upsync=(rule,))
    for pick in spec.picks:
        _add_pick(lanes, pending, pick, mailbox, edge)
    return Plan(lanes, tuple(sorted(set(pending))))


def _add_pick(
    lanes: dict[str, Lane],
    pending: list[str],
    pick: ObjectPick,
    mailbox: Discovery,
    edge: Discovery,
) -> None:
    source_side, target_side = (mailbox, edge) if pick.direction == "down" else (edge, mailbox)
    res = source_side.by_kind(pick.group, pick.version, pick.kind)
    gv = f"{pick.group}/{pick.version}" if pick.group else pick.version
    if res is None:
        side = "mailbox" if pick.direction == "down" else "edge"
        pending.append(f"{side} does not serve kind {pick.kind} in {gv}")
        return
    obj = (pick.namespace if res.namespaced else "", pick.name)
    for lane_id, lane in lanes.items():
        same = (lane.source.group, lane.source.resource) == (res.group, res.resource)
        if lane.direction == pick.direction and same:
            lanes[lane_id] = replace(lane, objects=lane.objects | {obj})
            return
    if pick.direction == "down":
        target = target_side.get(res.group, res.version, res.resource)
        if target is not None and not WRITE_VERBS <= target.verbs:
            target = None
    else:
        target = _upsync_target(target_side, res.group, res)
    if target is None:
        side = "edge" if pick.direction == "down" else "mailbox"
        pending.append(f"{side} does not serve {res} yet")
        return
    lane = Lane(pick.direction, res, target, names=frozenset(), objects=frozenset({obj}))
    lanes[lane.id] = lane


def _upsync_target(mailbox: Discovery, group: str, res: ApiResource) -> ApiResource | None:
    same = mailbox.get(group, res.version, res.resource)
    if same is not None and WRITE_VERBS <= same.verbs:
        return same
    for version in mailbox.versions_of(group):
        other = mailbox.get(group, version, res.resource)
        if other is not None and WRITE_VERBS <= other.verbs:
            return other
    return None


def _astuple(ref: ResourceRef) -> tuple[str, str, str]:
    return ref.group, ref.version, ref.resource


def _ref_text(ref: ResourceRef) -> str:
    gv = f"{ref.group}/{ref.version}" if ref.group else ref.version
    return f"{gv}/{ref.resource}"
