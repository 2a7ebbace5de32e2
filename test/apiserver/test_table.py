"""Tables: the columns and cells kubectl shows against a real cluster, kind by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edgemc.embedded.apiserver.builtin import builtin_type
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.table import (
    JSONPathError,
    compile_jsonpath,
    human_duration,
    to_table,
)

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


def _ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(name: str, seconds_ago: float = 90, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": _ts(seconds_ago), **extra}


def _table(group: str, resource: str, *objects: dict[str, Any], **kw: Any) -> dict[str, Any]:
    rt = builtin_type(group, resource)
    assert rt is not None
    return to_table(rt, list(objects), now=NOW, **kw)


def _headers(table: dict[str, Any], wide: bool = False) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if wide or c["priority"] == 0]


def _cells(table: dict[str, Any], row: int = 0, wide: bool = False) -> list[Any]:
    keep = [wide or c["priority"] == 0 for c in table["columnDefinitions"]]
    return [cell for cell, k in zip(table["rows"][row]["cells"], keep, strict=True) if k]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (5, "5s"),
        (119, "119s"),
        (124, "2m4s"),
        (300, "5m"),
        (394, "6m34s"),
        (57 * 60 + 30, "57m"),
        (179 * 60, "179m"),
        (3 * 3600 + 20 * 60, "3h20m"),
        (8 * 3600 + 59, "8h"),
        (47 * 3600, "47h"),
        (3 * 86400, "3d"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (100 * 86400, "100d"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_table_envelope_and_row_objects() -> None:
    cm = {"metadata": _meta("cm1", labels={"a": "b"}), "data": {"x": "1", "y": "2"}}
    table = _table("", "configmaps", cm, resource_version="42", continue_token="abc")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "abc"}
    name = table["columnDefinitions"][0]
    assert set(name) == {"name", "type", "format", "description", "priority"}
    assert (name["name"], name["type"], name["format"]) == ("Name", "string", "name")
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm["metadata"],
    }
    assert _table("", "configmaps", cm, include_object="Object")["rows"][0]["object"] is cm
    assert "object" not in _table("", "configmaps", cm, include_object="None")["rows"][0]
    assert _table("", "configmaps")["rows"] == []


def test_namespaces() -> None:
    table = _table(
        "", "namespaces", {"metadata": _meta("commonstuff", 394), "status": {"phase": "Active"}}
    )
    assert _headers(table) == ["Name", "Status", "Age"]
    assert _cells(table) == ["commonstuff", "Active", "6m34s"]


def test_deployments() -> None:
    deploy = {
        "metadata": _meta("commond", 401),
        "spec": {
            "replicas": 2,
            "selector": {
                "matchLabels": {"app": "c"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "image": "nginx"},
                        {"name": "b", "image": "busybox:1"},
                    ]
                }
            },
        },
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1},
    }
    table = _table("apps", "deployments", deploy)
    assert _headers(table) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert _cells(table) == ["commond", "1/2", 2, 1, "6m41s"]
    assert _headers(table, wide=True)[-3:] == ["Containers", "Images", "Selector"]
    assert _cells(table, wide=True)[-3:] == ["a,b", "nginx,busybox:1", "app=c,tier in (a,b)"]
    # kcp: no controllers, no status, no defaulted replicas (SEED shows 0/0 0 0).
    bare = _table("apps", "deployments", {"metadata": _meta("x"), "spec": {}})
    assert _cells(bare, wide=True)[1:4] == ["0/0", 0, 0]
    assert _cells(bare, wide=True)[-1] == "<none>"


def test_replicasets() -> None:
    rs = {
        "metadata": _meta("web-abc"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    table = _table("apps", "replicasets", rs)
    assert _headers(table) == ["Name", "Desired", "Current", "Ready", "Age"]
    assert _cells(table) == ["web-abc", 3, 3, 2, "90s"]


def test_pods() -> None:
    pod = {
        "metadata": _meta("p1", 600),
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"finishedAt": _ts(65)}}},
                {"name": "b", "ready": True, "restartCount": 1, "state": {"running": {}}},
            ],
        },
    }  # fmt: skip
    table = _table("", "pods", pod)
    assert _headers(table) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert _cells(table) == ["p1", "2/2", "Running", "3 (65s ago)", "10m"]
    assert _headers(table, wide=True)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    assert _cells(table, wide=True)[5:] == ["10.0.0.5", "n1", "<none>", "<none>"]


@pytest.mark.parametrize(
    ("status", "extra", "expected"),
    [
        ({"phase": "Pending"}, {}, "Pending"),
        (
            {
                "phase": "Pending",
                "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}],
            },
            {},
            "ContainerCreating",
        ),
        (
            {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 2}}}]},
            {},
            "ExitCode:2",
        ),
        (
            {
                "phase": "Succeeded",
                "containerStatuses": [
                    {"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}
                ],
            },
            {},
            "Completed",
        ),
        (
            {
                "phase": "Pending",
                "initContainerStatuses": [{"name": "i", "state": {"running": {}}}],
            },
            {},
            "Init:0/1",
        ),
        ({"phase": "Running"}, {"deletionTimestamp": "2026-01-02T11:59:00Z"}, "Terminating"),
        ({"phase": "Failed", "reason": "Evicted"}, {}, "Evicted"),
    ],
)
def test_pod_status_column(status: dict[str, Any], extra: dict[str, Any], expected: str) -> None:
    pod = {
        "metadata": _meta("p", **extra),
        "spec": {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}]},
        "status": status,
    }
    assert _cells(_table("", "pods", pod))[2] == expected


def test_configmaps_secrets_serviceaccounts() -> None:
    cm = _table(
        "", "configmaps", {"metadata": _meta("c"), "data": {"a": "1"}, "binaryData": {"b": ""}}
    )
    assert _headers(cm) == ["Name", "Data", "Age"]
    assert _cells(cm) == ["c", 2, "90s"]
    secret = _table(
        "", "secrets", {"metadata": _meta("s"), "type": "Opaque", "data": {"a": "eA=="}}
    )
    assert _headers(secret) == ["Name", "Type", "Data", "Age"]
    assert _cells(secret) == ["s", "Opaque", 1, "90s"]
    sa = _table("", "serviceaccounts", {"metadata": _meta("default")})
    assert _headers(sa) == ["Name", "Secrets", "Age"]
    assert _cells(sa) == ["default", 0, "90s"]


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        (
            {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            },
            {},
            ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"],
        ),
        (
            {
                "type": "NodePort",
                "clusterIP": "10.96.1.1",
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
            },
            {},
            ["NodePort", "10.96.1.1", "<none>", "80:30080/TCP"],
        ),
        (
            {"type": "LoadBalancer", "clusterIP": "10.96.1.2", "ports": [{"port": 443}]},
            {},
            ["LoadBalancer", "10.96.1.2", "<pending>", "443/TCP"],
        ),
        (
            {"type": "LoadBalancer", "clusterIP": "10.96.1.2"},
            {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
            ["LoadBalancer", "10.96.1.2", "1.2.3.4", "<none>"],
        ),
        (
            {"type": "ExternalName", "externalName": "db.example.com"},
            {},
            ["ExternalName", "<none>", "db.example.com", "<none>"],
        ),
    ],
)
def test_services(spec: dict[str, Any], status: dict[str, Any], expected: list[str]) -> None:
    table = _table(
        "",
        "services",
        {
            "metadata": _meta("svc"),
            "spec": {**spec, "selector": {"b": "2", "a": "1"}},
            "status": status,
        },
    )
    assert _headers(table) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert _cells(table) == ["svc", *expected, "90s"]
    assert _cells(table, wide=True)[-1] == "a=1,b=2"


def test_events() -> None:
    event = {
        "metadata": _meta("p1.17a"),
        "involvedObject": {"kind": "Pod", "name": "p1", "fieldPath": "spec.containers{c}"},
        "reason": "Pulled",
        "message": "Successfully pulled image\n",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": _ts(600),
        "lastTimestamp": _ts(30),
        "count": 4,
    }
    table = _table("", "events", event)
    assert _headers(table) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert _cells(table) == [
        "30s (x4 over 10m)",
        "Normal",
        "Pulled",
        "pod/p1",
        "Successfully pulled image",
    ]
    assert _cells(table, wide=True)[4:6] == ["spec.containers{c}", "kubelet, n1"]
    assert _cells(table, wide=True)[-3:] == ["10m", 4, "p1.17a"]


def test_limitranges_roles_clusterroles_crds_show_created_at() -> None:
    created = _ts(90)
    for group, resource in [
        ("", "limitranges"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    ]:
        table = _table(group, resource, {"metadata": _meta("x")})
        assert _headers(table) == ["Name", "Created At"]
        assert table["columnDefinitions"][1]["type"] == "date"
        assert _cells(table) == ["x", created]


def test_resourcequotas() -> None:
    quota = {
        "metadata": _meta("q"),
        "status": {
            "hard": {"pods": "4", "requests.cpu": "1", "limits.cpu": "2", "limits.memory": "1Gi"},
            "used": {"pods": "1", "limits.cpu": "500m"},
        },
    }
    table = _table("", "resourcequotas", quota)
    assert _headers(table) == ["Name", "Age", "Request", "Limit"]
    assert _cells(table) == [
        "q",
        "90s",
        "pods: 1/4, requests.cpu: 0/1",
        "limits.cpu: 500m/2, limits.memory: 0/1Gi",
    ]


def test_rolebindings() -> None:
    binding = {
        "metadata": _meta("rb"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "sa", "namespace": "ns1"},
            {"kind": "User", "name": "bob"},
        ],
    }
    for resource in ("rolebindings", "clusterrolebindings"):
        table = _table("rbac.authorization.k8s.io", resource, binding)
        assert _headers(table) == ["Name", "Role", "Age"]
        assert _cells(table) == ["rb", "ClusterRole/view", "90s"]
        assert _cells(table, wide=True)[3:] == ["alice, bob", "devs", "ns1/sa"]


def test_leases_and_ingresses() -> None:
    lease = _table(
        "coordination.k8s.io",
        "leases",
        {"metadata": _meta("l"), "spec": {"holderIdentity": "me_1"}},
    )
    assert _headers(lease) == ["Name", "Holder", "Age"]
    assert _cells(lease) == ["l", "me_1", "90s"]
    ingress = {
        "metadata": _meta("ing"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {"host": "a.example.com"},
                {"host": "b.example.com"},
                {},
                {"host": "c"},
                {"host": "d"},
            ],
            "tls": [{"hosts": ["a.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    }
    table = _table("networking.k8s.io", "ingresses", ingress)
    assert _headers(table) == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert _cells(table) == [
        "ing",
        "nginx",
        "a.example.com,b.example.com,c + 2 more...",
        "1.2.3.4",
        "80, 443",
        "90s",
    ]
    plain = _table(
        "networking.k8s.io", "ingresses", {"metadata": _meta("i"), "spec": {"rules": [{}]}}
    )
    assert _cells(plain)[1:5] == ["<none>", "*", "", "80"]


# -- custom resources ----------------------------------------------------------------------


def _custom(
    *columns: dict[str, Any], group: str = "tenancy.kcp.io", resource: str = "workspaces"
) -> ResourceType:
    return ResourceType(
        group, "v1alpha1", resource, "Workspace", False, printer_columns=columns, source="crd"
    )


def test_custom_resource_without_columns_shows_name_and_age() -> None:
    table = to_table(_custom(), [{"metadata": _meta("w", 3 * 86400)}], now=NOW)
    assert _headers(table) == ["Name", "Age"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert _cells(table) == ["w", "3d"]


def test_workspace_printer_columns_match_the_seed() -> None:
    rt = _custom(
        {"name": "Type", "type": "string", "jsonPath": ".spec.type.name"},
        {"name": "Region", "type": "string", "jsonPath": ".metadata.labels['region']"},
        {"name": "Phase", "type": "string", "jsonPath": ".metadata.labels['tenancy.kcp.io/phase']"},
        {"name": "URL", "type": "string", "jsonPath": ".spec.URL", "description": "URL to access"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Cluster", "type": "string", "jsonPath": ".spec.cluster", "priority": 1},
    )
    ws = {
        "metadata": _meta("mb-1", 124, labels={"tenancy.kcp.io/phase": "Ready"}),
        "spec": {"type": {"name": "universal"}, "URL": "https://h/clusters/x", "cluster": "x"},
    }
    table = to_table(rt, [ws], now=NOW)
    assert _headers(table) == ["Name", "Type", "Region", "Phase", "URL", "Age"]
    assert _cells(table) == ["mb-1", "universal", None, "Ready", "https://h/clusters/x", "2m4s"]
    assert table["columnDefinitions"][4]["description"] == "URL to access"
    assert table["columnDefinitions"][6]["priority"] == 1
    assert _cells(table, wide=True)[-1] == "x"


def test_custom_column_types_and_conditions_filter() -> None:
    rt = _custom(
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Count", "type": "integer", "jsonPath": ".status.count"},
        {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
        {"name": "Labels", "type": "string", "jsonPath": ".metadata.labels"},
        {"name": "Key", "type": "string", "jsonPath": ".metadata.annotations['x\\.y/z']"},
        {"name": "When", "type": "date", "jsonPath": ".status.when"},
        {"name": "First", "type": "string", "jsonPath": ".spec.items[0].name"},
        group="workload.kcp.io",
        resource="synctargets",
    )
    obj = {
        "metadata": _meta("st", labels={"b": "2", "a": "1"}, annotations={"x.y/z": "k"}),
        "spec": {"on": True, "items": [{"name": "first"}]},
        "status": {
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "count": 3.0,
            "when": "not a time",
        },
    }
    cells = to_table(rt, [obj], now=NOW)["rows"][0]["cells"]
    assert cells == ["st", "True", 3, True, '{"a":"1","b":"2"}', "k", "<invalid>", "first"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.a.b", [1]),
        ("{.spec.a.b}", [1]),
        (".spec['a'].b", [1]),
        ('.spec["dotted.key"]', ["d"]),
        (".spec.dotted\\.key", ["d"]),
        (".spec.list[1]", ["y"]),
        (".spec.list[-1]", ["y"]),
        (".spec.list[*]", ["x", "y"]),
        (".spec.list[5]", []),
        (".spec.missing.deeper", []),
        (".spec.objs[?(@.n!='a')].v", [2]),
        (".spec.objs[?(@.n==3)].v", []),
    ],
)
def test_jsonpath_subset(path: str, expected: list[Any]) -> None:
    doc = {
        "spec": {
            "a": {"b": 1},
            "dotted.key": "d",
            "list": ["x", "y"],
            "objs": [{"n": "a", "v": 1}, {"n": "b", "v": 2}],
        }
    }
    assert compile_jsonpath(path)(doc) == expected


def test_unsupported_jsonpath_is_an_error_and_an_empty_column() -> None:
    with pytest.raises(JSONPathError):
        compile_jsonpath(".spec..deep")
    rt = _custom({"name": "Odd", "type": "string", "jsonPath": ".spec..deep"})
    assert to_table(rt, [{"metadata": _meta("w")}], now=NOW)["rows"][0]["cells"] == ["w", None]


def test_schema_backed_deployments_keep_native_columns() -> None:
    rt = ResourceType("apps", "v1", "deployments", "Deployment", True, source="binding")
    table = to_table(rt, [{"metadata": _meta("d"), "spec": {"replicas": 1}}], now=NOW)
    assert _headers(table) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
