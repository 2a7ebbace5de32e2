"""The simulated controllers' pure decisions: ReplicaSets, scaling plans, statuses."""

from __future__ import annotations

import copy
from typing import Any

from edgemc.embedded.nodesim import rollout

NOW = "2023-04-23T05:40:00Z"


def deployment(replicas: int = 1, image: str = "httpd:2.4", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "commond",
            "namespace": "commonstuff",
            "uid": "d-uid",
            "generation": 3,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "common"}},
            "template": {
                "metadata": {"labels": {"app": "common"}},
                "spec": {"containers": [{"name": "httpd", "image": image}]},
            },
            **spec,
        },
    }


def with_status(obj: dict[str, Any], **status: Any) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"].setdefault("uid", obj["metadata"]["name"] + "-uid")
    obj["status"] = status
    return obj


def test_template_hash_is_stable_and_safe() -> None:
    d = deployment()
    h = rollout.template_hash(d["spec"]["template"])
    assert h == rollout.template_hash(copy.deepcopy(d["spec"]["template"]))
    assert set(h) <= set(rollout.SAFE_ALPHABET)
    assert h != rollout.template_hash(deployment(image="httpd:2.5")["spec"]["template"])
    assert h != rollout.template_hash(d["spec"]["template"], collision_count=1)


def test_new_replicaset_is_named_labelled_and_owned() -> None:
    d = deployment(replicas=3)
    rs = rollout.new_replicaset(d, revision=1)
    h = rs["metadata"]["labels"][rollout.HASH_LABEL]
    assert rs["metadata"]["name"] == f"commond-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "common", rollout.HASH_LABEL: h}
    assert rs["spec"]["template"]["metadata"]["labels"][rollout.HASH_LABEL] == h
    assert rs["metadata"]["annotations"][rollout.REVISION_ANNOTATION] == "1"
    assert rs["metadata"]["annotations"][rollout.DESIRED_ANNOTATION] == "3"
    assert rs["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "commond",
            "uid": "d-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert rollout.matches_template(rs, d)
    assert not rollout.matches_template(rs, deployment(image="other"))
    assert rollout.owned_by(with_status(rs), d)


def test_plan_rolling_update_keeps_old_pods_until_the_new_ones_are_available() -> None:
    d = deployment(replicas=2)
    old = with_status(rollout.new_replicaset(deployment(image="old"), 1), replicas=2)
    old["spec"]["replicas"] = 2
    new = with_status(rollout.new_replicaset(d, 2), replicas=0)
    new_name, old_name = new["metadata"]["name"], old["metadata"]["name"]
    assert rollout.plan_scale(d, new, [old]) == {new_name: 2, old_name: 2}
    new = with_status(new, replicas=2, availableReplicas=2)
    assert rollout.plan_scale(d, new, [old]) == {new_name: 2, old_name: 0}


def test_plan_recreate_scales_old_down_first() -> None:
    d = deployment(replicas=1, strategy={"type": "Recreate"})
    old = with_status(rollout.new_replicaset(deployment(image="old"), 1), replicas=1)
    new = with_status(rollout.new_replicaset(d, 2))
    assert rollout.plan_scale(d, new, [old]) == {
        new["metadata"]["name"]: 0,
        old["metadata"]["name"]: 0,
    }
    old = with_status(old, replicas=0)
    assert rollout.plan_scale(d, new, [old])[new["metadata"]["name"]] == 1


def test_deployment_status_complete() -> None:
    d = deployment(replicas=1)
    rs = with_status(rollout.new_replicaset(d, 1), replicas=1, readyReplicas=1, availableReplicas=1)
    rs["spec"]["replicas"] = 1
    status = rollout.deployment_status(d, rs, [rs], NOW)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 3,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
    }
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["Available"]["status"] == "True"
    assert by_type["Available"]["reason"] == "MinimumReplicasAvailable"
    assert by_type["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert rs["metadata"]["name"] in by_type["Progressing"]["message"]


def test_deployment_status_progressing_and_timestamps_kept() -> None:
    d = deployment(replicas=2)
    rs = with_status(rollout.new_replicaset(d, 1), replicas=2)
    rs["spec"]["replicas"] = 2
    status = rollout.deployment_status(d, rs, [rs], NOW)
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["Available"]["status"] == "False"
    assert by_type["Progressing"]["reason"] == "ReplicaSetUpdated"
    assert status["unavailableReplicas"] == 2
    again = rollout.deployment_status({**d, "status": status}, rs, [rs], "2030-01-01T00:00:00Z")
    assert again == status  # nothing changed: no new timestamps, so no write


def test_zero_replicas_is_available_and_complete() -> None:
    d = deployment(replicas=0)
    rs = with_status(rollout.new_replicaset(d, 1), replicas=0)
    status = rollout.deployment_status(d, rs, [rs], NOW)
    assert "replicas" not in status
    assert all(c["status"] == "True" for c in status["conditions"])


def test_max_unavailable() -> None:
    assert rollout.max_unavailable(deployment(replicas=4)) == 1
    assert rollout.max_unavailable(deployment(replicas=3)) == 0
    surge0 = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}
    assert rollout.max_unavailable(deployment(replicas=3, strategy=surge0)) == 1
    assert rollout.resolve_fraction("50%", 3, round_up=True) == 2
    assert rollout.resolve_fraction("50%", 3, round_up=False) == 1


def pod(name: str, ready: bool, node: str = "n", created: str = NOW, **meta: Any) -> dict:
    return {
        "metadata": {
            "name": name,
            "labels": {"app": "common"},
            "creationTimestamp": created,
            **meta,
        },
        "spec": {"nodeName": node},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_replicaset_status_counts_active_ready_pods() -> None:
    rs = with_status(rollout.new_replicaset(deployment(replicas=3), 1))
    pods = [
        pod("a", True, **{"labels": rs["spec"]["template"]["metadata"]["labels"]}),
        pod("b", False),
        pod("c", True, deletionTimestamp=NOW),
    ]
    status = rollout.replicaset_status(rs, pods)
    assert status["replicas"] == 2
    assert status["readyReplicas"] == 1
    assert status["availableReplicas"] == 1
    assert status["fullyLabeledReplicas"] == 1


def test_scale_down_prefers_unscheduled_then_unready_then_newest() -> None:
    pods = [
        pod("old-ready", True, created="2023-01-01T00:00:00Z"),
        pod("new-ready", True, created="2023-02-01T00:00:00Z"),
        pod("unready", False),
        pod("unscheduled", True, node=""),
    ]
    chosen = [p["metadata"]["name"] for p in rollout.pods_to_delete(pods, 3)]
    assert chosen == ["unscheduled", "unready", "new-ready"]


def test_pod_from_template() -> None:
    rs = with_status(rollout.new_replicaset(deployment(), 1))
    p = rollout.pod_from_template(rs)
    assert p["metadata"]["generateName"] == rs["metadata"]["name"] + "-"
    assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert p["spec"]["containers"][0]["image"] == "httpd:2.4"
