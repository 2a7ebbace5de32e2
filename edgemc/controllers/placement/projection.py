"""Copy and merge rules for workload objects projected into mailbox workspaces (spec 6.7).

A new copy keeps apiVersion, kind, namespace, name and content; server-owned metadata is
stripped and the label `edge.kcp.io/projected=yes` added. An existing copy is merged: the
source's top-level fields other than apiVersion/kind/metadata/status replace the copy's,
labels and annotations merge key by key with the source winning except for kcp system keys
(which belong to the mailbox side). `status` is never copied: in a mailbox it belongs to the
edge syncer's status return.
"""

from __future__ import annotations

import copy
from typing import Any

from edgemc.apis.edge import LABEL_PROJECTED, PROJECTED_VALUE

Obj = dict[str, Any]

SERVER_OWNED_METADATA = (
    "uid",
    "resourceVersion",
    "managedFields",
    "ownerReferences",
    "creationTimestamp",
    "generation",
    "selfLink",
    "clusterName",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
)
_TOP_LEVEL_KEPT = ("apiVersion", "kind", "metadata", "status")


def is_system_key(key: str) -> bool:
    """kcp's own labels/annotations (`kcp.io/cluster`, `internal.apis.kcp.io/export`, ...)."""
    if "edge.kcp.io/" in key:
        return False
    return key.startswith("kcp.io/") or ".kcp.io/" in key


def project_object(source: Obj) -> Obj:
    """The copy to create in a mailbox for `source`."""
    out = {k: copy.deepcopy(v) for k, v in source.items() if k != "status"}
    meta = dict(source.get("metadata") or {})
    for key in SERVER_OWNED_METADATA:
        meta.pop(key, None)
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if not is_system_key(k)}
    labels[LABEL_PROJECTED] = PROJECTED_VALUE
    meta["labels"] = labels
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if not is_system_key(k)}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = copy.deepcopy(meta)
    return out


def _merge_map(dest: dict[str, str] | None, src: dict[str, str] | None) -> dict[str, str]:
    out = dict(dest or {})
    for key, value in (src or {}).items():
        if not is_system_key(key):
            out[key] = value
    return out


def merge_into(existing: Obj, source: Obj) -> Obj:
    """The mailbox copy `existing` updated from `source` (equal to `existing` if nothing to do)."""
    out = {k: v for k, v in existing.items() if k in _TOP_LEVEL_KEPT}
    for key, value in source.items():
        if key not in _TOP_LEVEL_KEPT:
            out[key] = copy.deepcopy(value)
    meta = dict(existing.get("metadata") or {})
    src_meta = source.get("metadata") or {}
    labels = _merge_map(meta.get("labels"), src_meta.get("labels"))
    labels[LABEL_PROJECTED] = PROJECTED_VALUE
    meta["labels"] = labels
    if src_meta.get("annotations"):
        meta["annotations"] = _merge_map(meta.get("annotations"), src_meta["annotations"])
    out["metadata"] = meta
    return out


def projected_namespace(name: str) -> Obj:
    """The Namespace created in a mailbox to hold projected objects."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {LABEL_PROJECTED: PROJECTED_VALUE}},
    }
