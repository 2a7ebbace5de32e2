"""CustomResourceDefinitions: the types they serve, their admission and their status.

A CRD stored in a logical cluster serves its resources in that cluster as soon as it is
created (the server marks it NamesAccepted and Established right away) and stops serving
them when it is deleted, after its objects are removed (the cleanup finalizer, as upstream).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.objects import Operation, now_rfc3339
from edgemc.embedded.apiserver.registry import Registry, TypeProvider
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import Event, ResKey, Store
from edgemc.embedded.apiserver.validation import validate_crd

CRDS: ResKey = ("apiextensions.k8s.io", "customresourcedefinitions", "")
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def types_from_crd(
    crd: dict[str, Any], *, identity: str = "", source: str = "crd"
) -> list[ResourceType]:
    """The served versions of a CRD (or a kcp APIResourceSchema turned into one) as types."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out: list[ResourceType] = []
    versions = sorted(
        (v for v in spec.get("versions", []) if v.get("served", True)),
        key=lambda v: (not v.get("storage", False), v.get("name", "")),
    )
    for version in versions:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subresources = version.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                resource=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or names.get("kind", "").lower(),
                list_kind=names.get("listKind") or names.get("kind", "") + "List",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(s for s in ("status", "scale") if s in subresources),
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                builtin=False,
                identity=identity,
                source=source,
            )
        )
    return out


def established_status(crd: dict[str, Any]) -> dict[str, Any]:
    spec = crd.get("spec", {})
    now = now_rfc3339()
    condition = {"status": "True", "lastTransitionTime": now}
    return {
        "acceptedNames": dict(spec.get("names", {})),
        "conditions": [
            {
                **condition,
                "type": "NamesAccepted",
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                **condition,
                "type": "Established",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")],
    }


def crd_provider(store: Store) -> TypeProvider:
    def provide(cluster: str) -> Iterable[ResourceType]:
        for _, crd in store.list(CRDS, cluster):
            if crd.get("metadata", {}).get("deletionTimestamp"):
                continue
            yield from types_from_crd(crd)

    return provide


def admit_crd(op: Operation) -> None:
    """Validate CRDs, add the cleanup finalizer and accept their names at once."""
    if (op.rt.group, op.rt.resource) != CRDS[:2] or op.obj is None or op.subresource:
        return
    if op.verb == "create":
        causes = validate_crd(op.obj)
        if causes:
            raise errors.invalid(
                "CustomResourceDefinition", "apiextensions.k8s.io", op.name, causes
            )
        finalizers = op.obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        op.obj["status"] = established_status(op.obj)
    elif op.verb == "update" and op.old is not None:
        if not op.obj["metadata"].get("deletionTimestamp"):
            causes = validate_crd(op.obj)
            if causes:
                raise errors.invalid(
                    "CustomResourceDefinition", "apiextensions.k8s.io", op.name, causes
                )
        old_spec, new_spec = op.old.get("spec", {}), op.obj.get("spec", {})
        for key in ("group", "scope"):
            if old_spec.get(key) != new_spec.get(key):
                raise errors.invalid(
                    "CustomResourceDefinition",
                    "apiextensions.k8s.io",
                    op.name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": f"spec.{key}",
                            "message": "Invalid value: field is immutable",
                        }
                    ],
                )
        if new_spec != old_spec:
            op.obj["status"] = {**op.old.get("status", {}), **established_status(op.obj)}


def watch_crds(store: Store, registry: Registry) -> None:
    """Invalidate a cluster's types whenever one of its CRDs changes."""

    def on_event(event: Event) -> None:
        if event.reskey == CRDS:
            registry.invalidate(event.cluster)

    store.add_listener(on_event)
