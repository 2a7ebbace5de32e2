"""kcp v0.11's own schemas: structural, named by kcp's rule, and served as kcp serves them."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kcphttp import WS, Http, create_workspace

from edgemc.embedded.apiserver import kcpschemas
from edgemc.embedded.apiserver.crds import types_from_crd
from edgemc.embedded.apiserver.defaults import apply_schema_defaults
from edgemc.embedded.apiserver.kcpschemas import (
    DEFAULT_BINDING_EXPORTS,
    ROOT_EXPORTS,
    SYSTEM_CRDS,
    WORKSPACE_TYPES,
    apiresourceschema_to_crd,
    compute_export,
    kube_structural_schema,
    schema_name,
)
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.table import compile_jsonpath, printer_for
from edgemc.embedded.apiserver.tenancy import DEFAULT_EXPORTS
from edgemc.embedded.apiserver.validation import (
    prune_unknown_fields,
    structural_schema_causes,
    validate_crd,
    validate_object,
)

Obj = dict[str, Any]
PREFIX_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Groups without a dot that kcp's APIResourceSchema validation accepts.
SINGLE_WORD_GROUPS = {"apps", "batch", "extensions", "policy", "autoscaling"}


def _all_schemas() -> list[Obj]:
    return [s for schemas in ROOT_EXPORTS.values() for s in schemas] + list(compute_export())


def _crd_shaped() -> list[Obj]:
    return list(SYSTEM_CRDS) + [apiresourceschema_to_crd(s) for s in _all_schemas()]


def _open_api_schemas() -> Iterator[tuple[str, Obj]]:
    for crd in _crd_shaped():
        for version in crd["spec"]["versions"]:
            yield crd["spec"]["names"]["plural"], version["schema"]["openAPIV3Schema"]


def _nodes(node: Obj, path: str = "") -> Iterator[tuple[str, Obj]]:
    yield path, node
    for key, sub in (node.get("properties") or {}).items():
        yield from _nodes(sub, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def _types(plural: str) -> ResourceType:
    for crd in _crd_shaped():
        if crd["spec"]["names"]["plural"] == plural:
            return types_from_crd(crd)[0]
    raise KeyError(plural)


def _defaults(schema: Obj) -> dict[str, Any]:
    return {path: node["default"] for path, node in _nodes(schema) if "default" in node}


# -- structure --------------------------------------------------------------------------------


@pytest.mark.parametrize("plural,schema", list(_open_api_schemas()))
def test_every_schema_is_structural(plural: str, schema: Obj) -> None:
    assert structural_schema_causes(schema, plural) == []
    for path, node in _nodes(schema):
        where = f"{plural}{path}"
        assert "$ref" not in node, where
        assert "description" not in node, where
        typed = isinstance(node.get("type"), str)
        assert (
            typed
            or node.get("x-kubernetes-preserve-unknown-fields") is True
            or node.get("x-kubernetes-int-or-string") is True
        ), where
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), where
        assert not (node.get("properties") and isinstance(node.get("additionalProperties"), dict))
        for branch in node.get("anyOf", []) + node.get("oneOf", []):
            # Value constraints only: branches never declare fields of their own.
            assert set(branch) <= {"type", "required"}, where
    assert schema["properties"]["metadata"]["type"] == "object"


def test_crds_validate_as_apiextensions_does() -> None:
    for crd in SYSTEM_CRDS:
        assert validate_crd(crd) == [], crd["metadata"]["name"]
    for schemas in ROOT_EXPORTS.values():
        for schema in schemas:
            assert validate_crd(apiresourceschema_to_crd(schema)) == [], schema["metadata"]


# -- names ------------------------------------------------------------------------------------


def test_schema_names_follow_kcps_rule() -> None:
    for schema in _all_schemas():
        spec = schema["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        name = schema["metadata"]["name"]
        suffix = f".{plural}.{group or 'core'}"
        assert name.endswith(suffix), name
        assert PREFIX_RE.match(name.removesuffix(suffix)), name
        assert group != "core" and (not group or "." in group or group in SINGLE_WORD_GROUPS)
        assert sum(1 for v in spec["versions"] if v["storage"]) == 1
        assert schema["apiVersion"] == "apis.kcp.io/v1alpha1"
        assert schema["kind"] == "APIResourceSchema"
    assert schema_name("v124", "pods", "") == "v124.pods.core"


def test_kcp_v0_11_schema_names() -> None:
    names = {e: [s["metadata"]["name"] for s in schemas] for e, schemas in ROOT_EXPORTS.items()}
    assert names == {
        "tenancy.kcp.io": [
            "v221219-c92ed8152.clusterworkspaces.tenancy.kcp.io",
            "v230110-89146c99.workspacetypes.tenancy.kcp.io",
            "v230116-832a4a55d.workspaces.tenancy.kcp.io",
        ],
        "scheduling.kcp.io": [
            "v221006-eaaf199d.locations.scheduling.kcp.io",
            "v221212-cf67ac73a.placements.scheduling.kcp.io",
        ],
        "workload.kcp.io": ["v230109-773b219c.synctargets.workload.kcp.io"],
        "apiresource.kcp.io": [
            "v220628-546034da.apiresourceimports.apiresource.kcp.io",
            "v220628-546034da.negotiatedapiresources.apiresource.kcp.io",
        ],
        "topology.kcp.io": [
            "v221115-9b370eb8.partitions.topology.kcp.io",
            "v230202-eee1a845.partitionsets.topology.kcp.io",
        ],
        "shards.core.kcp.io": ["v230116-943e458f6.shards.core.kcp.io"],
    }
    assert [s["metadata"]["name"] for s in compute_export()] == [
        "v124.ingresses.networking.k8s.io",
        "v124.services.core",
        "v124.deployments.apps",
        "v124.pods.core",
    ]


# -- served types -----------------------------------------------------------------------------

# (group, version, resource) -> kind, namespaced, subresources, short names, categories
EXPECTED_TYPES: dict[tuple[str, str, str], tuple[str, bool, tuple, tuple, tuple]] = {
    ("apis.kcp.io", "v1alpha1", "apiresourceschemas"): (
        "APIResourceSchema", False, (), (), ("kcp",)),
    ("apis.kcp.io", "v1alpha1", "apiexports"): ("APIExport", False, ("status",), (), ("kcp",)),
    ("apis.kcp.io", "v1alpha1", "apibindings"): ("APIBinding", False, ("status",), (), ("kcp",)),
    ("apis.kcp.io", "v1alpha1", "apiexportendpointslices"): (
        "APIExportEndpointSlice", False, ("status",), (), ("kcp",)),
    ("apis.kcp.io", "v1alpha1", "apiconversions"): ("APIConversion", False, (), (), ("kcp",)),
    ("core.kcp.io", "v1alpha1", "logicalclusters"): (
        "LogicalCluster", False, ("status",), (), ("kcp",)),
    ("tenancy.kcp.io", "v1alpha1", "clusterworkspaces"): (
        "ClusterWorkspace", False, ("status",), (), ("kcp",)),
    ("tenancy.kcp.io", "v1alpha1", "workspacetypes"): (
        "WorkspaceType", False, ("status",), (), ("kcp",)),
    ("tenancy.kcp.io", "v1alpha1", "workspaces"): (
        "Workspace", False, ("status",), ("ws",), ("kcp",)),
    ("scheduling.kcp.io", "v1alpha1", "locations"): ("Location", False, ("status",), (), ("kcp",)),
    ("scheduling.kcp.io", "v1alpha1", "placements"): (
        "Placement", False, ("status",), (), ("kcp",)),
    ("workload.kcp.io", "v1alpha1", "synctargets"): (
        "SyncTarget", False, ("status",), (), ("kcp",)),
    ("apiresource.kcp.io", "v1alpha1", "apiresourceimports"): (
        "APIResourceImport", False, ("status",), (), ("kcp",)),
    ("apiresource.kcp.io", "v1alpha1", "negotiatedapiresources"): (
        "NegotiatedAPIResource", False, ("status",), (), ("kcp",)),
    ("topology.kcp.io", "v1alpha1", "partitions"): ("Partition", False, (), (), ("kcp",)),
    ("topology.kcp.io", "v1alpha1", "partitionsets"): (
        "PartitionSet", False, ("status",), (), ("kcp",)),
    ("core.kcp.io", "v1alpha1", "shards"): ("Shard", False, ("status",), (), ("kcp",)),
    ("networking.k8s.io", "v1", "ingresses"): ("Ingress", True, ("status",), ("ing",), ()),
    ("", "v1", "services"): ("Service", True, ("status",), ("svc",), ("all",)),
    ("apps", "v1", "deployments"): (
        "Deployment", True, ("status", "scale"), ("deploy",), ("all",)),
    ("", "v1", "pods"): ("Pod", True, ("status",), ("po",), ("all",)),
}  # fmt: skip


def test_types_from_the_schemas() -> None:
    seen = {}
    for crd in _crd_shaped():
        for rt in types_from_crd(crd):
            seen[(rt.group, rt.version, rt.resource)] = (
                rt.kind,
                rt.namespaced,
                rt.subresources,
                rt.short_names,
                rt.categories,
            )
            assert rt.list_kind == rt.kind + "List"
            assert rt.singular == rt.kind.lower()
            assert not rt.builtin and rt.schema is not None
    assert seen == EXPECTED_TYPES


def test_system_crds_are_kcps_six() -> None:
    assert sorted(crd["metadata"]["name"] for crd in SYSTEM_CRDS) == [
        "apibindings.apis.kcp.io",
        "apiconversions.apis.kcp.io",
        "apiexportendpointslices.apis.kcp.io",
        "apiexports.apis.kcp.io",
        "apiresourceschemas.apis.kcp.io",
        "logicalclusters.core.kcp.io",
    ]
    assert {crd["spec"]["scope"] for crd in SYSTEM_CRDS} == {"Cluster"}


def test_apiresourceschema_to_crd_wraps_and_does_not_modify() -> None:
    schema = ROOT_EXPORTS["workload.kcp.io"][0]
    before = copy.deepcopy(schema)
    crd = apiresourceschema_to_crd(schema)
    assert schema == before
    version = crd["spec"]["versions"][0]
    assert version["schema"] == {"openAPIV3Schema": schema["spec"]["versions"][0]["schema"]}
    assert crd["metadata"]["name"] == "synctargets.workload.kcp.io"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["spec"]["group"] == "workload.kcp.io"


# -- printer columns --------------------------------------------------------------------------

NOW = datetime(2023, 4, 30, 12, 0, 0, tzinfo=UTC)
CREATED = "2023-04-30T11:55:00Z"


def _columns(plural: str) -> list[tuple[str, str, int]]:
    rt = _types(plural)
    return [(c["name"], c["type"], c.get("priority", 0)) for c in rt.printer_columns]


def _row(plural: str, obj: Obj) -> list[Any]:
    columns, row = printer_for(_types(plural))
    assert columns[0]["name"] == "Name"
    return row(obj, NOW)


def test_workspace_columns() -> None:
    assert _columns("workspaces") == [
        ("Type", "string", 0),
        ("Region", "string", 0),
        ("Phase", "string", 0),
        ("URL", "string", 0),
        ("Age", "date", 0),
    ]
    ws = {
        "metadata": {
            "name": "wmw-c",
            "creationTimestamp": CREATED,
            "labels": {"tenancy.kcp.io/phase": "Ready"},
        },
        "spec": {"type": {"name": "universal", "path": "root"}, "URL": "https://h/clusters/x"},
        "status": {"phase": "Ready"},
    }
    assert _row("workspaces", ws) == [
        "wmw-c",
        "universal",
        None,
        "Ready",
        "https://h/clusters/x",
        "5m",
    ]


def test_location_and_synctarget_columns_keep_kcps_dev_typos() -> None:
    assert [c[0] for c in _columns("locations")] == [
        "Resource",
        "Available",
        "Instances",
        "Labels",
        "Age",
    ]
    location = {
        "metadata": {
            "name": "florin",
            "creationTimestamp": CREATED,
            "labels": {"env": "prod"},
            "annotations": {"scheduling.kcp.io/labels": "env=prod"},
        },
        "spec": {"resource": {"group": "workload.kcp.io", "version": "v1alpha1",
                              "resource": "synctargets"}},
        "status": {"instances": 1, "availableInstances": 0},
    }  # fmt: skip
    assert _row("locations", location) == ["florin", "synctargets", "0", "1", None, "5m"]
    assert _columns("synctargets") == [
        ("Location", "string", 1),
        ("Ready", "string", 2),
        ("Synced API resources", "string", 3),
        ("Key", "string", 4),
        ("Age", "date", 0),
    ]
    target = {
        "metadata": {
            "name": "guilder",
            "creationTimestamp": CREATED,
            "labels": {"internal.workload.kcp.io/key": "abc"},
        },
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    assert _row("synctargets", target) == ["guilder", "guilder", "False", None, None, "5m"]


def test_other_columns() -> None:
    assert [c[0] for c in _columns("logicalclusters")] == ["Phase", "URL", "Age"]
    lc = {
        "metadata": {"name": "cluster", "creationTimestamp": CREATED},
        "status": {"phase": "Ready", "URL": "https://h/clusters/root"},
    }
    assert _row("logicalclusters", lc) == ["cluster", "Ready", "https://h/clusters/root", "5m"]
    for plural in ("apibindings", "apiexports", "apiresourceschemas", "placements"):
        assert _columns(plural) == [("Age", "date", 0)], plural
    assert [c[0] for c in _columns("apiexportendpointslices")] == ["Export", "Partition", "Age"]
    assert [c[0] for c in _columns("partitions")] == ["Owner", "Age"]
    assert [c[0] for c in _columns("shards")] == ["Region", "URL", "External URL", "Age"]
    # The kube kinds keep their native columns (table.py); the schemas define none.
    for plural in ("deployments", "pods", "services", "ingresses"):
        assert _columns(plural) == []


def test_every_column_path_compiles() -> None:
    for crd in _crd_shaped():
        for version in crd["spec"]["versions"]:
            for column in version.get("additionalPrinterColumns", []):
                compile_jsonpath(column["jsonPath"])
                assert column["type"] in ("string", "integer", "number", "boolean", "date")


# -- defaults ---------------------------------------------------------------------------------

PORT_PATHS = (
    ".spec.containers[].ports[].protocol",
    ".spec.initContainers[].ports[].protocol",
    ".spec.ephemeralContainers[].ports[].protocol",
)


def _kube(plural: str) -> Obj:
    for schema in compute_export():
        if schema["spec"]["names"]["plural"] == plural:
            return schema["spec"]["versions"][0]["schema"]
    raise KeyError(plural)


def test_compute_schemas_default_only_port_protocols() -> None:
    assert _defaults(_kube("deployments")) == {".spec.template" + p: "TCP" for p in PORT_PATHS}
    assert _defaults(_kube("pods")) == dict.fromkeys(PORT_PATHS, "TCP")
    assert _defaults(_kube("services")) == {".spec.ports[].protocol": "TCP"}
    assert _defaults(_kube("ingresses")) == {}


def test_deployment_gets_no_kube_defaulting() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    rt = _types("deployments")
    assert validate_object(rt, deployment).causes == []
    defaulted = copy.deepcopy(deployment)
    apply_schema_defaults(rt.schema or {}, defaulted)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["protocol"] = "TCP"
    assert defaulted == deployment  # no replicas, strategy, imagePullPolicy, ...


def test_kube_schema_shapes() -> None:
    deployment = _kube("deployments")
    spec = deployment["properties"]["spec"]
    assert spec["required"] == ["selector", "template"]
    template_meta = spec["properties"]["template"]["properties"]["metadata"]
    assert template_meta == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert deployment["properties"]["metadata"] == {"type": "object"}
    strategy = spec["properties"]["strategy"]["properties"]["rollingUpdate"]["properties"]
    assert strategy["maxSurge"]["x-kubernetes-int-or-string"] is True
    pod = spec["properties"]["template"]["properties"]["spec"]["properties"]
    containers = pod["containers"]
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    ports = containers["items"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    limits = containers["items"]["properties"]["resources"]["properties"]["limits"]
    assert limits["additionalProperties"]["x-kubernetes-int-or-string"] is True
    # One type per node, and no enums (kcp's 1.24 schemas have none).
    for path, node in _nodes(deployment):
        assert "enum" not in node, path
        assert "nullable" not in node, path


def test_kube_definition_recursion_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = {"$ref": "#/$defs/test.Node"}
    fake = {
        "test.Node": {
            "type": ["object", "null"],
            "properties": {
                "apiVersion": {"type": ["string", "null"]},
                "kind": {"type": ["string", "null"]},
                "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
                "children": {"type": ["array", "null"], "items": ref},
                "next": ref,
            },
        }
    }
    monkeypatch.setattr(kcpschemas, "definitions", lambda: fake)
    schema = kube_structural_schema("test.Node")
    open_node = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert schema["properties"]["next"] == open_node
    assert schema["properties"]["children"] == {"type": "array", "items": open_node}
    assert structural_schema_causes(schema, "node") == []


def test_a_really_recursive_kube_definition_terminates() -> None:
    name = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    schema = kube_structural_schema(name)
    assert structural_schema_causes(schema, "crd") == []


def test_compute_export_is_lazy_cached_and_fast() -> None:
    assert kcpschemas.COMPUTE_EXPORT is compute_export()
    compute_export()  # definitions loaded
    started = time.perf_counter()
    rebuilt = compute_export.__wrapped__()
    assert time.perf_counter() - started < 0.5
    assert rebuilt == compute_export()
    with pytest.raises(AttributeError):
        _ = kcpschemas.NO_SUCH_NAME  # type: ignore[attr-defined]


def test_root_export_defaults() -> None:
    workspaces = _types("workspaces")
    ws: Obj = {"metadata": {"name": "x"}}
    apply_schema_defaults(workspaces.schema or {}, ws)
    assert ws["spec"] == {} and ws["status"] == {"phase": "Scheduling"}
    target: Obj = {"metadata": {"name": "t"}, "spec": {}}
    apply_schema_defaults(_types("synctargets").schema or {}, target)
    assert target["spec"] == {
        "unschedulable": False,
        "supportedAPIExports": [{"export": "kubernetes"}],
    }
    location: Obj = {"metadata": {"name": "l"}, "spec": {"resource": {}}}
    apply_schema_defaults(_types("locations").schema or {}, location)
    assert location["spec"]["instanceSelector"] == {}
    lc: Obj = {"metadata": {"name": "cluster"}}
    apply_schema_defaults(_types("logicalclusters").schema or {}, lc)
    assert lc["spec"] == {"directlyDeletable": False}
    assert lc["status"] == {"phase": "Scheduling"}
    wt: Obj = {"metadata": {"name": "universal"}, "spec": {}}
    apply_schema_defaults(_types("workspacetypes").schema or {}, wt)
    assert wt["spec"]["defaultChildWorkspaceType"] == {"name": "universal", "path": "root"}


def test_location_resource_is_limited_to_synctargets() -> None:
    rt = _types("locations")
    bad = {
        "metadata": {"name": "l"},
        "spec": {"resource": {"group": "apps", "version": "v1", "resource": "deployments"}},
    }
    fields = {c["field"] for c in validate_object(rt, bad).causes}
    assert fields == {"spec.resource.group", "spec.resource.version", "spec.resource.resource"}


# -- real objects validate strictly (nothing kcp accepts is unknown here) ---------------------

NAME_H = "https://192.168.58.123:6443"
CONDITION = {"type": "Ready", "status": "True", "lastTransitionTime": CREATED}
SAMPLES: dict[str, Obj] = {
    "workspaces": {
        "apiVersion": "tenancy.kcp.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "apmziqj9p9fqlflm-mb-bf452e1f-45a0-4d5d-b35c-ef1ece2879ba",
                     "labels": {"tenancy.kcp.io/phase": "Ready"},
                     "finalizers": ["core.kcp.io/logicalcluster"]},
        "spec": {"type": {"name": "universal", "path": "root"}, "cluster": "yk9a66vjms1pi8hu",
                 "URL": f"{NAME_H}/clusters/yk9a66vjms1pi8hu",
                 "location": {"selector": {"matchLabels": {"name": "root"}}}},
        "status": {"phase": "Ready", "conditions": [CONDITION],
                   "initializers": ["root:universal", "system:apibindings"]},
    },
    "logicalclusters": {
        "apiVersion": "core.kcp.io/v1alpha1",
        "kind": "LogicalCluster",
        "metadata": {"name": "cluster", "annotations": {"kcp.io/path": "root:espw"}},
        "spec": {"owner": {"apiVersion": "tenancy.kcp.io/v1alpha1", "resource": "workspaces",
                           "name": "espw", "cluster": "root", "uid": "u-1"},
                 "initializers": ["root:universal", "system:apibindings"],
                 "directlyDeletable": False},
        "status": {"phase": "Initializing", "URL": f"{NAME_H}/clusters/7qkse309upzrv0fy",
                   "initializers": ["system:apibindings"], "conditions": [CONDITION]},
    },
    "apibindings": {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": "bind-edge"},
        "spec": {"reference": {"export": {"path": "root:espw", "name": "edge.kcp.io"}},
                 "permissionClaims": [{"resource": "secrets", "all": True, "state": "Accepted"}]},
        "status": {
            "phase": "Bound",
            "apiExportClusterName": "7qkse309upzrv0fy",
            "boundResources": [{"group": "edge.kcp.io", "resource": "syncerconfigs",
                                "schema": {"name": "v230407-c87b2365.syncerconfigs.edge.kcp.io",
                                           "UID": "u-2", "identityHash": "a" * 64},
                                "storageVersions": ["v1alpha1"]}],
            "conditions": [CONDITION],
            "exportPermissionClaims": [{"resource": "secrets", "all": True}],
            "appliedPermissionClaims": [{"resource": "secrets", "all": True}],
        },
    },
    "apiexports": {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIExport",
        "metadata": {"name": "kubernetes"},
        "spec": {"latestResourceSchemas": ["v124.pods.core"],
                 "identity": {"secretRef": {"namespace": "kcp-system", "name": "kubernetes"}},
                 "maximalPermissionPolicy": {"local": {}},
                 "permissionClaims": [{"group": "", "resource": "configmaps", "all": True}]},
        "status": {"identityHash": "b" * 64, "conditions": [CONDITION],
                   "virtualWorkspaces": [{"url": f"{NAME_H}/services/apiexport/root/kubernetes"}]},
    },
    "synctargets": {
        "apiVersion": "workload.kcp.io/v1alpha1",
        "kind": "SyncTarget",
        "metadata": {"name": "florin", "labels": {"id": "florin"}},
        "spec": {"unschedulable": False, "supportedAPIExports": [{"export": "kubernetes"}],
                 "cells": {"a": "b"}, "evictAfter": CREATED},
        "status": {"allocatable": {"cpu": "4", "pods": 110}, "capacity": {"memory": "1Gi"},
                   "conditions": [CONDITION], "lastSyncerHeartbeatTime": CREATED,
                   "syncedResources": [{"group": "apps", "resource": "deployments",
                                        "versions": ["v1"], "state": "Accepted",
                                        "identityHash": "c"}],
                   "virtualWorkspaces": [{"syncerURL": "s", "upsyncerURL": "u"}]},
    },
    "locations": {
        "apiVersion": "scheduling.kcp.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "default"},
        "spec": {"resource": {"group": "workload.kcp.io", "version": "v1alpha1",
                              "resource": "synctargets"},
                 "instanceSelector": {"matchLabels": {"id": "florin"}},
                 "description": "d",
                 "availableSelectorLabels": [{"key": "id", "values": ["florin"]}]},
        "status": {"instances": 1, "availableInstances": 0},
    },
}  # fmt: skip


@pytest.mark.parametrize("plural", sorted(SAMPLES))
def test_kcp_objects_validate_strictly(plural: str) -> None:
    rt = _types(plural)
    obj = copy.deepcopy(SAMPLES[plural])
    result = validate_object(rt, obj, field_validation="Strict")
    assert result.causes == [] and result.unknown_fields == []
    assert prune_unknown_fields(rt, obj) == [] and obj == SAMPLES[plural]


def test_schemas_and_workspace_types_validate_against_the_system_types() -> None:
    schemas_rt = _types("apiresourceschemas")
    for schema in _all_schemas():
        obj = copy.deepcopy(schema)
        assert validate_object(schemas_rt, obj).causes == [], schema["metadata"]["name"]
        assert prune_unknown_fields(schemas_rt, obj) == [] and obj == schema
    types_rt = _types("workspacetypes")
    for wtype in WORKSPACE_TYPES:
        assert validate_object(types_rt, wtype).causes == [], wtype["metadata"]["name"]


def test_logicalcluster_name_is_cluster_only() -> None:
    bad = {"metadata": {"name": "other"}, "spec": {}, "status": {}}
    causes = validate_object(_types("logicalclusters"), bad).causes
    assert [c["field"] for c in causes] == ["metadata.name"]


# -- workspace types --------------------------------------------------------------------------


def test_workspace_types() -> None:
    by_name = {t["metadata"]["name"]: t["spec"] for t in WORKSPACE_TYPES}
    assert sorted(by_name) == ["home", "organization", "root", "team", "universal"]
    root = {"name": "root", "path": "root"}
    universal = {"name": "universal", "path": "root"}
    assert by_name["root"]["defaultChildWorkspaceType"] == {"name": "organization", "path": "root"}
    assert by_name["root"]["limitAllowedParents"] == {"none": True}
    assert "defaultChildWorkspaceType" not in by_name["universal"]  # schema-defaulted
    assert by_name["universal"]["initializer"] is True
    assert [b["export"] for b in by_name["universal"]["defaultAPIBindings"]] == list(
        DEFAULT_EXPORTS
    )
    assert {b["path"] for b in by_name["universal"]["defaultAPIBindings"]} == {"root"}
    assert by_name["organization"]["limitAllowedParents"] == {"types": [root]}
    assert by_name["organization"]["limitAllowedChildren"] == {"types": [universal]}
    assert by_name["team"]["limitAllowedParents"] == {
        "types": [{"name": "organization", "path": "root"}, {"name": "team", "path": "root"}]
    }
    assert by_name["home"]["limitAllowedParents"] == {"none": True}
    for name in ("root", "organization", "team", "home"):
        assert by_name[name]["extend"] == {"with": [universal]}, name
    for name in ("organization", "team", "home"):
        assert by_name[name]["defaultChildWorkspaceType"] == universal, name


def test_default_bindings_cover_the_root_exports() -> None:
    assert DEFAULT_BINDING_EXPORTS == DEFAULT_EXPORTS
    assert set(ROOT_EXPORTS) == {*DEFAULT_BINDING_EXPORTS, "shards.core.kcp.io"}


# -- served by a kcp-mode server --------------------------------------------------------------


async def test_root_serves_the_schemas_as_kcp_does(admin: Http) -> None:
    exports = await admin.ok("GET", "/clusters/root/apis/apis.kcp.io/v1alpha1/apiexports")
    assert sorted(e["metadata"]["name"] for e in exports["items"]) == sorted(ROOT_EXPORTS)
    core = await admin.ok("GET", "/clusters/root/apis/core.kcp.io/v1alpha1")
    assert {r["name"] for r in core["resources"]} >= {"logicalclusters", "shards"}
    # Stored WorkspaceTypes: as written, plus the schema default of defaultChildWorkspaceType.
    for wtype in WORKSPACE_TYPES:
        name = wtype["metadata"]["name"]
        got = await admin.ok(
            "GET", f"/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspacetypes/{name}"
        )
        expected = {"defaultChildWorkspaceType": {"name": "universal", "path": "root"}}
        assert got["spec"] == {**expected, **wtype["spec"]}, name
    await create_workspace(admin, "root", "org")
    org_core = await admin.ok("GET", "/clusters/root:org/apis/core.kcp.io/v1alpha1")
    assert {r["name"] for r in org_core["resources"]} == {
        "logicalclusters",
        "logicalclusters/status",
    }
    ws = await admin.ok("GET", f"/clusters/root{WS}/org")
    assert ws["spec"]["type"] == {"name": "organization", "path": "root"}
