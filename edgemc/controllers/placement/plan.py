"""The join: per mailbox, what arrives from which workload workspace, and its SyncerConfig.

`plan_mailboxes` turns a snapshot of every workload workspace (placements, their resolved
destinations, namespaces, discovered resources, candidate cluster-scoped objects) into one
`MailboxPlan` per mailbox workspace name; `syncer_config_spec` renders a plan as the spec of
SyncerConfig `the-one` (spec 6.5) in a stable order. Both are pure, so the result depends only
on the snapshot, never on the order in which the events that built it arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from edgemc.apis.edge import Destination, EdgePlacement
from edgemc.controllers.placement.classes import GroupResource, goes_to_edge, goes_to_mailbox
from edgemc.controllers.placement.what import (
    NAMESPACES,
    ApiResource,
    ClusterObject,
    ClusterPart,
    resolve_what,
)

PlacementId = tuple[str, str]
"""(workload workspace logical cluster, EdgePlacement name)."""


@dataclass
class WorkloadInputs:
    """What the translator knows of one workload workspace."""

    cluster: str
    placements: list[EdgePlacement]
    # EdgePlacement name -> destinations of its SinglePlacementSlice (absent = none yet).
    destinations: Mapping[str, list[Destination]]
    namespaces: Mapping[str, Mapping[str, str]]
    resources: Mapping[GroupResource, ApiResource]
    cluster_objects: list[ClusterObject] = field(default_factory=list)


@dataclass
class MailboxPlan:
    """Everything one mailbox workspace should receive."""

    # namespace -> workload workspaces that send it
    namespaces: dict[str, set[str]] = field(default_factory=dict)
    # namespaced resources to downsync (GroupResource -> apiVersion), from the discovery of
    # every workload workspace that sends at least one namespace
    resources: dict[GroupResource, str] = field(default_factory=dict)
    # (group, resource, name) -> workload workspaces that send that cluster-scoped object
    cluster_objects: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    # (group, resource, name) -> (version, whether it is listed for the edge)
    cluster_details: dict[tuple[str, str, str], tuple[str, bool]] = field(default_factory=dict)
    # canonical JSON of each UpsyncSet
    upsync: set[bytes] = field(default_factory=set)
    placements: set[PlacementId] = field(default_factory=set)
    # workload workspaces sending anything here, with the namespaced resources each serves
    sources: dict[str, dict[GroupResource, ApiResource]] = field(default_factory=dict)
    # human-readable problems found while joining (version disagreements)
    warnings: list[str] = field(default_factory=list)


def _canonical(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def plan_mailboxes(inputs: Iterable[WorkloadInputs]) -> dict[str, MailboxPlan]:
    """One plan per mailbox workspace name that some placement reaches."""
    plans: dict[str, MailboxPlan] = {}
    for wmw in sorted(inputs, key=lambda w: w.cluster):
        namespaced = {
            gr: api
            for gr, api in wmw.resources.items()
            if api.namespaced and api.listable and goes_to_mailbox(*gr)
        }
        for placement in sorted(wmw.placements, key=lambda p: p.metadata.name or ""):
            name = placement.metadata.name or ""
            dests = wmw.destinations.get(name) or []
            if not dests:
                continue
            what = resolve_what(placement, wmw.namespaces, wmw.cluster_objects, wmw.resources)
            upsync = {_canonical(u.to_dict()) for u in placement.spec.upsync or ()}
            for dest in dests:
                plan = plans.setdefault(dest.mailbox_workspace_name, MailboxPlan())
                plan.placements.add((wmw.cluster, name))
                plan.upsync |= upsync
                if what.namespaces:
                    plan.sources.setdefault(wmw.cluster, namespaced)
                for ns in what.namespaces:
                    plan.namespaces.setdefault(ns, set()).add(wmw.cluster)
                for part in what.cluster_parts:
                    _add_part(plan, wmw.cluster, part)
                if what.cluster_parts:
                    plan.sources.setdefault(wmw.cluster, namespaced)
    for plan in plans.values():
        _join_resources(plan)
    return plans


def _add_part(plan: MailboxPlan, cluster: str, part: ClusterPart) -> None:
    key = (part.group, part.resource, part.name)
    plan.cluster_objects.setdefault(key, set()).add(cluster)
    version, for_edge = plan.cluster_details.get(key, (part.version, False))
    plan.cluster_details[key] = (version, for_edge or part.for_edge)


def _join_resources(plan: MailboxPlan) -> None:
    senders = {c for clusters in plan.namespaces.values() for c in clusters}
    for cluster in sorted(senders):
        for gr, api in sorted(plan.sources.get(cluster, {}).items()):
            have = plan.resources.get(gr)
            if have is None:
                plan.resources[gr] = api.version
            elif have != api.version:
                plan.warnings.append(
                    f"workload workspaces disagree on the version of {gr[1]}.{gr[0]}: "
                    f"{have} kept, {api.version} from {cluster} ignored"
                )


def syncer_config_spec(plan: MailboxPlan | None) -> dict[str, Any]:
    """The spec of SyncerConfig `the-one` for a mailbox (an empty plan: nothing to sync)."""
    if plan is None:
        return {"namespaceScope": {}}
    scope: dict[str, Any] = {}
    if plan.namespaces:
        scope["namespaces"] = sorted(plan.namespaces)
        scope["resources"] = [
            {"apiVersion": version, "group": group, "resource": resource}
            for (group, resource), version in sorted(plan.resources.items())
            if goes_to_edge(group, resource)
        ]
    spec: dict[str, Any] = {"namespaceScope": scope}
    cluster_scope: dict[tuple[str, str, str], list[str]] = {}
    for (group, resource, name), (version, for_edge) in plan.cluster_details.items():
        if for_edge:
            cluster_scope.setdefault((group, version, resource), []).append(name)
    if cluster_scope:
        spec["clusterScope"] = [
            {"apiVersion": version, "group": group, "objects": sorted(names), "resource": res}
            for (group, version, res), names in sorted(cluster_scope.items())
        ]
    if plan.upsync:
        spec["upsync"] = [orjson.loads(u) for u in sorted(plan.upsync)]
    return spec


def normalize_spec(spec: Mapping[str, Any] | None) -> bytes:
    """A canonical form of a SyncerConfig spec: list order and empty fields do not matter."""
    spec = spec or {}
    scope = spec.get("namespaceScope") or {}
    resources = sorted(_canonical(r).decode() for r in scope.get("resources") or [])
    clusters = []
    for item in spec.get("clusterScope") or []:
        item = dict(item)
        if item.get("objects") is not None:
            item["objects"] = sorted(item["objects"])
        clusters.append(_canonical(item).decode())
    upsync = sorted(_canonical(u).decode() for u in spec.get("upsync") or [])
    return _canonical(
        {
            "namespaces": sorted(scope.get("namespaces") or []),
            "resources": resources,
            "clusterScope": sorted(clusters),
            "upsync": upsync,
        }
    )


def route_namespaces(plans: Mapping[str, MailboxPlan]) -> dict[tuple[str, str], set[str]]:
    """(workload workspace, namespace) -> mailbox workspace names receiving it."""
    routes: dict[tuple[str, str], set[str]] = {}
    for mailbox, plan in plans.items():
        for ns, clusters in plan.namespaces.items():
            for cluster in clusters:
                routes.setdefault((cluster, ns), set()).add(mailbox)
    return routes


def route_cluster_objects(
    plans: Mapping[str, MailboxPlan],
) -> dict[tuple[str, str, str, str], set[str]]:
    """(workload workspace, group, resource, name) -> mailbox workspace names receiving it."""
    routes: dict[tuple[str, str, str, str], set[str]] = {}
    for mailbox, plan in plans.items():
        for (group, resource, name), clusters in plan.cluster_objects.items():
            for cluster in clusters:
                routes.setdefault((cluster, group, resource, name), set()).add(mailbox)
    return routes


__all__ = [
    "NAMESPACES",
    "MailboxPlan",
    "PlacementId",
    "WorkloadInputs",
    "normalize_spec",
    "plan_mailboxes",
    "route_cluster_objects",
    "route_namespaces",
    "syncer_config_spec",
]
