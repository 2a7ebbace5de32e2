"""Which resource types a logical cluster serves: built-ins, CRDs and (in kcp mode) more.

Types come from an ordered list of providers; for one group/resource the first provider wins
(kcp's rule: built-in, then system CRDs, then APIBindings, then the cluster's own CRDs). The
merged set of each cluster is cached and recomputed when a provider says its input changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from edgemc.embedded.apiserver.resources import ResourceType

TypeProvider = Callable[[str], Iterable[ResourceType]]


@dataclass
class TypeSet:
    """The resource types served in one place, indexed for routing and discovery."""

    types: list[ResourceType] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_gr: dict[tuple[str, str], ResourceType] = {}
        self._by_gk: dict[tuple[str, str], ResourceType] = {}
        for rt in self.types:
            self._by_gvr.setdefault((rt.group, rt.version, rt.resource), rt)
            self._by_gr.setdefault((rt.group, rt.resource), rt)
            self._by_gk.setdefault((rt.group, rt.kind), rt)

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, resource))

    def by_group_resource(self, group: str, resource: str) -> ResourceType | None:
        return self._by_gr.get((group, resource))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_gk.get((group, kind))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.types)

    def group_versions(self) -> dict[str, list[str]]:
        """Group -> served versions, in first-seen order (the first is preferred)."""
        out: dict[str, list[str]] = {}
        for rt in self.types:
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out


def merge_types(sources: Iterable[Iterable[ResourceType]]) -> TypeSet:
    seen: set[tuple[str, str]] = set()
    served: set[tuple[str, str, str]] = set()
    merged: list[ResourceType] = []
    for source in sources:
        winners: set[tuple[str, str]] = set()
        for rt in source:
            gr = (rt.group, rt.resource)
            if gr in seen:
                continue
            gvr = (rt.group, rt.version, rt.resource)
            if gvr in served:
                continue
            winners.add(gr)
            served.add(gvr)
            merged.append(rt)
        seen |= winners
    return TypeSet(merged)


class Registry:
    """Per-cluster merged type sets from ordered providers, cached until invalidated."""

    def __init__(self, providers: Iterable[TypeProvider] = ()) -> None:
        self._providers: list[TypeProvider] = list(providers)
        self._cache: dict[str, TypeSet] = {}
        self._listeners: list[Callable[[str | None], None]] = []

    def add_provider(self, provider: TypeProvider, index: int | None = None) -> None:
        if index is None:
            self._providers.append(provider)
        else:
            self._providers.insert(index, provider)
        self.invalidate()

    def types_for(self, cluster: str) -> TypeSet:
        cached = self._cache.get(cluster)
        if cached is None:
            cached = merge_types(provider(cluster) for provider in self._providers)
            self._cache[cluster] = cached
        return cached

    def invalidate(self, cluster: str | None = None) -> None:
        """Forget cached types of one cluster (or all); called when CRDs or bindings change."""
        if cluster is None:
            self._cache.clear()
        else:
            self._cache.pop(cluster, None)
        for listener in self._listeners:
            listener(cluster)

    def on_invalidate(self, listener: Callable[[str | None], None]) -> None:
        self._listeners.append(listener)
