"""The edge scheduler's decisions: an EdgePlacement's "where" resolved from cached inventory.

Everything here is pure (no I/O): inputs are raw objects as informer caches hold them
(EdgePlacements, Locations, SyncTargets, SinglePlacementSlices), outputs are the desired
SinglePlacementSlice and EdgePlacement status. `edgemc.controllers.scheduler` reads the
caches, calls these functions and makes the writes.

Resolution rules (spec 5.2, with the original's flaws fixed):

* A Location is selected iff its labels match ANY of the placement's
  `spec.locationSelectors` (Kubernetes label-selector semantics). An empty or absent list
  selects no Location. An invalid selector selects nothing and is reported, while the valid
  ones still apply: dropping an alternative can only narrow the result, so a typo never
  sends a workload anywhere extra.
* A selected Location contributes one destination per SyncTarget *in its own logical
  cluster* whose labels match its `spec.instanceSelector`. An absent instanceSelector is
  kcp's schema default `{}` (every SyncTarget); an invalid one selects none and is reported.
* Destinations are unique and sorted by (cluster, locationName, syncTargetName,
  syncTargetUID), so equal inputs give identical slices and nothing is rewritten needlessly.

The status explains the result through its `Ready` condition: `Resolved` (True) or, False,
`InvalidSelector`, `NoLocationSelectors`, `NoLocationMatched`, `LocationSelectsNoSyncTarget`.
`InvalidSelector` also covers the "what" selectors (`spec.namespaceSelector`,
`spec.nonNamespacedObjects[].labelSelectors`), which the placement translator reads as
selecting nothing: the scheduler is where every placement is read, so it reports them too.
The message names each invalid selector with its parse error, at most `_MESSAGE_ERRORS` of
them and each cut to `_MESSAGE_ERROR_CHARS` (a placement may hold thousands of selectors
whose values are of any length; the status must stay far below the request size limit).

Lookups go through an `Inventory`, which may return any superset of the objects a selector
can match (the resolver re-checks every candidate). `StoreInventory` narrows candidates with
the label indexes defined here, so resolving one placement costs about the number of
Locations it could match, not the size of the whole inventory.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from edgemc.apis import edge
from edgemc.apis.meta import (
    Condition,
    Operator,
    Selector,
    SelectorError,
    selector_from_label_selector,
    set_condition,
)
from edgemc.runtime.cache import BY_CLUSTER, Obj, Store, cluster_of, make_key

REASON_RESOLVED = "Resolved"
REASON_INVALID_SELECTOR = "InvalidSelector"
REASON_NO_LOCATION_SELECTORS = "NoLocationSelectors"
REASON_NO_LOCATION_MATCHED = "NoLocationMatched"
REASON_NO_SYNC_TARGET = "LocationSelectsNoSyncTarget"

# Names of the cache indexes the scheduler installs (values described at each function).
PLACEMENT_SELECTORS = "placement-selectors"
LOCATION_LABELS = "location-labels"
LOCATION_INSTANCES = "location-instance-selector"
SYNC_TARGET_LABELS = "synctarget-labels"
SLICE_LOCATIONS = "slice-locations"
SLICE_SYNC_TARGETS = "slice-synctargets"

_ANY = "*"
# At most this many Location names are spelled out in a condition message.
_MESSAGE_NAMES = 5
# At most this many selector errors are spelled out in a condition message, each cut to
# this length: together about 2.5 KB, whatever the size of the placement.
_MESSAGE_ERRORS = 5
_MESSAGE_ERROR_CHARS = 500
# Compiled selectors of this many placements are kept (see `compiled_selectors`). An entry
# costs about what the placement's selectors cost in the informer cache.
_COMPILED_PLACEMENTS = 1024
_EQUALITY_OPERATORS = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN})


# --- Object accessors --------------------------------------------------------------------------


def name_of(obj: Obj) -> str:
    return obj["metadata"]["name"]


def labels_of(obj: Obj) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


# --- Selectors ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _compile(text: bytes) -> Selector | str:
    """The compiled selector, or the error message (an exception object is not cached: its
    traceback would grow with every re-raise)."""
    try:
        return selector_from_label_selector(orjson.loads(text))
    except SelectorError as err:
        return str(err)


def compile_selector(raw: Any) -> Selector:
    """Compile a structured label selector; raises SelectorError if it is invalid.

    Compiled selectors are memoised by content: every cache event and every reconcile
    compiles the same few selectors again.
    """
    if not isinstance(raw, Mapping):
        raise SelectorError(f"a label selector must be an object, not {raw!r}")
    compiled = _compile(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS))
    if isinstance(compiled, str):
        raise SelectorError(compiled)
    return compiled


@dataclass(frozen=True)
class CompiledSelectors:
    """An EdgePlacement's selectors, compiled: the valid location selectors, and one message
    per invalid location selector and per invalid "what" selector (`namespaceSelector`,
    `nonNamespacedObjects[].labelSelectors`)."""

    location: tuple[Selector, ...]
    location_errors: tuple[str, ...]
    what_errors: tuple[str, ...]


_compiled: OrderedDict[bytes, CompiledSelectors] = OrderedDict()


def compiled_selectors(placement: Obj) -> CompiledSelectors:
    """The placement's compiled selectors, memoised by a digest of the selectors' content.

    Every event of a placement (its status writes included) and every Location event
    evaluates them again, and a placement may hold thousands of selectors: compiling them
    each time would hold the event loop for a second or more, where the digest costs a
    few milliseconds. The least recently used entries are dropped beyond
    `_COMPILED_PLACEMENTS`.
    """
    spec = placement.get("spec") or {}
    parts = [
        spec.get(k) for k in ("locationSelectors", "namespaceSelector", "nonNamespacedObjects")
    ]
    key = hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
    if (hit := _compiled.get(key)) is not None:
        _compiled.move_to_end(key)
        return hit
    selectors, errors = _location_selectors(placement)
    result = CompiledSelectors(tuple(selectors), tuple(errors), tuple(_what_errors(placement)))
    _compiled[key] = result
    if len(_compiled) > _COMPILED_PLACEMENTS:
        _compiled.popitem(last=False)
    return result


def location_selectors(placement: Obj) -> tuple[tuple[Selector, ...], tuple[str, ...]]:
    """The placement's valid location selectors and one message per invalid one.

    A null entry is a nil selector, which selects nothing without being an error.
    """
    compiled = compiled_selectors(placement)
    return compiled.location, compiled.location_errors


def _location_selectors(placement: Obj) -> tuple[list[Selector], list[str]]:
    selectors: list[Selector] = []
    errors: list[str] = []
    for i, raw in enumerate((placement.get("spec") or {}).get("locationSelectors") or ()):
        if raw is None:
            continue
        try:
            selectors.append(compile_selector(raw))
        except SelectorError as err:
            errors.append(f"spec.locationSelectors[{i}]: {err}")
    return selectors, errors


def _what_errors(placement: Obj) -> list[str]:
    spec = placement.get("spec") or {}
    raw: list[tuple[str, Any]] = [("spec.namespaceSelector", spec.get("namespaceSelector"))]
    for i, ref in enumerate(spec.get("nonNamespacedObjects") or ()):
        selectors = ref.get("labelSelectors") if isinstance(ref, Mapping) else None
        for j, sel in enumerate(selectors or ()):
            raw.append((f"spec.nonNamespacedObjects[{i}].labelSelectors[{j}]", sel))
    errors: list[str] = []
    for path, sel in raw:
        if sel is None:
            continue  # absent or nil: no error
        try:
            compile_selector(sel)
        except SelectorError as err:
            errors.append(f"{path}: {err}")
    return errors


def instance_selector(location: Obj) -> Selector:
    """The Location's SyncTarget selector (absent = `{}`); raises SelectorError if invalid."""
    raw = (location.get("spec") or {}).get("instanceSelector")
    return compile_selector({} if raw is None else raw)


def placement_selects(placement: Obj, labels: Mapping[str, str]) -> bool:
    """Whether a Location with these labels is selected by the placement."""
    return any(sel.matches(labels) for sel in location_selectors(placement)[0])


def equality_values(selector: Selector) -> list[str] | None:
    """`key=value` words one of which every label set the selector matches must contain.

    Taken from the selector's first `=`, `==` or `in` requirement; None when it has none
    (then only a full scan finds its matches); [] when it matches nothing.
    """
    if selector.matches_nothing:
        return []
    for req in selector.requirements:
        if req.operator in _EQUALITY_OPERATORS:
            return [f"{req.key}={value}" for value in req.values]
    return None


# --- Index functions (for informer stores) -----------------------------------------------------


def placement_selector_index(placement: Obj) -> list[str]:
    """PLACEMENT_SELECTORS: for each valid Location selector of a placement, the `key=value`
    words of `equality_values`, or `*` when it has none (it may match any labels)."""
    words: set[str] = set()
    for selector in location_selectors(placement)[0]:
        values = equality_values(selector)
        words.update([_ANY] if values is None else values)
    return sorted(words)


def location_label_index(location: Obj) -> list[str]:
    """LOCATION_LABELS: `key=value` for every label of a Location (across all clusters)."""
    return [f"{k}={v}" for k, v in labels_of(location).items()]


def location_instance_index(location: Obj) -> list[str]:
    """LOCATION_INSTANCES: `<cluster>|key=value` words a SyncTarget needs to be selected by
    this Location (see `equality_values`), or `<cluster>|*` if it has none."""
    cluster = cluster_of(location)
    try:
        values = equality_values(instance_selector(location))
    except SelectorError:
        return []
    if values is None:
        return [f"{cluster}|{_ANY}"]
    return [f"{cluster}|{value}" for value in values]


def sync_target_label_index(sync_target: Obj) -> list[str]:
    """SYNC_TARGET_LABELS: `<cluster>|key=value` for every label of a SyncTarget."""
    cluster = cluster_of(sync_target)
    return [f"{cluster}|{k}={v}" for k, v in labels_of(sync_target).items()]


def _destinations_of(slice_obj: Obj) -> list[Mapping[str, Any]]:
    return [d for d in slice_obj.get("destinations") or () if isinstance(d, Mapping)]


def slice_location_index(slice_obj: Obj) -> list[str]:
    """SLICE_LOCATIONS: `<cluster>|<locationName>` of every destination of a slice."""
    return sorted(
        {f"{d.get('cluster')}|{d.get('locationName')}" for d in _destinations_of(slice_obj)}
    )


def slice_sync_target_index(slice_obj: Obj) -> list[str]:
    """SLICE_SYNC_TARGETS: `<cluster>|<syncTargetName>` of every destination of a slice."""
    return sorted(
        {f"{d.get('cluster')}|{d.get('syncTargetName')}" for d in _destinations_of(slice_obj)}
    )


# --- Inventory -----------------------------------------------------------------------------------


class Inventory(Protocol):
    """Where the resolver finds Locations and SyncTargets (supersets are fine)."""

    def candidate_locations(self, selector: Selector) -> Iterable[Obj]:
        """Locations, among them every one whose labels `selector` matches."""
        ...

    def candidate_sync_targets(self, cluster: str, selector: Selector) -> Iterable[Obj]:
        """SyncTargets of `cluster`, among them every one whose labels `selector` matches."""
        ...


class StoreInventory:
    """An `Inventory` over informer stores indexed with the functions above.

    The Location store needs the LOCATION_LABELS index, the SyncTarget store
    SYNC_TARGET_LABELS (and LOCATION_INSTANCES for `locations_selecting`).
    """

    def __init__(self, locations: Store, sync_targets: Store) -> None:
        self.locations = locations
        self.sync_targets = sync_targets

    def candidate_locations(self, selector: Selector) -> Iterable[Obj]:
        values = equality_values(selector)
        if values is None:
            return self.locations.list()
        return _union(self.locations, LOCATION_LABELS, values)

    def candidate_sync_targets(self, cluster: str, selector: Selector) -> Iterable[Obj]:
        values = equality_values(selector)
        if values is None:
            return self.sync_targets.by_index(BY_CLUSTER, cluster)
        return _union(self.sync_targets, SYNC_TARGET_LABELS, [f"{cluster}|{v}" for v in values])

    def locations_selecting(self, sync_target: Obj) -> list[Obj]:
        """The Locations (of the SyncTarget's cluster) whose instanceSelector matches it."""
        cluster = cluster_of(sync_target)
        labels = labels_of(sync_target)
        words = [f"{cluster}|{_ANY}"] + [f"{cluster}|{k}={v}" for k, v in labels.items()]
        found = []
        for location in _union(self.locations, LOCATION_INSTANCES, words):
            try:
                if instance_selector(location).matches(labels):
                    found.append(location)
            except SelectorError:
                continue
        return found


def _union(store: Store, index: str, values: Iterable[str]) -> list[Obj]:
    keys: set[str] = set()
    for value in values:
        keys.update(store.index_keys(index, value))
    return [obj for key in sorted(keys) if (obj := store.get(key)) is not None]


# --- Resolution --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """The resolved "where" of one EdgePlacement and how to explain it."""

    destinations: tuple[edge.Destination, ...]
    matching_location_count: int
    reason: str
    message: str

    @property
    def ready(self) -> bool:
        return self.reason == REASON_RESOLVED

    def destination_dicts(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.destinations]


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_MESSAGE_NAMES])
    more = len(items) - _MESSAGE_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _errors(items: list[str]) -> str:
    shown = "; ".join(
        e if len(e) <= _MESSAGE_ERROR_CHARS else e[: _MESSAGE_ERROR_CHARS - 3] + "..."
        for e in items[:_MESSAGE_ERRORS]
    )
    more = len(items) - _MESSAGE_ERRORS
    return f"{shown}; and {more} more invalid selector(s)" if more > 0 else shown


def resolve(placement: Obj, inventory: Inventory) -> Resolution:
    """Resolve the placement's Location selectors into destinations (module docstring rules)."""
    raw_selectors = (placement.get("spec") or {}).get("locationSelectors") or []
    compiled = compiled_selectors(placement)
    selectors, errors = compiled.location, [*compiled.location_errors, *compiled.what_errors]
    matched: dict[tuple[str, str], Obj] = {}
    for selector in selectors:
        for location in inventory.candidate_locations(selector):
            if selector.matches(labels_of(location)):
                matched[(cluster_of(location), name_of(location))] = location
    found: set[tuple[str, str, str, str]] = set()
    idle: list[str] = []
    for (cluster, name), location in sorted(matched.items()):
        try:
            selector = instance_selector(location)
        except SelectorError as err:
            idle.append(f"{make_key(cluster, '', name)} (invalid spec.instanceSelector: {err})")
            continue
        before = len(found)
        for target in inventory.candidate_sync_targets(cluster, selector):
            if cluster_of(target) == cluster and selector.matches(labels_of(target)):
                meta = target["metadata"]
                found.add((cluster, name, meta["name"], meta.get("uid", "")))
        if len(found) == before:
            idle.append(make_key(cluster, "", name))
    destinations = tuple(
        edge.Destination(
            cluster=cluster, location_name=loc, sync_target_name=st, sync_target_uid=uid
        )
        for cluster, loc, st, uid in sorted(found)
    )
    count = len(matched)
    summary = f"{len(destinations)} destination(s) from {count} matching Location(s)"
    if errors:
        reason, message = REASON_INVALID_SELECTOR, f"{_errors(errors)}; {summary}"
    elif not raw_selectors:
        reason = REASON_NO_LOCATION_SELECTORS
        message = "spec.locationSelectors is empty, so no Location is selected"
    elif not matched:
        reason, message = REASON_NO_LOCATION_MATCHED, "no Location matches spec.locationSelectors"
    elif not destinations:
        reason = REASON_NO_SYNC_TARGET
        message = f"the {count} matching Location(s) select no SyncTarget: {_names(idle)}"
    else:
        reason, message = REASON_RESOLVED, summary
        if idle:
            message += f"; Location(s) selecting no SyncTarget: {_names(idle)}"
    return Resolution(destinations, count, reason, message)


# --- Desired objects ---------------------------------------------------------------------------


def owner_reference(placement: Obj) -> dict[str, str]:
    """The ownerReference a slice carries to its EdgePlacement (the seed's four fields)."""
    meta = placement["metadata"]
    return {
        "apiVersion": edge.API_VERSION,
        "kind": "EdgePlacement",
        "name": meta["name"],
        "uid": meta.get("uid", ""),
    }


def _is_placement_ref(ref: Any) -> bool:
    return (
        isinstance(ref, Mapping)
        and ref.get("kind") == "EdgePlacement"
        and str(ref.get("apiVersion", "")).startswith(f"{edge.GROUP}/")
    )


def owned_by_placement(slice_obj: Obj) -> bool:
    """Whether a slice is owner-referenced to the EdgePlacement of its own name."""
    name = name_of(slice_obj)
    refs = slice_obj.get("metadata", {}).get("ownerReferences") or ()
    return any(_is_placement_ref(ref) and ref.get("name") == name for ref in refs)


def desired_slice(placement: Obj, resolution: Resolution) -> dict[str, Any]:
    """The SinglePlacementSlice to create for a placement that has none."""
    return {
        "apiVersion": edge.API_VERSION,
        "kind": "SinglePlacementSlice",
        "metadata": {"name": name_of(placement), "ownerReferences": [owner_reference(placement)]},
        "destinations": resolution.destination_dicts(),
    }


def updated_slice(current: Obj, placement: Obj, resolution: Resolution) -> dict[str, Any] | None:
    """`current` with the desired destinations and owner reference, or None if it has them.

    Owner references to other EdgePlacements (e.g. an earlier one of the same name) are
    replaced; references to anything else are kept.
    """
    destinations = resolution.destination_dicts()
    meta = current.get("metadata", {})
    refs = list(meta.get("ownerReferences") or ())
    wanted = [ref for ref in refs if not _is_placement_ref(ref)] + [owner_reference(placement)]
    if current.get("destinations") == destinations and refs == wanted:
        return None
    return {
        **current,
        "metadata": {**meta, "ownerReferences": wanted},
        "destinations": destinations,
    }


def desired_status(placement: Obj, resolution: Resolution, now: str) -> dict[str, Any] | None:
    """The placement's new `status`, or None if the current one already says the same.

    The Ready condition keeps its lastTransitionTime unless its status flips (then `now`);
    conditions of other types are kept; malformed entries are dropped.
    """
    current = placement.get("status") or {}
    generation = placement.get("metadata", {}).get("generation") or 0
    conditions: list[Condition] = []
    for raw in current.get("conditions") or ():
        try:
            conditions.append(Condition.model_validate(raw))
        except ValueError:
            continue
    ready = Condition(
        type=edge.CONDITION_READY,
        status="True" if resolution.ready else "False",
        reason=resolution.reason,
        message=resolution.message,
        observed_generation=generation,
    )
    set_condition(conditions, ready, now)
    status = {
        **current,
        "specGeneration": generation,
        "matchingLocationCount": resolution.matching_location_count,
        "conditions": [c.to_dict() for c in conditions],
    }
    return None if status == current else status


# --- Event -> placement mapping ----------------------------------------------------------------


def placements_selecting(labels: Mapping[str, str], placements: Store) -> list[Obj]:
    """The placements (in a store with the PLACEMENT_SELECTORS index) whose Location
    selectors match a Location with these labels."""
    words = [_ANY] + [f"{k}={v}" for k, v in labels.items()]
    candidates = _union(placements, PLACEMENT_SELECTORS, words)
    return [p for p in candidates if placement_selects(p, labels)]
