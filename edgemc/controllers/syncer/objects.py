"""What a synced copy looks like and what to do with one object (pure; spec 7.4-7.6).

A copy is the source object without server-owned metadata (uid, resourceVersion,
managedFields, ownerReferences, creationTimestamp, generation, deletion fields, finalizers,
selfLink) and without kcp's own annotations (`kcp.io/cluster` and the like; `edge.kcp.io/`
ones travel), with the direction's marker annotation and a digest annotation of its content.
Its `status` is not copied: at the target the status belongs to the target's controllers
(status return is separate, see `status_update`).

`decide` is the per-object table, the same for both directions with the marker of the
direction: source but no target -> create; both, target marked -> update when the content
changed; both, target unmarked -> leave it (never overwrite what the syncer did not make);
no source, target marked -> delete; otherwise nothing.

"Content changed" needs care because servers add defaults (a Deployment at the edge gains
`strategy`, `revisionHistoryLimit`, ...): the target is up to date when its digest
annotation equals the desired copy's (the source did not change since the last write) and
every field of the desired copy is present with the same value in the target (nobody
changed or removed what we wrote; fields the target's server added do not count).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from edgemc.apis.edge import ANNOTATION_DOWNSYNCED, ANNOTATION_UPSYNCED

Obj = dict[str, Any]

DIGEST_ANNOTATION = "edge.kcp.io/sync-digest"
"""On copies: digest of the copied content, so an unchanged source causes no write."""
MARKER_VALUE = "true"

DROPPED_METADATA = (
    "uid",
    "resourceVersion",
    "managedFields",
    "ownerReferences",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "selfLink",
    "generateName",
)


def is_kcp_annotation(key: str) -> bool:
    """kcp's own metadata keys (`kcp.io/cluster`, `internal.tenancy.kcp.io/...`), which
    describe the mailbox object, not the workload; `edge.kcp.io/` keys are the workload's."""
    prefix, sep, _ = key.partition("/")
    if not sep or prefix == "edge.kcp.io":
        return False
    return prefix == "kcp.io" or prefix.endswith(".kcp.io")


def marker_for(direction: str) -> str:
    """The annotation that marks copies made in `direction` ("down" or "up")."""
    return ANNOTATION_DOWNSYNCED if direction == "down" else ANNOTATION_UPSYNCED


def is_marked(obj: Obj | None, marker: str) -> bool:
    if obj is None:
        return False
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(marker) == MARKER_VALUE


def is_deleting(obj: Obj | None) -> bool:
    return obj is not None and bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_system_object(resource: str, obj: Obj) -> bool:
    """Objects every namespace gets from its own server; never copied either way."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    if resource == "serviceaccounts" and name == "default":
        return True
    if resource == "configmaps" and name == "kube-root-ca.crt":
        return True
    return resource == "secrets" and obj.get("type") == "kubernetes.io/service-account-token"


def digest(obj: Obj) -> str:
    """A short stable digest of an object's content (key order does not matter)."""
    data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:16]


def make_copy(source: Obj, marker: str) -> Obj:
    """The copy of `source` to write at the other side (see the module docstring)."""
    out = {k: copy.deepcopy(v) for k, v in source.items() if k not in ("metadata", "status")}
    meta = source.get("metadata") or {}
    new_meta: Obj = {
        k: copy.deepcopy(v)
        for k, v in meta.items()
        if k not in DROPPED_METADATA and k not in ("labels", "annotations")
    }
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if not is_kcp_annotation(k)}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not is_kcp_annotation(k)
        and k not in (ANNOTATION_DOWNSYNCED, ANNOTATION_UPSYNCED, DIGEST_ANNOTATION)
    }
    if labels:
        new_meta["labels"] = labels
    annotations[marker] = MARKER_VALUE
    new_meta["annotations"] = annotations
    out["metadata"] = new_meta
    annotations[DIGEST_ANNOTATION] = digest(out)
    return out


def contains(have: Any, want: Any) -> bool:
    """Every field of `want` is in `have` with the same value (lists: same length, each
    element contained); fields only in `have` do not matter."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        return all(k in have and contains(have[k], v) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return False
        return all(contains(h, w) for h, w in zip(have, want, strict=True))
    return have == want


def up_to_date(target: Obj, desired: Obj) -> bool:
    """Whether `target` already is `desired` (digest and content; see the module docstring)."""
    have_meta = target.get("metadata") or {}
    want_meta = desired.get("metadata") or {}
    have_digest = (have_meta.get("annotations") or {}).get(DIGEST_ANNOTATION)
    if have_digest != (want_meta.get("annotations") or {}).get(DIGEST_ANNOTATION):
        return False
    for key in ("labels", "annotations"):
        if not contains(have_meta.get(key) or {}, want_meta.get(key) or {}):
            return False
    return all(
        contains(target.get(k), v) for k, v in desired.items() if k not in ("metadata", "status")
    )


ActionKind = Literal["create", "update", "delete", "none", "foreign"]


@dataclass(frozen=True)
class Action:
    """What to do with one object at the target; `obj` is the body to write, if any."""

    kind: ActionKind
    obj: Obj | None = None


def decide(source: Obj | None, target: Obj | None, marker: str) -> Action:
    """The per-object sync decision; `source` None means absent or not selected."""
    if source is not None and is_deleting(source):
        source = None  # an object being deleted counts as gone
    if source is None:
        if is_marked(target, marker) and not is_deleting(target):
            return Action("delete", target)
        return Action("none")
    desired = make_copy(source, marker)
    if target is None:
        return Action("create", desired)
    if not is_marked(target, marker):
        return Action("foreign")
    if is_deleting(target):
        return Action("none")  # wait for it to go, then create it anew
    if up_to_date(target, desired):
        return Action("none")
    tmeta = target.get("metadata") or {}
    desired["metadata"]["resourceVersion"] = tmeta.get("resourceVersion", "")
    if tmeta.get("uid"):
        desired["metadata"]["uid"] = tmeta["uid"]
    if "status" in target:
        # Without a status subresource a PUT replaces status too: keep the target's.
        desired["status"] = target["status"]
    return Action("update", desired)


def status_update(source: Obj, target: Obj) -> Obj | None:
    """Status return: `source` (the mailbox original) with the edge copy's status, or None
    when there is nothing to return (no status at the edge, or the same already).

    Only for a copy that is up to date with `source`. Its `status.observedGeneration` counts
    the copy's generations, not the original's (a copy made after two edits of the original
    starts at 1), so it is returned as the original's generation when the copy's latest
    generation has been observed, and as less than that otherwise."""
    if "status" not in target:
        return None
    status = target["status"]
    observed = status.get("observedGeneration") if isinstance(status, dict) else None
    generation = (source.get("metadata") or {}).get("generation")
    if isinstance(observed, int) and isinstance(generation, int):
        copy_generation = (target.get("metadata") or {}).get("generation") or 0
        mapped = generation if observed >= copy_generation else min(observed, generation - 1)
        status = {**status, "observedGeneration": mapped}
    if status == source.get("status"):
        return None
    out = dict(source)
    out["status"] = status
    return out
