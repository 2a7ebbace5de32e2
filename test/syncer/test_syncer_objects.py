"""The per-object sync decision and the shape of copies (pure; spec 7.4-7.6)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgemc.apis.edge import ANNOTATION_DOWNSYNCED, ANNOTATION_UPSYNCED
from edgemc.controllers.syncer.objects import (
    DIGEST_ANNOTATION,
    contains,
    decide,
    digest,
    is_system_object,
    make_copy,
    status_update,
)

DOWN = ANNOTATION_DOWNSYNCED


def mailbox_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "commond",
            "namespace": "commonstuff",
            "uid": "u-1",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2023-04-23T05:39:56Z",
            "managedFields": [{"manager": "kubectl"}],
            "ownerReferences": [{"kind": "X", "name": "y", "uid": "z", "apiVersion": "v1"}],
            "finalizers": ["f"],
            "labels": {"edge.kcp.io/projected": "yes", "app": "common"},
            "annotations": {
                "kcp.io/cluster": "12299slctppnhjnn",
                "internal.tenancy.kcp.io/shard": "s",
                "edge.kcp.io/customizer": "c",
                "note": "kept",
            },
        },
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "httpd"}]}}},
        "status": {"replicas": 0},
    }


def as_server_returns(obj: dict[str, Any], rv: str = "7") -> dict[str, Any]:
    """What a server makes of a written copy: identity, defaults, its own status."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="edge-uid", resourceVersion=rv, generation=1)
    out["spec"]["revisionHistoryLimit"] = 10
    out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    out["status"] = {"replicas": 1, "readyReplicas": 1}
    return out


def test_copy_strips_server_metadata_and_kcp_annotations() -> None:
    got = make_copy(mailbox_deployment(), DOWN)
    meta = got["metadata"]
    assert set(meta) == {"name", "namespace", "labels", "annotations"}
    assert meta["labels"] == {"edge.kcp.io/projected": "yes", "app": "common"}
    assert meta["annotations"][DOWN] == "true"
    assert meta["annotations"]["edge.kcp.io/customizer"] == "c"
    assert meta["annotations"]["note"] == "kept"
    assert "kcp.io/cluster" not in meta["annotations"]
    assert "internal.tenancy.kcp.io/shard" not in meta["annotations"]
    assert DIGEST_ANNOTATION in meta["annotations"]
    assert "status" not in got
    assert got["spec"] == mailbox_deployment()["spec"]


def test_copy_digest_changes_with_content_only() -> None:
    a = make_copy(mailbox_deployment(), DOWN)
    b_src = mailbox_deployment()
    b_src["metadata"]["resourceVersion"] = "99"
    b_src["status"] = {"replicas": 5}
    assert make_copy(b_src, DOWN) == a
    b_src["spec"]["replicas"] = 2
    assert (
        make_copy(b_src, DOWN)["metadata"]["annotations"][DIGEST_ANNOTATION]
        != (a["metadata"]["annotations"][DIGEST_ANNOTATION])
    )


def test_decide_table() -> None:
    src = mailbox_deployment()
    created = as_server_returns(make_copy(src, DOWN))
    unmarked = copy.deepcopy(created)
    del unmarked["metadata"]["annotations"][DOWN]
    assert decide(src, None, DOWN).kind == "create"
    assert decide(src, created, DOWN).kind == "none"
    assert decide(src, unmarked, DOWN).kind == "foreign"
    assert decide(None, created, DOWN).kind == "delete"
    assert decide(None, unmarked, DOWN).kind == "none"
    assert decide(None, None, DOWN).kind == "none"
    deleting = copy.deepcopy(src)
    deleting["metadata"]["deletionTimestamp"] = "2023-04-23T05:39:56Z"
    assert decide(deleting, created, DOWN).kind == "delete"
    # An upsync marker does not make an object the downsyncer's.
    other = copy.deepcopy(unmarked)
    other["metadata"]["annotations"][ANNOTATION_UPSYNCED] = "true"
    assert decide(None, other, DOWN).kind == "none"


def test_update_keeps_target_identity_and_status() -> None:
    src = mailbox_deployment()
    target = as_server_returns(make_copy(src, DOWN))
    src["spec"]["replicas"] = 3
    action = decide(src, target, DOWN)
    assert action.kind == "update" and action.obj is not None
    assert action.obj["metadata"]["resourceVersion"] == "7"
    assert action.obj["metadata"]["uid"] == "edge-uid"
    assert action.obj["status"] == target["status"]
    assert action.obj["spec"]["replicas"] == 3


def test_drift_at_the_target_is_repaired() -> None:
    src = mailbox_deployment()
    target = as_server_returns(make_copy(src, DOWN))
    target["spec"]["replicas"] = 9  # someone edited the edge copy
    assert decide(src, target, DOWN).kind == "update"
    target = as_server_returns(make_copy(src, DOWN))
    del target["metadata"]["labels"]["app"]
    assert decide(src, target, DOWN).kind == "update"


def test_status_update() -> None:
    src = mailbox_deployment()
    edge = as_server_returns(make_copy(src, DOWN))
    update = status_update(src, edge)
    assert update is not None and update["status"] == edge["status"]
    assert update["metadata"]["resourceVersion"] == "42"
    assert status_update(update, edge) is None
    no_status = copy.deepcopy(edge)
    del no_status["status"]
    assert status_update(src, no_status) is None


def test_system_objects() -> None:
    assert is_system_object("serviceaccounts", {"metadata": {"name": "default"}})
    assert is_system_object("configmaps", {"metadata": {"name": "kube-root-ca.crt"}})
    assert is_system_object(
        "secrets", {"metadata": {"name": "x"}, "type": "kubernetes.io/service-account-token"}
    )
    assert not is_system_object("configmaps", {"metadata": {"name": "httpd-htdocs"}})


json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
names = st.text("abcdefghij-", min_size=1, max_size=8)


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Thing",
        "metadata": {
            "name": draw(names),
            "namespace": draw(names),
            "resourceVersion": str(draw(st.integers(1, 10**6))),
            "labels": draw(st.dictionaries(names, names, max_size=3)),
            "annotations": draw(st.dictionaries(names, names, max_size=3)),
        },
        "spec": draw(st.dictionaries(names, json_value, max_size=4)),
    }


@given(objects(), st.dictionaries(names, json_value, max_size=3))
def test_written_copy_is_stable_whatever_the_server_adds(
    src: dict[str, Any], extra: dict[str, Any]
) -> None:
    """After a create, however the server decorates the object with fields of its own,
    the next decision is "none": no write loops."""
    action = decide(src, None, DOWN)
    assert action.kind == "create" and action.obj is not None
    stored = copy.deepcopy(action.obj)
    stored["metadata"]["resourceVersion"] = "1"
    stored["metadata"]["uid"] = "u"
    for key, value in extra.items():
        stored["spec"].setdefault(key, value)
    stored.setdefault("extraTopLevel", extra)
    assert decide(src, stored, DOWN).kind == "none"


@given(objects(), objects())
def test_a_changed_source_always_updates(src: dict[str, Any], other: dict[str, Any]) -> None:
    target = copy.deepcopy(decide(src, None, DOWN).obj)
    assert target is not None
    other["metadata"]["name"] = src["metadata"]["name"]
    other["metadata"]["namespace"] = src["metadata"]["namespace"]
    same = make_copy(other, DOWN) == make_copy(src, DOWN)
    assert (decide(other, target, DOWN).kind == "none") == same


@given(json_value)
def test_contains_is_reflexive_and_digest_ignores_key_order(value: Any) -> None:
    assert contains(value, value)
    doc = {"b": value, "a": 1}
    assert digest(doc) == digest(dict(reversed(list(doc.items()))))
