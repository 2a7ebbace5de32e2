"""Tests of kcp URL helpers and client scoping (no server needed)."""

from __future__ import annotations

import pytest

from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource
from edgemc.runtime.kcp import cluster_of, split_cluster_url, wildcard_resource


@pytest.mark.parametrize(
    ("url", "base", "cluster"),
    [
        ("https://h:6443", "https://h:6443", None),
        ("https://h:6443/clusters/root:espw", "https://h:6443", "root:espw"),
        ("https://h:6443/clusters/*/", "https://h:6443", "*"),
        (
            "https://h:6443/services/apiexport/root/workload.kcp.io/clusters/*",
            "https://h:6443/services/apiexport/root/workload.kcp.io",
            "*",
        ),
        (
            "https://h:6443/services/apiexport/7qk/edge.kcp.io",
            "https://h:6443/services/apiexport/7qk/edge.kcp.io",
            None,
        ),
    ],
)
def test_split_cluster_url(url: str, base: str, cluster: str | None) -> None:
    assert split_cluster_url(url) == (base, cluster)


def test_paths_and_scoping() -> None:
    client = Client(ClusterConfig.for_server("https://h:6443/"))
    cm = GroupVersionResource("", "v1", "configmaps")
    st = GroupVersionResource.parse("workload.kcp.io/v1alpha1/synctargets")
    assert cm.path("ns", "x") == "/api/v1/namespaces/ns/configmaps/x"
    assert st.path(None, "s", "status") == "/apis/workload.kcp.io/v1alpha1/synctargets/s/status"
    assert GroupVersionResource.parse("v1/namespaces").path() == "/api/v1/namespaces"
    ws = client.cluster("root:espw")
    assert (
        ws.url(cm.path("default"))
        == "https://h:6443/clusters/root:espw/api/v1/namespaces/default/configmaps"
    )
    wildcard = client.cluster("*")
    assert wildcard.url(cm.path(), {"watch": "true", "labelSelector": "a in (b,c)", "x": None}) == (
        "https://h:6443/clusters/*/api/v1/configmaps?watch=true&labelSelector=a%20in%20%28b%2Cc%29"
    )
    view = client.with_base_url("https://h:6443/services/apiexport/root/workload.kcp.io")
    assert view.cluster("*").url(st.path()) == (
        "https://h:6443/services/apiexport/root/workload.kcp.io/clusters/*"
        "/apis/workload.kcp.io/v1alpha1/synctargets"
    )
    with pytest.raises(ValueError):
        ws.cluster("other")


def test_cluster_of() -> None:
    assert cluster_of({"metadata": {"annotations": {"kcp.io/cluster": "abc"}}}) == "abc"
    assert cluster_of({"metadata": {}}) == ""


def test_wildcard_resource_names_the_identity_of_a_bound_resource() -> None:
    deployments = GroupVersionResource("apps", "v1", "deployments")
    binding = {
        "status": {
            "boundResources": [
                {"group": "", "resource": "pods", "schema": {"identityHash": "p1"}},
                {"group": "apps", "resource": "deployments", "schema": {"identityHash": "d1"}},
            ]
        }
    }
    pending = {"status": {}}
    assert wildcard_resource(deployments, [pending, binding]) == GroupVersionResource(
        "apps", "v1", "deployments:d1"
    )
    assert wildcard_resource(deployments, [pending]) is None
    configmaps = GroupVersionResource("", "v1", "configmaps")
    assert wildcard_resource(configmaps, []) == configmaps
    widgets = GroupVersionResource("example.io", "v1", "widgets")
    assert wildcard_resource(widgets, [binding]) is None
