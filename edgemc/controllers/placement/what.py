"""What resolution: which namespaces and cluster-scoped objects an EdgePlacement selects.

Inputs are what a workload workspace holds (its Namespaces, candidate cluster-scoped
objects, the API resources its discovery serves); the output is a `PlacementWhat`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edgemc.apis.edge import EdgePlacement, NonNamespacedObjectReferenceSet
from edgemc.apis.meta import LabelSelector, SelectorError, selector_from_label_selector
from edgemc.controllers.placement.classes import (
    GroupResource,
    ResourceClass,
    classify,
    goes_to_edge,
    goes_to_mailbox,
)

NAMESPACES: GroupResource = ("", "namespaces")
REQUIRED_VERBS = frozenset({"list", "watch"})


@dataclass(frozen=True)
class ApiResource:
    """One resource a workspace serves, at its preferred version."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str] = REQUIRED_VERBS

    @property
    def gr(self) -> GroupResource:
        return (self.group, self.resource)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def listable(self) -> bool:
        return REQUIRED_VERBS <= self.verbs


def parse_discovery(
    groups: Mapping[str, Any], resource_lists: Mapping[str, Mapping[str, Any]]
) -> dict[GroupResource, ApiResource]:
    """The resources of a workspace at each group's preferred version.

    `groups` is an APIGroupList (core group included, as `Client.server_groups` gives it),
    `resource_lists` maps a group-version to its APIResourceList. Subresources are skipped.
    """
    out: dict[GroupResource, ApiResource] = {}
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if not preferred and group.get("versions"):
            preferred = group["versions"][0]["groupVersion"]
        doc = resource_lists.get(preferred or "")
        if doc is None:
            continue
        name = group.get("name", "")
        version = preferred.rpartition("/")[2]
        for res in doc.get("resources") or []:
            if "/" in res.get("name", ""):
                continue
            api = ApiResource(
                group=name,
                version=version,
                resource=res["name"],
                kind=res.get("kind", ""),
                namespaced=bool(res.get("namespaced")),
                verbs=frozenset(res.get("verbs") or ()),
            )
            out.setdefault(api.gr, api)
    return out


@dataclass(frozen=True)
class ClusterObject:
    """A cluster-scoped object of a workload workspace: enough to match it."""

    group: str
    resource: str
    name: str
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, group: str, resource: str, obj: Mapping[str, Any]) -> ClusterObject:
        meta = obj.get("metadata") or {}
        labels = tuple(sorted((meta.get("labels") or {}).items()))
        return cls(group, resource, meta.get("name", ""), labels)


@dataclass(frozen=True)
class ClusterPart:
    """A cluster-scoped object to copy: (group, resource, name) at a version.

    `for_edge` is False for mailbox-only objects (APIBindings) and for Namespaces that are
    selected only to hold namespaced objects (their own details are not synced).
    """

    group: str
    version: str
    resource: str
    name: str
    for_edge: bool


@dataclass(frozen=True)
class PlacementWhat:
    """The resolved "what" of one EdgePlacement."""

    namespaces: frozenset[str]
    cluster_parts: frozenset[ClusterPart]


def cluster_resources_named(
    placement: EdgePlacement, resources: Mapping[GroupResource, ApiResource]
) -> set[GroupResource]:
    """The cluster-scoped resources whose objects `placement` may select by name/labels."""
    out: set[GroupResource] = set()
    for ref in placement.spec.non_namespaced_objects or ():
        group = ref.api_group or ""
        for api in resources.values():
            if api.group != group or api.namespaced or not api.listable:
                continue
            if ref.resources == ["*"] or api.resource in ref.resources:
                if goes_to_mailbox(api.group, api.resource) and api.gr != NAMESPACES:
                    out.add(api.gr)
    return out


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """metav1 semantics, with absent = everything (a namespaceSelector's zero value).

    An invalid selector matches nothing (the translator logs it where it reads placements).
    """
    if selector is None:
        return True
    try:
        return selector_from_label_selector(selector).matches(labels)
    except SelectorError:
        return False


def ref_matches(
    ref: NonNamespacedObjectReferenceSet,
    group: str,
    resource: str,
    name: str,
    labels: Mapping[str, str],
) -> bool:
    """Whether a cluster-scoped object is in a `nonNamespacedObjects` entry (spec 2.3)."""
    if (ref.api_group or "") != group:
        return False
    if not (ref.resources == ["*"] or resource in ref.resources):
        return False
    names = ref.resource_names or []
    if names == ["*"] or name in names:
        return True
    return any(
        sel is not None and selector_matches(sel, labels) for sel in ref.label_selectors or ()
    )


def unsupported_references(placement: EdgePlacement) -> list[str]:
    """`resource.group` names in `nonNamespacedObjects` that cannot be propagated at all."""
    return sorted(
        f"{resource}.{ref.api_group}" if ref.api_group else resource
        for ref in placement.spec.non_namespaced_objects or ()
        for resource in ref.resources
        if classify(ref.api_group or "", resource) is ResourceClass.NOT_SUPPORTED
    )


def resolve_what(
    placement: EdgePlacement,
    namespaces: Mapping[str, Mapping[str, str]],
    cluster_objects: Iterable[ClusterObject],
    resources: Mapping[GroupResource, ApiResource],
) -> PlacementWhat:
    """Namespaces matching the namespaceSelector, plus matching cluster-scoped objects.

    A Namespace matched by the selector and also by `nonNamespacedObjects` is copied with
    its own details (a `for_edge` part); one matched only by `nonNamespacedObjects` is not
    selected at all (spec 6.3).
    """
    spec = placement.spec
    refs = spec.non_namespaced_objects or []
    selector = spec.namespace_selector
    chosen = frozenset(
        name for name, labels in namespaces.items() if selector_matches(selector, labels)
    )
    parts: set[ClusterPart] = set()
    ns_api = resources.get(NAMESPACES)
    ns_version = ns_api.version if ns_api else "v1"
    for name in chosen:
        labels = dict(namespaces[name])
        if any(ref_matches(ref, "", "namespaces", name, labels) for ref in refs):
            parts.add(ClusterPart("", ns_version, "namespaces", name, True))
    for obj in cluster_objects:
        api = resources.get((obj.group, obj.resource))
        if api is None or api.namespaced or api.gr == NAMESPACES:
            continue
        if not goes_to_mailbox(api.group, api.resource):
            continue
        labels = dict(obj.labels)
        if any(ref_matches(ref, obj.group, obj.resource, obj.name, labels) for ref in refs):
            for_edge = goes_to_edge(api.group, api.resource)
            parts.add(ClusterPart(api.group, api.version, api.resource, obj.name, for_edge))
    return PlacementWhat(chosen, frozenset(parts))
