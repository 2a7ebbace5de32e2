"""kcp v0.11's transparent-multi-cluster bits that edge-mc meets: SyncTargets and Locations.

The first SyncTarget in a workspace brings a local APIExport and APIBinding `kubernetes` and
the Location `default` (which stays deleted once deleted); SyncTargets get their key label;
Locations get the labels annotation, their path and instance counts.
"""

from __future__ import annotations

from typing import Any

from edgemc.apis.meta import SelectorError, selector_from_label_selector
from edgemc.embedded.apiserver.apis import APIBINDINGS, APIEXPORTS, base62_sha224
from edgemc.embedded.apiserver.objects import ObjectService, Operation, Scope
from edgemc.embedded.apiserver.reactor import Reactor
from edgemc.embedded.apiserver.registry import Registry
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import Event, Store
from edgemc.embedded.apiserver.tenancy import PATH_ANNOTATION, SYSTEM, Tenancy

KEY_LABEL = "internal.workload.kcp.io/key"
LABELS_ANNOTATION = "scheduling.kcp.io/labels"
COMPUTE_ANNOTATION = "extra.apis.kcp.io/compute.workload.kcp.io"
SKIP_DEFAULTS_ANNOTATION = "workload.kcp.io/skip-default-object-creation"
SYNCTARGETS = ("workload.kcp.io", "synctargets")
LOCATIONS = ("scheduling.kcp.io", "locations")


class Tmc:
    """Admission and the per-workspace reconciler for SyncTargets and Locations."""

    def __init__(
        self, store: Store, service: ObjectService, registry: Registry, tenancy: Tenancy
    ) -> None:
        self.store = store
        self.service = service
        self.registry = registry
        self.tenancy = tenancy
        self.reactor = Reactor("tmc", self._reconcile)

    def start(self) -> None:
        self.store.add_listener(self._on_event)
        self.reactor.start()

    async def stop(self) -> None:
        await self.reactor.stop()

    def _on_event(self, event: Event) -> None:
        gr = event.reskey[:2]
        if gr in (SYNCTARGETS, LOCATIONS) or event.reskey == APIEXPORTS:
            self.reactor.enqueue(event.cluster)

    # -- admission -----------------------------------------------------------------------

    def admit(self, op: Operation) -> None:
        if op.obj is None or op.verb not in ("create", "update"):
            return
        gr = (op.rt.group, op.rt.resource)
        meta = op.obj["metadata"]
        if gr == SYNCTARGETS:
            labels = meta.setdefault("labels", {})
            labels[KEY_LABEL] = base62_sha224(f"{op.scope.cluster}:{op.name}")
        elif gr == LOCATIONS:
            annotations = meta.setdefault("annotations", {})
            labels = meta.get("labels") or {}
            annotations[LABELS_ANNOTATION] = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            annotations[PATH_ANNOTATION] = self.tenancy.canonical_path(op.scope.cluster)

    # -- reconcile -----------------------------------------------------------------------

    def _type(self, scope: Scope, gr: tuple[str, str]) -> ResourceType | None:
        return scope.types.by_group_resource(*gr)

    def _reconcile(self, key: Any) -> float | None:
        cluster = key
        scope = Scope(cluster, self.registry.types_for(cluster), SYSTEM)
        st_rt = self._type(scope, SYNCTARGETS)
        loc_rt = self._type(scope, LOCATIONS)
        if st_rt is None or loc_rt is None:
            return None
        targets = [
            o for _, o in self.store.list((st_rt.group, st_rt.resource, st_rt.identity), cluster)
        ]
        if targets:
            self._ensure_defaults(scope, loc_rt)
        # Every SyncTarget or Location event recounts every Location: look the candidates
        # up by label instead of testing every SyncTarget against every Location (1,000 of
        # each made that a billion matches while they were being created).
        by_label: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for target in targets:
            for label in (target["metadata"].get("labels") or {}).items():
                by_label.setdefault(label, []).append(target)
        for _, loc in self.store.list((loc_rt.group, loc_rt.resource, loc_rt.identity), cluster):
            self._count_instances(scope, loc_rt, loc, targets, by_label)
        return None

    def _ensure_defaults(self, scope: Scope, loc_rt: ResourceType) -> None:
        export_rt = self._type(scope, ("apis.kcp.io", "apiexports"))
        binding_rt = self._type(scope, ("apis.kcp.io", "apibindings"))
        assert export_rt is not None and binding_rt is not None
        export = self.store.get(APIEXPORTS, scope.cluster, "", "kubernetes")
        if export is None:
            export = self.service.create(
                scope,
                export_rt,
                "",
                {
                    "apiVersion": "apis.kcp.io/v1alpha1",
                    "kind": "APIExport",
                    "metadata": {"name": "kubernetes", "annotations": {COMPUTE_ANNOTATION: "true"}},
                    "spec": {},
                },
            )[0]
        annotations = export["metadata"].get("annotations") or {}
        if annotations.get(SKIP_DEFAULTS_ANNOTATION) == "true":
            return
        loc_key = (loc_rt.group, loc_rt.resource, loc_rt.identity)
        if self.store.get(loc_key, scope.cluster, "", "default") is None:
            self.service.create(
                scope,
                loc_rt,
                "",
                {
                    "apiVersion": "scheduling.kcp.io/v1alpha1",
                    "kind": "Location",
                    "metadata": {"name": "default"},
                    "spec": {
                        "resource": {
                            "group": "workload.kcp.io",
                            "version": "v1alpha1",
                            "resource": "synctargets",
                        },
                        "instanceSelector": {},
                    },
                },
            )
        local = [
            b
            for _, b in self.store.list(APIBINDINGS, scope.cluster)
            if b.get("spec", {}).get("reference", {}).get("export", {}).get("name") == "kubernetes"
            and not b["spec"]["reference"]["export"].get("path")
        ]
        if not local:
            self.service.create(
                scope,
                binding_rt,
                "",
                {
                    "apiVersion": "apis.kcp.io/v1alpha1",
                    "kind": "APIBinding",
                    "metadata": {"name": "kubernetes", "annotations": {COMPUTE_ANNOTATION: "true"}},
                    "spec": {"reference": {"export": {"name": "kubernetes"}}},
                },
            )
        meta = {
            **export["metadata"],
            "annotations": {**annotations, SKIP_DEFAULTS_ANNOTATION: "true"},
        }
        self.service.update(scope, export_rt, "", "kubernetes", {**export, "metadata": meta})

    def _count_instances(
        self,
        scope: Scope,
        rt: ResourceType,
        loc: dict[str, Any],
        targets: list[dict],
        by_label: dict[tuple[str, str], list[dict[str, Any]]],
    ) -> None:
        spec_selector = loc.get("spec", {}).get("instanceSelector")
        try:
            selector = selector_from_label_selector(spec_selector)
        except SelectorError:
            return
        candidates = targets
        match = spec_selector.get("matchLabels") if isinstance(spec_selector, dict) else None
        if isinstance(match, dict) and match and all(isinstance(v, str) for v in match.values()):
            # A selected target carries every matchLabels pair: the rarest one bounds them.
            candidates = min((by_label.get(pair, []) for pair in match.items()), key=len)
        selected = [t for t in candidates if selector.matches(t["metadata"].get("labels") or {})]
        ready = [
            t
            for t in selected
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in t.get("status", {}).get("conditions", [])
            )
        ]
        status = {
            **loc.get("status", {}),
            "instances": len(selected),
            "availableInstances": len(ready),
        }
        if status != loc.get("status"):
            self.service.update(
                scope,
                rt,
                "",
                loc["metadata"]["name"],
                {**loc, "status": status},
                subresource="status",
            )
