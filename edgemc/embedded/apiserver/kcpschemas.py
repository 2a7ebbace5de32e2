"""Schemas kcp v0.11 serves: its system CRDs, root's exports and root:compute's `kubernetes`.

Written from the field lists of kcp-facts.md (not copied from kcp): structural schemas that
type the fields edge-mc and kubectl read and keep the rest open, the printer columns kcp
shows (typos included), and the upstream Kubernetes workload schemas made structural for
`root:compute`, whose only default is a container port's `protocol: TCP`.
"""

from __future__ import annotations

import functools
from typing import Any

from edgemc.embedded.apiserver.builtin import definitions, ref_name

Schema = dict[str, Any]

OPEN: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
STRING: Schema = {"type": "string"}
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _obj(properties: dict[str, Schema], *, open_rest: bool = True, **extra: Any) -> Schema:
    node: Schema = {"type": "object", "properties": properties, **extra}
    if open_rest:
        node["x-kubernetes-preserve-unknown-fields"] = True
    return node


def _root(spec: Schema = OPEN, status: Schema = OPEN) -> Schema:
    return _obj(
        {
            "apiVersion": STRING,
            "kind": STRING,
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        open_rest=False,
    )


LABEL_SELECTOR: Schema = _obj(
    {
        "matchLabels": {"type": "object", "additionalProperties": STRING},
        "matchExpressions": {
            "type": "array",
            "items": _obj(
                {"key": STRING, "operator": STRING, "values": {"type": "array", "items": STRING}},
                open_rest=False,
            ),
        },
    },
    open_rest=False,
)

CONDITIONS: Schema = {"type": "array", "items": OPEN}


def _names(kind: str, plural: str, short: tuple[str, ...] = (), cats: tuple[str, ...] = ()) -> dict:
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short:
        names["shortNames"] = list(short)
    if cats:
        names["categories"] = list(cats)
    return names


def _version(schema: Schema, columns: list[dict] | None = None, status: bool = True) -> dict:
    version: dict[str, Any] = {
        "name": "v1alpha1",
        "served": True,
        "storage": True,
        "schema": schema,
    }
    if status:
        version["subresources"] = {"status": {}}
    if columns:
        version["additionalPrinterColumns"] = columns
    return version


def _crd(
    group: str, names: dict, schema: Schema, columns: list | None = None, status: bool = True
) -> dict:
    version = _version({"openAPIV3Schema": schema}, columns, status)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{names['plural']}.{group}"},
        "spec": {"group": group, "names": names, "scope": "Cluster", "versions": [version]},
    }


def _schema(
    prefix: str,
    group: str,
    names: dict,
    schema: Schema,
    columns: list | None = None,
    status: bool = True,
    scope: str = "Cluster",
) -> dict:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIResourceSchema",
        "metadata": {"name": f"{prefix}.{names['plural']}.{group or 'core'}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": scope,
            "versions": [_version(schema, columns, status)],
        },
    }


def apiresourceschema_to_crd(schema_obj: dict[str, Any]) -> dict[str, Any]:
    """The CRD-shaped form of an APIResourceSchema (each version's schema wrapped)."""
    spec = dict(schema_obj.get("spec", {}))
    versions = []
    for version in spec.get("versions", []):
        wrapped = dict(version)
        wrapped["schema"] = {"openAPIV3Schema": version.get("schema") or OPEN}
        versions.append(wrapped)
    spec["versions"] = versions
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": schema_obj["metadata"]["name"]},
        "spec": spec,
    }


# -- system CRDs (present in every workspace) ------------------------------------------------

SYSTEM_CRDS: tuple[dict, ...] = (
    _crd(
        "apis.kcp.io",
        _names("APIResourceSchema", "apiresourceschemas", cats=("kcp",)),
        _root(),
        status=False,
    ),
    _crd("apis.kcp.io", _names("APIExport", "apiexports", cats=("kcp",)), _root()),
    _crd(
        "apis.kcp.io",
        _names("APIBinding", "apibindings", cats=("kcp",)),
        _root(),
        [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
    ),
    _crd(
        "apis.kcp.io",
        _names("APIExportEndpointSlice", "apiexportendpointslices", cats=("kcp",)),
        _root(),
    ),
    _crd(
        "apis.kcp.io",
        _names("APIConversion", "apiconversions", cats=("kcp",)),
        _root(),
        status=False,
    ),
    _crd(
        "core.kcp.io",
        _names("LogicalCluster", "logicalclusters", cats=("kcp",)),
        _root(),
        [
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "URL", "type": "string", "jsonPath": ".status.URL"},
            AGE,
        ],
    ),
)

# -- root's exports --------------------------------------------------------------------------

WORKSPACE_SCHEMA = _root(
    spec=_obj(
        {
            "type": _obj({"name": STRING, "path": STRING}, open_rest=False),
            "location": _obj({"selector": LABEL_SELECTOR}, open_rest=False),
            "cluster": STRING,
            "URL": STRING,
        },
        open_rest=False,
    ),
    status=_obj(
        {
            "phase": {"type": "string", "default": "Scheduling"},
            "conditions": CONDITIONS,
            "initializers": {"type": "array", "items": STRING},
        },
        open_rest=False,
        default={},
    ),
)
WORKSPACE_COLUMNS = [
    {"name": "Type", "type": "string", "jsonPath": ".spec.type.name"},
    {"name": "Region", "type": "string", "jsonPath": ".metadata.labels['region']"},
    {"name": "Phase", "type": "string", "jsonPath": ".metadata.labels['tenancy.kcp.io/phase']"},
    {"name": "URL", "type": "string", "jsonPath": ".spec.URL"},
    AGE,
]

LOCATION_SCHEMA = _root(
    spec=_obj(
        {
            "resource": _obj(
                {
                    "group": {"type": "string", "enum": ["workload.kcp.io"]},
                    "version": {"type": "string", "enum": ["v1alpha1"]},
                    "resource": {"type": "string", "enum": ["synctargets"]},
                },
                open_rest=False,
            ),
            "instanceSelector": {**LABEL_SELECTOR, "default": {}},
            "description": STRING,
            "availableSelectorLabels": {"type": "array", "items": OPEN},
        },
        open_rest=False,
    ),
    status=_obj(
        {"instances": {"type": "integer"}, "availableInstances": {"type": "integer"}},
        open_rest=False,
    ),
)
LOCATION_COLUMNS = [
    {"name": "Resource", "type": "string", "jsonPath": ".spec.resource.resource"},
    {"name": "Available", "type": "string", "jsonPath": ".status.availableInstances"},
    {"name": "Instances", "type": "string", "jsonPath": ".status.instances"},
    # kcp v0.11 reads a `.dev` annotation here, so the column prints empty.
    {
        "name": "Labels",
        "type": "string",
        "jsonPath": ".metadata.annotations['scheduling.kcp.dev/labels']",
    },
    AGE,
]

SYNCTARGET_SCHEMA = _root(
    spec=_obj(
        {
            "unschedulable": {"type": "boolean", "default": False},
            "evictAfter": {"type": "string", "format": "date-time"},
            "supportedAPIExports": {
                "type": "array",
                "items": _obj({"path": STRING, "export": STRING}, open_rest=False),
                "default": [{"export": "kubernetes"}],
            },
            "cells": {"type": "object", "additionalProperties": STRING},
        },
        open_rest=False,
    ),
    status=OPEN,
)
SYNCTARGET_COLUMNS = [
    {"name": "Location", "type": "string", "jsonPath": ".metadata.name", "priority": 1},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "priority": 1,
    },
    {
        "name": "Synced API resources",
        "type": "string",
        "jsonPath": ".status.syncedResources",
        "priority": 2,
    },
    # The `.dev` typo of kcp v0.11: the column prints empty.
    {
        "name": "Key",
        "type": "string",
        "jsonPath": ".metadata.labels['internal.workload.kcp.dev/key']",
        "priority": 2,
    },
    AGE,
]

ROOT_EXPORTS: dict[str, tuple[dict, ...]] = {
    "tenancy.kcp.io": (
        _schema(
            "v230116-832a4a55d",
            "tenancy.kcp.io",
            _names("Workspace", "workspaces", ("ws",), ("kcp",)),
            WORKSPACE_SCHEMA,
            WORKSPACE_COLUMNS,
        ),
        _schema(
            "v230116-832a4a55d",
            "tenancy.kcp.io",
            _names("WorkspaceType", "workspacetypes", cats=("kcp",)),
            _root(),
        ),
    ),
    "scheduling.kcp.io": (
        _schema(
            "v221006-eaaf199d",
            "scheduling.kcp.io",
            _names("Location", "locations", cats=("kcp",)),
            LOCATION_SCHEMA,
            LOCATION_COLUMNS,
        ),
        _schema(
            "v221212-cf67ac73a",
            "scheduling.kcp.io",
            _names("Placement", "placements", cats=("kcp",)),
            _root(),
        ),
    ),
    "workload.kcp.io": (
        _schema(
            "v230109-773b219c",
            "workload.kcp.io",
            _names("SyncTarget", "synctargets", cats=("kcp",)),
            SYNCTARGET_SCHEMA,
            SYNCTARGET_COLUMNS,
        ),
    ),
    "apiresource.kcp.io": (
        _schema(
            "v221006-a3b19f2e",
            "apiresource.kcp.io",
            _names("APIResourceImport", "apiresourceimports", cats=("kcp",)),
            _root(),
        ),
        _schema(
            "v221006-a3b19f2e",
            "apiresource.kcp.io",
            _names("NegotiatedAPIResource", "negotiatedapiresources", cats=("kcp",)),
            _root(),
        ),
    ),
    "topology.kcp.io": (
        _schema(
            "v230118-a0b6c2d1",
            "topology.kcp.io",
            _names("Partition", "partitions", cats=("kcp",)),
            _root(),
        ),
        _schema(
            "v230118-a0b6c2d1",
            "topology.kcp.io",
            _names("PartitionSet", "partitionsets", cats=("kcp",)),
            _root(),
        ),
    ),
}

# -- root:compute's `kubernetes` export ------------------------------------------------------

_PASSTHROUGH = (
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
    "format",
    "enum",
    "required",
)
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _structural(node: Schema, depth: int = 0) -> Schema:
    """Inline `$ref`s, one type per node, no descriptions."""
    if depth > 40:
        return dict(OPEN)
    name = ref_name(node)
    if name is not None:
        target = definitions()[name]
        if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
            return {"x-kubernetes-int-or-string": True}
        if name in ("io.k8s.apimachinery.pkg.api.resource.Quantity",):
            return {"x-kubernetes-int-or-string": True}
        return _structural(target, depth + 1)
    out: Schema = {k: node[k] for k in _PASSTHROUGH if k in node}
    types = node.get("type")
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), None)
    if types:
        out["type"] = types
    if "properties" in node:
        out["properties"] = {k: _structural(v, depth + 1) for k, v in node["properties"].items()}
        out.setdefault("type", "object")
    if "items" in node:
        out["items"] = _structural(node["items"], depth + 1)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _structural(node["additionalProperties"], depth + 1)
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        out = {**out, **OPEN}
    if "enum" in out and "type" in out and out["type"] != "string":
        out.pop("enum")
    if isinstance(out.get("enum"), list):
        out["enum"] = [e for e in out["enum"] if e is not None]
    return out


def _default_port_protocol(node: Schema) -> None:
    """kcp's kube-1.24 schemas default `protocol: TCP` on container ports, nothing else."""
    if not isinstance(node, dict):
        return
    for key, child in (node.get("properties") or {}).items():
        if key in _CONTAINER_LISTS:
            ports = child.get("items", {}).get("properties", {}).get("ports", {})
            protocol = ports.get("items", {}).get("properties", {}).get("protocol")
            if protocol is not None:
                protocol["default"] = "TCP"
        _default_port_protocol(child)
    if isinstance(node.get("items"), dict):
        _default_port_protocol(node["items"])


def _kube_schema(definition: str) -> Schema:
    schema = _structural({"$ref": f"#/$defs/{definition}"})
    schema["properties"]["metadata"] = {"type": "object"}
    _default_port_protocol(schema)
    return schema


def _compute(prefix: str, group: str, names: dict, definition: str, scope: str) -> dict:
    return _schema(prefix, group, names, _kube_schema(definition), scope=scope)


@functools.cache
def compute_export() -> tuple[dict, ...]:
    return (
        _compute(
            "v124",
            "apps",
            _names("Deployment", "deployments", ("deploy",), ("all",)),
            "io.k8s.api.apps.v1.Deployment",
            "Namespaced",
        ),
        _compute(
            "v124",
            "",
            _names("Pod", "pods", ("po",), ("all",)),
            "io.k8s.api.core.v1.Pod",
            "Namespaced",
        ),
        _compute(
            "v124",
            "",
            _names("Service", "services", ("svc",), ("all",)),
            "io.k8s.api.core.v1.Service",
            "Namespaced",
        ),
        _compute(
            "v124",
            "networking.k8s.io",
            _names("Ingress", "ingresses", ("ing",)),
            "io.k8s.api.networking.v1.Ingress",
            "Namespaced",
        ),
    )


def _fix_versions(schemas: tuple[dict, ...]) -> tuple[dict, ...]:
    """The compute schemas serve `v1` (the kube version), not v1alpha1."""
    for schema in schemas:
        for version in schema["spec"]["versions"]:
            version["name"] = "v1"
    return schemas


COMPUTE_EXPORT: tuple[dict, ...] = _fix_versions(compute_export())

# -- workspace types -------------------------------------------------------------------------


def _wtype(name: str, default_child: str | None, bindings: bool, **spec: Any) -> dict:
    body: dict[str, Any] = dict(spec)
    if default_child:
        body["defaultChildWorkspaceType"] = {"name": default_child, "path": "root"}
    if bindings:
        body["defaultAPIBindings"] = [
            {"path": "root", "export": e}
            for e in (
                "tenancy.kcp.io",
                "scheduling.kcp.io",
                "workload.kcp.io",
                "apiresource.kcp.io",
                "topology.kcp.io",
            )
        ]
    return {
        "apiVersion": "tenancy.kcp.io/v1alpha1",
        "kind": "WorkspaceType",
        "metadata": {"name": name},
        "spec": body,
    }


WORKSPACE_TYPES: tuple[dict, ...] = (
    _wtype("root", "organization", False, extend={"with": [{"name": "universal", "path": "root"}]}),
    _wtype("universal", None, True, initializer=True),
    _wtype(
        "organization",
        "universal",
        False,
        extend={"with": [{"name": "universal", "path": "root"}]},
        limitAllowedParents={"types": [{"name": "root", "path": "root"}]},
    ),
    _wtype(
        "team",
        "universal",
        False,
        extend={"with": [{"name": "universal", "path": "root"}]},
        limitAllowedParents={
            "types": [{"name": "organization", "path": "root"}, {"name": "team", "path": "root"}]
        },
    ),
    _wtype("home", "universal", False, extend={"with": [{"name": "universal", "path": "root"}]}),
)
