"""Resource classes, system objects, and the copy/merge rules of projection (no server)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgemc.controllers.placement.classes import (
    ResourceClass,
    classify,
    goes_to_edge,
    goes_to_mailbox,
    is_system_object,
)
from edgemc.controllers.placement.projection import (
    is_system_key,
    merge_into,
    project_object,
    projected_namespace,
)


def test_classes() -> None:
    assert classify("apps", "deployments") is ResourceClass.TO_EDGE
    assert classify("group4.test", "gizmos") is ResourceClass.TO_EDGE
    # The original's typo made clusterrolebindings fall through; the class is the same.
    assert classify("rbac.authorization.k8s.io", "clusterrolebindings") is ResourceClass.TO_EDGE
    assert classify("apis.kcp.io", "apibindings") is ResourceClass.TO_MAILBOX
    assert goes_to_mailbox("apis.kcp.io", "apibindings")
    assert not goes_to_edge("apis.kcp.io", "apibindings")
    assert classify("apis.kcp.io", "apiconversions") is ResourceClass.NOT_SUPPORTED
    for gr in [("edge.kcp.io", "customizers"), ("", "events"), ("events.k8s.io", "events")]:
        assert classify(*gr) is ResourceClass.NOT_FOR_EDGE
        assert not goes_to_mailbox(*gr)
    assert goes_to_edge("", "namespaces")


def test_system_objects() -> None:
    token = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "default-token-x"}}
    assert is_system_object({**token, "type": "kubernetes.io/service-account-token"})
    assert is_system_object({**token, "type": "bootstrap.kubernetes.io/token"})
    assert not is_system_object({**token, "type": "Opaque"})
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"}}
    assert is_system_object(cm)
    assert not is_system_object({**cm, "metadata": {"name": "httpd-htdocs"}})
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
    assert is_system_object(sa)
    assert not is_system_object({**sa, "metadata": {"name": "builder"}})


SOURCE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "cm",
        "namespace": "ns",
        "uid": "u1",
        "resourceVersion": "17",
        "generation": 3,
        "creationTimestamp": "2023-04-23T05:33:37Z",
        "managedFields": [{"manager": "kubectl"}],
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u0"}],
        "labels": {"app": "a", "internal.apis.kcp.io/export": "h"},
        "annotations": {"kcp.io/cluster": "wmw", "note": "n"},
    },
    "data": {"k": "v"},
    "status": {"phase": "ignored"},
}


def test_project_object_strips_server_metadata() -> None:
    copy = project_object(SOURCE)
    assert copy == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "ns",
            "labels": {"app": "a", "edge.kcp.io/projected": "yes"},
            "annotations": {"note": "n"},
        },
        "data": {"k": "v"},
    }
    assert SOURCE["metadata"]["labels"] == {"app": "a", "internal.apis.kcp.io/export": "h"}


def test_merge_rules() -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "ns",
            "uid": "mailbox-uid",
            "resourceVersion": "99",
            "labels": {"edge.kcp.io/projected": "yes", "mine": "kept", "app": "old"},
            "annotations": {"kcp.io/cluster": "mb"},
        },
        "data": {"k": "old"},
        "binaryData": {"gone": "eA=="},
        "status": {"edge": "reported"},
    }
    merged = merge_into(existing, SOURCE)
    assert merged["data"] == {"k": "v"}
    assert "binaryData" not in merged  # top-level fields follow the source
    assert merged["status"] == {"edge": "reported"}  # status belongs to the mailbox side
    meta = merged["metadata"]
    assert meta["uid"] == "mailbox-uid" and meta["resourceVersion"] == "99"
    assert meta["labels"] == {"edge.kcp.io/projected": "yes", "mine": "kept", "app": "a"}
    assert meta["annotations"] == {"kcp.io/cluster": "mb", "note": "n"}
    assert merge_into(merged, SOURCE) == merged


def test_system_keys() -> None:
    assert is_system_key("kcp.io/cluster")
    assert is_system_key("internal.apis.kcp.io/export")
    assert not is_system_key("edge.kcp.io/customizer")
    assert not is_system_key("app.kubernetes.io/name")


def test_projected_namespace() -> None:
    assert projected_namespace("n") == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "n", "labels": {"edge.kcp.io/projected": "yes"}},
    }


keys = st.sampled_from(["a", "b", "kcp.io/cluster", "x.kcp.io/y", "edge.kcp.io/z"])
maps = st.dictionaries(keys, st.text(max_size=3), max_size=4)
bodies = st.dictionaries(st.sampled_from(["spec", "data", "extra"]), st.integers(), max_size=3)


@given(maps, maps, maps, maps, bodies, bodies)
def test_merge_is_idempotent_and_source_wins(
    dest_labels: dict[str, str],
    src_labels: dict[str, str],
    dest_ann: dict[str, str],
    src_ann: dict[str, str],
    dest_body: dict[str, int],
    src_body: dict[str, int],
) -> None:
    existing = {"metadata": {"labels": dest_labels, "annotations": dest_ann}, **dest_body}
    source = {"metadata": {"labels": src_labels, "annotations": src_ann}, **src_body}
    once = merge_into(existing, source)
    assert merge_into(once, source) == once
    for key, value in src_labels.items():
        if not is_system_key(key) and key != "edge.kcp.io/projected":
            assert once["metadata"]["labels"][key] == value
    for key, value in dest_labels.items():
        if is_system_key(key):
            assert once["metadata"]["labels"][key] == value
    assert {k: v for k, v in once.items() if k != "metadata"} == src_body
