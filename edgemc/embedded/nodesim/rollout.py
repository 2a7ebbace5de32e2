"""What Deployments and ReplicaSets should look like: pure decisions, no I/O.

These functions are the simulated kube-controller-manager's logic, kept free of the API so
they are tested densely on their own. They follow the upstream controllers' observable
behaviour: a Deployment owns one ReplicaSet per distinct pod template, named
`<deployment>-<pod-template-hash>`, whose selector, template and pods carry the
`pod-template-hash` label; the status counts and the `Available` and `Progressing`
conditions read as `kubectl get/describe deploy` shows them on a real cluster.

Simplification: a rolling update surges the new ReplicaSet straight to the desired count and
scales the old ones to zero once the new one is fully available (`Recreate` scales the old
ones down first). `maxSurge`/`maxUnavailable` are only used for the `Available` condition.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_ANNOTATION = "deployment.kubernetes.io/max-replicas"
# Characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    """The 32-bit FNV-1a hash."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """A stable short hash of a pod template (plus the Deployment's collision count)."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    digits = str(fnv32a(data))
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in digits)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def owned_by(obj: Obj, owner: Obj) -> bool:
    """True if `obj` names `owner` as its controlling owner."""
    uid = _meta(owner).get("uid")
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in _meta(obj).get("ownerReferences") or ()
    )


def controller_ref(owner: Obj) -> Obj:
    """An ownerReference marking `owner` as the controller of a dependent."""
    meta = _meta(owner)
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any."""
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def _without_hash(template: Obj) -> Obj:
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return template


def _normalized(template: Obj) -> Obj:
    # The server may or may not keep empty metadata maps; compare without them.
    template = _without_hash(template)
    meta = template.get("metadata") or {}
    template["metadata"] = {k: v for k, v in meta.items() if v not in (None, {}, [])}
    return template


def matches_template(rs: Obj, deploy: Obj) -> bool:
    """True if the ReplicaSet runs the Deployment's current pod template."""
    rs_template = (rs.get("spec") or {}).get("template") or {}
    d_template = (deploy.get("spec") or {}).get("template") or {}
    return _normalized(rs_template) == _normalized(d_template)


def revision_of(obj: Obj) -> int:
    try:
        return int((_meta(obj).get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def resolve_fraction(value: Any, total: int, *, round_up: bool) -> int:
    """An int-or-percent field (`maxSurge`, `maxUnavailable`) as a count of `total`."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            return 0
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def max_unavailable(deploy: Obj) -> int:
    spec = deploy.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = resolve_fraction(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = resolve_fraction(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # as upstream: both zero would deadlock a rollout
    return min(unavailable, replicas)


def new_replicaset(deploy: Obj, revision: int) -> Obj:
    """The ReplicaSet a Deployment's current template needs (created with 0 replicas)."""
    meta = _meta(deploy)
    spec = deploy.get("spec") or {}
    collision = int((deploy.get("status") or {}).get("collisionCount") or 0)
    template = copy.deepcopy(spec.get("template") or {})
    pod_hash = template_hash(_without_hash(template), collision)
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    replicas = int(spec.get("replicas", 1))
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
        and not k.startswith("deployment.kubernetes.io/")
    }
    annotations.update(
        {
            REVISION_ANNOTATION: str(revision),
            DESIRED_ANNOTATION: str(replicas),
            MAX_ANNOTATION: str(replicas + _max_surge(deploy)),
        }
    )
    rs_spec: Obj = {"replicas": 0, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta.get("namespace", ""),
            "labels": dict(tmeta["labels"]),
            "annotations": annotations,
            "ownerReferences": [controller_ref(deploy)],
        },
        "spec": rs_spec,
    }


def _max_surge(deploy: Obj) -> int:
    spec = deploy.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    return resolve_fraction(
        rolling.get("maxSurge", "25%"), int(spec.get("replicas", 1)), round_up=True
    )


def _status_int(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def plan_scale(deploy: Obj, new_rs: Obj, old: list[Obj]) -> dict[str, int]:
    """Replica counts the Deployment's ReplicaSets should have now, by ReplicaSet name."""
    spec = deploy.get("spec") or {}
    desired = int(spec.get("replicas", 1))
    recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
    plan = {_meta(rs)["name"]: 0 for rs in old}
    new_name = _meta(new_rs)["name"]
    if recreate and any(_status_int(rs, "replicas") for rs in old):
        plan[new_name] = 0
        return plan
    plan[new_name] = desired
    new_available = _status_int(new_rs, "availableReplicas")
    if not recreate and new_available < desired:
        # Keep the old pods serving until the new ReplicaSet can take over.
        for rs in old:
            plan[_meta(rs)["name"]] = int((rs.get("spec") or {}).get("replicas", 0))
    return plan


def _condition(
    previous: list[Obj], kind: str, status: str, reason: str, message: str, now: str
) -> Obj:
    before = next((c for c in previous if c.get("type") == kind), None)
    cond = {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }
    if before is not None:
        if before.get("status") == status:
            cond["lastTransitionTime"] = before.get("lastTransitionTime", now)
        if before.get("status") == status and before.get("message") == message:
            cond["lastUpdateTime"] = before.get("lastUpdateTime", now)
    return cond


def deployment_status(deploy: Obj, new_rs: Obj | None, rss: list[Obj], now: str) -> Obj:
    """The status the deployment controller writes, from its ReplicaSets' statuses."""
    spec = deploy.get("spec") or {}
    previous = deploy.get("status") or {}
    desired = int(spec.get("replicas", 1))
    replicas = sum(_status_int(rs, "replicas") for rs in rss)
    ready = sum(_status_int(rs, "readyReplicas") for rs in rss)
    available = sum(_status_int(rs, "availableReplicas") for rs in rss)
    updated = _status_int(new_rs, "replicas") if new_rs is not None else 0
    total_spec = sum(int((rs.get("spec") or {}).get("replicas", 0)) for rs in rss)
    status: Obj = {"observedGeneration": _meta(deploy).get("generation", 1)}
    for field, value in (
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", max(total_spec - available, 0)),
    ):
        if value:
            status[field] = value
    if previous.get("collisionCount"):
        status["collisionCount"] = previous["collisionCount"]
    old_conditions = previous.get("conditions") or []
    if available >= desired - max_unavailable(deploy):
        available_cond = _condition(
            old_conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        available_cond = _condition(
            old_conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    conditions = [available_cond]
    if new_rs is not None:
        rs_name = _meta(new_rs)["name"]
        complete = updated == desired and replicas == desired and available >= desired
        if complete:
            progressing = _condition(
                old_conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        else:
            progressing = _condition(
                old_conditions,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
            )
        conditions.append(progressing)
    status["conditions"] = conditions
    return status


def pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def pod_active(pod: Obj) -> bool:
    """Counts towards a ReplicaSet's replicas: not being deleted, not finished."""
    phase = (pod.get("status") or {}).get("phase")
    return not _meta(pod).get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def replicaset_status(rs: Obj, pods: list[Obj]) -> Obj:
    """The status the ReplicaSet controller writes, from the pods it owns."""
    active = [p for p in pods if pod_active(p)]
    labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    fully_labeled = sum(
        1 for p in active if labels.items() <= (_meta(p).get("labels") or {}).items()
    )
    ready = sum(1 for p in active if pod_ready(p))
    status: Obj = {"replicas": len(active), "observedGeneration": _meta(rs).get("generation", 1)}
    for field, value in (
        ("fullyLabeledReplicas", fully_labeled),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
    ):
        if value:
            status[field] = value
    return status


def pod_from_template(rs: Obj) -> Obj:
    """A new pod for a ReplicaSet (generateName `<rs>-`, owned by it)."""
    template = copy.deepcopy(((rs.get("spec") or {}).get("template")) or {})
    tmeta = template.get("metadata") or {}
    meta: Obj = {
        "generateName": f"{_meta(rs)['name']}-",
        "namespace": _meta(rs).get("namespace", ""),
        "labels": tmeta.get("labels") or {},
        "ownerReferences": [controller_ref(rs)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = tmeta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}


def pods_to_delete(pods: list[Obj], count: int) -> list[Obj]:
    """Which `count` pods a scale-down removes first: unscheduled, then not ready, then newest."""

    def rank(pod: Obj) -> tuple[int, int, str]:
        scheduled = 1 if (pod.get("spec") or {}).get("nodeName") else 0
        return (
            scheduled,
            1 if pod_ready(pod) else 0,
            _reverse(_meta(pod).get("creationTimestamp", "")),
        )

    return sorted(pods, key=rank)[:count]


def _reverse(timestamp: str) -> str:
    # Newest first inside a rank: invert the sortable timestamp text.
    return "".join(chr(0x7F - ord(c)) for c in timestamp)
