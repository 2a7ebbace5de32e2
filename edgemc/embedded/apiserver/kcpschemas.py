"""kcp v0.11's own API definitions: system CRDs, root's exports, root:compute, WorkspaceTypes.

Everything here is plain data built by small functions, written from the facts of kcp v0.11.0
(field names, scopes, defaults, enums, printer columns, schema name prefixes) without copying
its files: schemas are structural and type what kcp types, with no descriptions. Printer
columns keep kcp's JSONPaths, typos included (`scheduling.kcp.dev/labels`,
`internal.workload.kcp.dev/key` print empty columns on kcp too).

The `root:compute` kinds (`COMPUTE_EXPORT`, built lazily by `compute_export()`) are the upstream
Kubernetes object schemas of `builtin.definitions()` made structural: `$ref`s inlined, one type
per node, no enums, no descriptions, embedded ObjectMeta left open, and a port's
`protocol: TCP` as their only default, as in kcp's kube-1.24 schemas.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from edgemc.embedded.apiserver.builtin import definitions, ref_name
from edgemc.embedded.apiserver.resources import Schema

# --------------------------------------------------------------------------------------------
# Schema building blocks (each call returns fresh dicts: no node is shared between schemas)
# --------------------------------------------------------------------------------------------

# kcp's logical cluster path (`root:org:ws`), WorkspaceType name and initializer patterns.
PATH_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(:[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
TYPE_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
INITIALIZER_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(:[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
    r"(:[a-z0-9][a-z0-9]([-a-z0-9]*[a-z0-9])?))|(system:.+)$"
)
WORKSPACE_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
VERSION_PATTERN = r"^v[1-9][0-9]*([a-z]+[1-9][0-9]*)?$"
GROUP_PATTERN = r"^(|[a-z0-9]([-a-z0-9]*[a-z0-9](\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?)$"
RESOURCE_PATTERN = r"^[a-z][-a-z0-9]*[a-z0-9]$"


def _string(**rules: Any) -> Schema:
    return {"type": "string", **rules}


def _boolean(**rules: Any) -> Schema:
    return {"type": "boolean", **rules}


def _integer(fmt: str | None = "int32", **rules: Any) -> Schema:
    return {"type": "integer", **({"format": fmt} if fmt else {}), **rules}


def _date_time() -> Schema:
    return {"type": "string", "format": "date-time"}


def _array(items: Schema, **rules: Any) -> Schema:
    return {"type": "array", "items": items, **rules}


def _strings(**rules: Any) -> Schema:
    return _array(_string(), **rules)


def _object(
    properties: dict[str, Schema] | None = None, *, required: tuple[str, ...] = (), **rules: Any
) -> Schema:
    node: Schema = {"type": "object"}
    if properties is not None:
        node["properties"] = properties
    if required:
        node["required"] = list(required)
    node.update(rules)
    return node


def _map(values: Schema, **rules: Any) -> Schema:
    return {"type": "object", "additionalProperties": values, **rules}


def _open_object() -> Schema:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _int_or_string() -> Schema:
    return {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }


def _conditions() -> Schema:
    """kcp's condition list (`third_party/conditions`): severity, no observedGeneration."""
    return _array(
        _object(
            {
                "lastTransitionTime": _date_time(),
                "message": _string(),
                "reason": _string(),
                "severity": _string(),
                "status": _string(),
                "type": _string(),
            },
            required=("lastTransitionTime", "status", "type"),
        )
    )


def _label_selector(
    *, operators: tuple[str, ...] = (), max_expressions: int | None = None, **label_rules: Any
) -> Schema:
    operator = _string(enum=list(operators)) if operators else _string()
    expressions = _array(
        _object(
            {"key": _string(), "operator": operator, "values": _strings()},
            required=("key", "operator"),
        ),
        **({"maxItems": max_expressions} if max_expressions else {}),
    )
    return _object(
        {"matchExpressions": expressions, "matchLabels": _map(_string(), **label_rules)},
        **{"x-kubernetes-map-type": "atomic"},
    )


def _type_reference(**rules: Any) -> Schema:
    """A WorkspaceType reference `{name, path}`."""
    return _object(
        {"name": _string(pattern=TYPE_NAME_PATTERN), "path": _string(pattern=PATH_PATTERN)},
        required=("name",),
        **rules,
    )


def _type_selector() -> Schema:
    return _object(
        {"none": _boolean(), "types": _array(_type_reference(), minItems=1)},
        oneOf=[{"required": ["none"]}, {"required": ["types"]}],
    )


def _export_reference() -> Schema:
    return _object({"name": _string(), "path": _string(pattern=PATH_PATTERN)}, required=("name",))


def _permission_claim(*, group_default: bool = False, state: bool = False) -> Schema:
    group = _string(pattern=GROUP_PATTERN)
    if group_default:
        group["default"] = ""
    properties: dict[str, Schema] = {
        "all": _boolean(),
        "group": group,
        "identityHash": _string(),
        "resource": _string(pattern=RESOURCE_PATTERN),
        "resourceSelector": _array(
            _object(
                {
                    "name": _string(minLength=1, maxLength=253),
                    "namespace": _string(minLength=1),
                }
            )
        ),
    }
    if state:
        properties["state"] = _string(enum=["Accepted", "Rejected"])
    return _object(properties, required=("resource", "state") if state else ("resource",))


def _envelope(
    spec: Schema | None = None,
    status: Schema | None = None,
    *,
    metadata: Schema | None = None,
    required: tuple[str, ...] = (),
) -> Schema:
    """A whole object: apiVersion, kind, metadata (`type: object` at the root), spec, status."""
    properties: dict[str, Schema] = {
        "apiVersion": _string(),
        "kind": _string(),
        "metadata": metadata or _object(),
    }
    if spec is not None:
        properties["spec"] = spec
    if status is not None:
        properties["status"] = status
    return _object(properties, required=required)


def _name_rules(**rules: Any) -> Schema:
    return _object({"name": _string(**rules)})


# --------------------------------------------------------------------------------------------
# Names, versions, printer columns, CRD and APIResourceSchema envelopes
# --------------------------------------------------------------------------------------------


def _names(
    kind: str,
    plural: str,
    *,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = ("kcp",),
) -> dict[str, Any]:
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    return names


def _column(
    name: str, json_path: str, column_type: str = "string", priority: int = 0
) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": column_type, "jsonPath": json_path}
    if priority:
        column["priority"] = priority
    return column


def _age() -> dict[str, Any]:
    return _column("Age", ".metadata.creationTimestamp", "date")


def _version(
    schema: Schema,
    *,
    name: str = "v1alpha1",
    status: bool = True,
    scale: bool = False,
    columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    subresources: dict[str, Any] = {}
    if status:
        subresources["status"] = {}
    if scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
        }
    version: dict[str, Any] = {
        "name": name,
        "served": True,
        "storage": True,
        "schema": schema,
        "subresources": subresources,
    }
    if columns:
        version["additionalPrinterColumns"] = columns
    return version


def schema_name(prefix: str, plural: str, group: str) -> str:
    """kcp's APIResourceSchema name rule `<prefix>.<plural>.<group>` (core group: `core`)."""
    return f"{prefix}.{plural}.{group or 'core'}"


def _crd(
    group: str,
    names: dict[str, Any],
    schema: Schema,
    *,
    status: bool = True,
    columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    version = _version({"openAPIV3Schema": schema}, status=status, columns=columns)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{names['plural']}.{group}"},
        "spec": {"group": group, "names": names, "scope": "Cluster", "versions": [version]},
    }


def _resource_schema(
    prefix: str,
    group: str,
    names: dict[str, Any],
    schema: Schema,
    *,
    scope: str = "Cluster",
    version: str = "v1alpha1",
    status: bool = True,
    scale: bool = False,
    columns: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": schema_name(prefix, names["plural"], group)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIResourceSchema",
        "metadata": metadata,
        "spec": {
            "group": group,
            "names": names,
            "scope": scope,
            "versions": [
                _version(schema, name=version, status=status, scale=scale, columns=columns)
            ],
        },
    }


def apiresourceschema_to_crd(schema_obj: dict[str, Any]) -> dict[str, Any]:
    """The CRD-shaped form of an APIResourceSchema: each version's schema wrapped in
    `openAPIV3Schema` (the input is not modified; unchanged parts are shared)."""
    spec = dict(schema_obj.get("spec") or {})
    versions = []
    for version in spec.get("versions") or ():
        wrapped = dict(version)
        wrapped["schema"] = {"openAPIV3Schema": version.get("schema") or _open_object()}
        versions.append(wrapped)
    spec["versions"] = versions
    names = spec.get("names") or {}
    group = spec.get("group", "")
    name = (schema_obj.get("metadata") or {}).get("name", "")
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{names.get('plural', '')}.{group}" if group else names.get("plural", ""),
            "annotations": {"apis.kcp.io/schema-name": name},
        },
        "spec": spec,
    }


# --------------------------------------------------------------------------------------------
# System CRDs: served in every logical cluster (kcp's system:system-crds)
# --------------------------------------------------------------------------------------------


def _apiresourceschema_schema() -> Schema:
    column = _object(
        {
            "description": _string(),
            "format": _string(),
            "jsonPath": _string(),
            "name": _string(),
            "priority": _integer(),
            "type": _string(),
        },
        required=("jsonPath", "name", "type"),
    )
    version = _object(
        {
            "additionalPrinterColumns": _array(
                column,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "deprecated": _boolean(),
            "deprecationWarning": _string(),
            "name": _string(pattern=VERSION_PATTERN, minLength=1),
            "schema": _object(
                **{
                    "x-kubernetes-preserve-unknown-fields": True,
                    "x-kubernetes-map-type": "atomic",
                }
            ),
            "served": _boolean(default=True),
            "storage": _boolean(),
            "subresources": _object(
                {
                    "scale": _object(
                        {
                            "labelSelectorPath": _string(),
                            "specReplicasPath": _string(),
                            "statusReplicasPath": _string(),
                        },
                        required=("specReplicasPath", "statusReplicasPath"),
                    ),
                    "status": _object(),
                }
            ),
        },
        required=("name", "schema", "served", "storage"),
    )
    spec = _object(
        {
            "group": _string(),
            "names": _object(
                {
                    "categories": _strings(),
                    "kind": _string(),
                    "listKind": _string(),
                    "plural": _string(),
                    "shortNames": _strings(),
                    "singular": _string(),
                },
                required=("kind", "plural"),
            ),
            "scope": _string(enum=["Cluster", "Namespaced"]),
            "versions": _array(
                version,
                minItems=1,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
        },
        required=("group", "names", "scope", "versions"),
    )
    return _envelope(spec)


def _apiexport_schema() -> Schema:
    spec = _object(
        {
            "identity": _object(
                {
                    "secretRef": _object(
                        {"name": _string(), "namespace": _string()},
                        **{"x-kubernetes-map-type": "atomic"},
                    )
                }
            ),
            "latestResourceSchemas": _strings(**{"x-kubernetes-list-type": "set"}),
            "maximalPermissionPolicy": _object(
                {"local": _object()}, oneOf=[{"required": ["local"]}]
            ),
            "permissionClaims": _array(
                _permission_claim(group_default=True),
                **{
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["group", "resource"],
                },
            ),
        }
    )
    status = _object(
        {
            "conditions": _conditions(),
            "identityHash": _string(),
            "virtualWorkspaces": _array(_object({"url": _string(minLength=1)}, required=("url",))),
        }
    )
    return _envelope(spec, status)


def _apibinding_schema() -> Schema:
    spec = _object(
        {
            "permissionClaims": _array(_permission_claim(state=True)),
            "reference": _object({"export": _export_reference()}, oneOf=[{"required": ["export"]}]),
        },
        required=("reference",),
    )
    bound_resource = _object(
        {
            "group": _string(),
            "resource": _string(),
            "schema": _object(
                {
                    "UID": _string(minLength=1),
                    "identityHash": _string(minLength=1),
                    "name": _string(minLength=1),
                },
                required=("UID", "identityHash", "name"),
            ),
            "storageVersions": _strings(**{"x-kubernetes-list-type": "set"}),
        },
        required=("group", "resource", "schema"),
    )
    status = _object(
        {
            "apiExportClusterName": _string(),
            "appliedPermissionClaims": _array(_permission_claim()),
            "boundResources": _array(
                bound_resource,
                **{
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["group", "resource"],
                },
            ),
            "conditions": _conditions(),
            "exportPermissionClaims": _array(_permission_claim()),
            "phase": _string(enum=["", "Binding", "Bound"]),
        }
    )
    return _envelope(spec, status)


def _apiexportendpointslice_schema() -> Schema:
    spec = _object({"export": _export_reference(), "partition": _string()}, required=("export",))
    status = _object(
        {
            "conditions": _conditions(),
            "endpoints": _array(_object({"url": _string(minLength=1)}, required=("url",))),
        }
    )
    return _envelope(spec, status)


def _apiconversion_schema() -> Schema:
    rule = _object(
        {
            "destination": _string(minLength=1),
            "field": _string(minLength=1),
            "transformation": _string(),
        },
        required=("destination", "field"),
    )
    conversion = _object(
        {
            "from": _string(pattern=VERSION_PATTERN, minLength=1),
            "preserve": _strings(),
            "rules": _array(
                rule,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["destination"]},
            ),
            "to": _string(pattern=VERSION_PATTERN, minLength=1),
        },
        required=("from", "rules", "to"),
    )
    spec = _object(
        {
            "conversions": _array(
                conversion,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["from", "to"]},
            )
        },
        required=("conversions",),
    )
    return _envelope(spec, required=("metadata", "spec"))


def _logicalcluster_schema() -> Schema:
    spec = _object(
        {
            "directlyDeletable": _boolean(default=False),
            "initializers": _array(_string(pattern=INITIALIZER_PATTERN)),
            "owner": _object(
                {
                    "apiVersion": _string(pattern=r"^([^/]+/)?[^/]+$"),
                    "cluster": _string(minLength=1),
                    "name": _string(minLength=1),
                    "namespace": _string(),
                    "resource": _string(minLength=1),
                    "uid": _string(),
                },
                required=("apiVersion", "cluster", "name", "resource", "uid"),
            ),
        },
        default={},
    )
    status = _object(
        {
            "URL": _string(),
            "conditions": _conditions(),
            "initializers": _array(_string(pattern=INITIALIZER_PATTERN)),
            "phase": _string(default="Scheduling", enum=["Scheduling", "Initializing", "Ready"]),
        },
        default={},
    )
    # The singleton: its name can only be `cluster`.
    return _envelope(spec, status, metadata=_name_rules(enum=["cluster"]))


def system_crds() -> tuple[dict[str, Any], ...]:
    """kcp's system CRDs, CRD-shaped (`config/system-crds`)."""
    return (
        _crd(
            "apis.kcp.io",
            _names("APIResourceSchema", "apiresourceschemas"),
            _apiresourceschema_schema(),
            status=False,
            columns=[_age()],
        ),
        _crd(
            "apis.kcp.io",
            _names("APIExport", "apiexports"),
            _apiexport_schema(),
            columns=[_age()],
        ),
        _crd(
            "apis.kcp.io",
            _names("APIBinding", "apibindings"),
            _apibinding_schema(),
            columns=[_age()],
        ),
        _crd(
            "apis.kcp.io",
            _names("APIExportEndpointSlice", "apiexportendpointslices"),
            _apiexportendpointslice_schema(),
            columns=[
                _column("Export", ".spec.export.name"),
                _column("Partition", ".spec.partition"),
                _age(),
            ],
        ),
        _crd(
            "apis.kcp.io",
            _names("APIConversion", "apiconversions"),
            _apiconversion_schema(),
            status=False,
            columns=[_age()],
        ),
        _crd(
            "core.kcp.io",
            _names("LogicalCluster", "logicalclusters"),
            _logicalcluster_schema(),
            columns=[
                _column("Phase", ".status.phase"),
                _column("URL", ".status.URL"),
                _age(),
            ],
        ),
    )


SYSTEM_CRDS: tuple[dict, ...] = system_crds()

# --------------------------------------------------------------------------------------------
# root's exports (`config/root-phase0`)
# --------------------------------------------------------------------------------------------


def _workspace_schema() -> Schema:
    spec = _object(
        {
            "URL": _string(),
            "cluster": _string(),
            "location": _object({"selector": _label_selector()}),
            "type": _type_reference(),
        },
        default={},
    )
    status = _object(
        {
            "conditions": _conditions(),
            "initializers": _array(_string(pattern=INITIALIZER_PATTERN)),
            "phase": _string(default="Scheduling", enum=["Scheduling", "Initializing", "Ready"]),
        },
        default={},
    )
    metadata = _name_rules(pattern=WORKSPACE_NAME_PATTERN, minLength=1, maxLength=63)
    return _envelope(spec, status, metadata=metadata, required=("spec",))


def _clusterworkspace_schema() -> Schema:
    spec = _object(
        {
            "readOnly": _boolean(),
            "shard": _object(
                {
                    "name": _string(
                        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
                    ),
                    "selector": _label_selector(),
                }
            ),
            "type": _type_reference(),
        }
    )
    status = _object(
        {
            "baseURL": _string(),
            "cluster": _string(),
            "conditions": _conditions(),
            "initializers": _array(_string(pattern=INITIALIZER_PATTERN)),
            "location": _object({"current": _string(), "target": _string(enum=[""])}),
            "phase": _string(default="Scheduling", enum=["Scheduling", "Initializing", "Ready"]),
        }
    )
    return _envelope(spec, status)


def _workspacetype_schema() -> Schema:
    spec = _object(
        {
            "additionalWorkspaceLabels": _map(_string()),
            "defaultAPIBindings": _array(
                _object(
                    {"export": _string(), "path": _string(pattern=PATH_PATTERN)},
                    required=("export",),
                )
            ),
            # kcp's schema defaults this; so `universal` ends up with root:universal.
            "defaultChildWorkspaceType": _type_reference(
                default={"name": "universal", "path": "root"}
            ),
            "extend": _object({"with": _array(_type_reference())}),
            "initializer": _boolean(),
            "limitAllowedChildren": _type_selector(),
            "limitAllowedParents": _type_selector(),
        }
    )
    status = _object(
        {
            "conditions": _conditions(),
            "virtualWorkspaces": _array(_object({"url": _string(minLength=1)}, required=("url",))),
        }
    )
    metadata = _name_rules(pattern=WORKSPACE_NAME_PATTERN, minLength=1, maxLength=63)
    return _envelope(spec, status, metadata=metadata)


def _synctarget_resource() -> Schema:
    return _object(
        {
            "group": _string(enum=["workload.kcp.io"], pattern=GROUP_PATTERN),
            "resource": _string(enum=["synctargets"], pattern=RESOURCE_PATTERN),
            "version": _string(enum=["v1alpha1"], pattern=RESOURCE_PATTERN),
        },
        required=("resource", "version"),
    )


def _location_schema() -> Schema:
    selector = _label_selector()
    selector["default"] = {}
    spec = _object(
        {
            "availableSelectorLabels": _array(
                _object(
                    {
                        "description": _string(),
                        "key": _string(maxLength=255),
                        "values": _array(
                            _string(maxLength=63),
                            minItems=1,
                            **{"x-kubernetes-list-type": "set"},
                        ),
                    },
                    required=("key", "values"),
                ),
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"]},
            ),
            "description": _string(),
            "instanceSelector": selector,
            "resource": _synctarget_resource(),
        },
        required=("resource",),
    )
    status = _object({"availableInstances": _integer(), "instances": _integer()})
    return _envelope(spec, status)


def _placement_schema() -> Schema:
    spec = _object(
        {
            "locationResource": _synctarget_resource(),
            "locationSelectors": _array(_label_selector()),
            "locationWorkspace": _string(pattern=PATH_PATTERN),
            "namespaceSelector": _label_selector(),
        },
        required=("locationResource",),
    )
    status = _object(
        {
            "conditions": _conditions(),
            "phase": _string(default="Pending", enum=["Pending", "Bound", "Unbound"]),
            "selectedLocation": _object(
                {"locationName": _string(), "path": _string(pattern=PATH_PATTERN)},
                required=("locationName", "path"),
            ),
        }
    )
    return _envelope(spec, status)


def _synctarget_schema() -> Schema:
    spec = _object(
        {
            "cells": _map(_string()),
            "evictAfter": _date_time(),
            "supportedAPIExports": _array(
                _object(
                    {"export": _string(), "path": _string(pattern=PATH_PATTERN)},
                    required=("export",),
                ),
                default=[{"export": "kubernetes"}],
            ),
            "unschedulable": _boolean(default=False),
        }
    )
    status = _object(
        {
            "allocatable": _map(_int_or_string()),
            "capacity": _map(_int_or_string()),
            "conditions": _conditions(),
            "lastSyncerHeartbeatTime": _date_time(),
            "syncedResources": _array(
                _object(
                    {
                        "group": _string(pattern=GROUP_PATTERN),
                        "identityHash": _string(),
                        "resource": _string(pattern=RESOURCE_PATTERN),
                        "state": _string(
                            default="Pending", enum=["Pending", "Accepted", "Incompatible"]
                        ),
                        "versions": _strings(minItems=1),
                    },
                    required=("resource", "versions"),
                )
            ),
            "virtualWorkspaces": _array(
                _object(
                    {"syncerURL": _string(minLength=1), "upsyncerURL": _string(minLength=1)},
                    required=("syncerURL", "upsyncerURL"),
                )
            ),
        }
    )
    metadata = _name_rules(minLength=1, maxLength=234)
    return _envelope(spec, status, metadata=metadata)


def _negotiation_spec(*, location: bool) -> Schema:
    """The common spec of APIResourceImport / NegotiatedAPIResource."""
    column = _object(
        {
            "description": _string(),
            "format": _string(),
            "jsonPath": _string(),
            "name": _string(),
            "priority": _integer(),
            "type": _string(),
        },
        required=("description", "format", "jsonPath", "name", "priority", "type"),
    )
    properties: dict[str, Schema] = {
        "categories": _strings(),
        "columnDefinitions": _array(column),
        "groupVersion": _object({"group": _string(), "version": _string()}, required=("version",)),
        "kind": _string(),
        "listKind": _string(),
        "openAPIV3Schema": _object(
            **{"x-kubernetes-preserve-unknown-fields": True, "x-kubernetes-map-type": "atomic"}
        ),
        "plural": _string(),
        "scope": _string(),
        "shortNames": _strings(),
        "singular": _string(),
        "subResources": _array(_object({"name": _string()}, required=("name",))),
    }
    required = ["groupVersion", "kind", "openAPIV3Schema", "plural", "scope"]
    if location:
        properties["location"] = _string()
        properties["schemaUpdateStrategy"] = _string()
        required.append("location")
    else:
        properties["publish"] = _boolean()
    return _object(dict(sorted(properties.items())), required=tuple(sorted(required)))


def _negotiation_status() -> Schema:
    condition = _object(
        {
            "lastTransitionTime": _date_time(),
            "message": _string(),
            "reason": _string(),
            "status": _string(),
            "type": _string(),
        },
        required=("status", "type"),
    )
    return _object({"conditions": _array(condition)})


def _partition_schema() -> Schema:
    return _envelope(_object({"selector": _label_selector()}))


def _partitionset_schema() -> Schema:
    spec = _object(
        {
            "dimensions": _strings(),
            "shardSelector": _label_selector(
                operators=("In", "NotIn", "Exists", "DoesNotExist"),
                max_expressions=10,
                maxProperties=10,
            ),
        }
    )
    status = _object({"conditions": _conditions(), "count": _integer(None)})
    return _envelope(spec, status)


def _shard_schema() -> Schema:
    spec = _object(
        {
            "baseURL": _string(format="uri", minLength=1),
            "externalURL": _string(format="uri", minLength=1),
            "virtualWorkspaceURL": _string(format="uri", minLength=1),
        },
        required=("baseURL",),
    )
    status = _object({"capacity": _map(_int_or_string()), "conditions": _conditions()})
    return _envelope(spec, status)


def root_exports() -> dict[str, tuple[dict[str, Any], ...]]:
    """root's APIExports and their APIResourceSchemas, in kcp's latestResourceSchemas order."""
    tenancy, scheduling, workload = "tenancy.kcp.io", "scheduling.kcp.io", "workload.kcp.io"
    apiresource, topology, core = "apiresource.kcp.io", "topology.kcp.io", "core.kcp.io"
    return {
        tenancy: (
            _resource_schema(
                "v221219-c92ed8152",
                tenancy,
                _names("ClusterWorkspace", "clusterworkspaces"),
                _clusterworkspace_schema(),
                columns=[
                    _column("Phase", ".status.phase"),
                    _column("Type", ".spec.type.name"),
                    _column("URL", ".status.baseURL"),
                    _age(),
                ],
            ),
            _resource_schema(
                "v230110-89146c99",
                tenancy,
                _names("WorkspaceType", "workspacetypes"),
                _workspacetype_schema(),
            ),
            _resource_schema(
                "v230116-832a4a55d",
                tenancy,
                _names("Workspace", "workspaces", short_names=("ws",)),
                _workspace_schema(),
                columns=[
                    _column("Type", ".spec.type.name"),
                    _column("Region", ".metadata.labels['region']"),
                    _column("Phase", r".metadata.labels['tenancy\.kcp\.io/phase']"),
                    _column("URL", ".spec.URL"),
                    _age(),
                ],
            ),
        ),
        scheduling: (
            _resource_schema(
                "v221006-eaaf199d",
                scheduling,
                _names("Location", "locations"),
                _location_schema(),
                columns=[
                    _column("Resource", ".spec.resource.resource"),
                    _column("Available", ".status.availableInstances"),
                    _column("Instances", ".status.instances"),
                    # The `.dev` typo of kcp v0.11 (the annotation is scheduling.kcp.io/labels).
                    _column("Labels", r".metadata.annotations['scheduling\.kcp\.dev/labels']"),
                    _age(),
                ],
            ),
            _resource_schema(
                "v221212-cf67ac73a",
                scheduling,
                _names("Placement", "placements"),
                _placement_schema(),
                columns=[_age()],
            ),
        ),
        workload: (
            _resource_schema(
                "v230109-773b219c",
                workload,
                _names("SyncTarget", "synctargets"),
                _synctarget_schema(),
                columns=[
                    _column("Location", ".metadata.name", priority=1),
                    _column("Ready", '.status.conditions[?(@.type=="Ready")].status', priority=2),
                    _column("Synced API resources", ".status.syncedResources", priority=3),
                    # The `.dev` typo of kcp v0.11 (the label is internal.workload.kcp.io/key).
                    _column(
                        "Key", r".metadata.labels['internal\.workload\.kcp\.dev/key']", priority=4
                    ),
                    _age(),
                ],
            ),
        ),
        apiresource: (
            _resource_schema(
                "v220628-546034da",
                apiresource,
                _names("APIResourceImport", "apiresourceimports"),
                _envelope(_negotiation_spec(location=True), _negotiation_status()),
                columns=[
                    _column("Location", ".spec.location", priority=1),
                    _column("Schema update strategy", ".spec.schemaUpdateStrategy", priority=2),
                    _column(
                        "API Version",
                        r".metadata.annotations.apiresource\.kcp\.dev/apiVersion",
                        priority=3,
                    ),
                    _column("API Resource", ".spec.plural", priority=4),
                    _column(
                        "Compatible",
                        '.status.conditions[?(@.type=="Compatible")].status',
                        priority=5,
                    ),
                    _column(
                        "Available", '.status.conditions[?(@.type=="Available")].status', priority=6
                    ),
                ],
            ),
            _resource_schema(
                "v220628-546034da",
                apiresource,
                _names("NegotiatedAPIResource", "negotiatedapiresources"),
                _envelope(_negotiation_spec(location=False), _negotiation_status()),
                columns=[
                    _column("Publish", ".spec.publish", "boolean", priority=1),
                    _column(
                        "API Version",
                        r".metadata.annotations.apiresource\.kcp\.dev/apiVersion",
                        priority=3,
                    ),
                    _column("API Resource", ".spec.plural", priority=4),
                    _column(
                        "Published", '.status.conditions[?(@.type=="Published")].status', priority=5
                    ),
                    _column(
                        "Enforced", '.status.conditions[?(@.type=="Enforced")].status', priority=6
                    ),
                ],
            ),
        ),
        topology: (
            _resource_schema(
                "v221115-9b370eb8",
                topology,
                _names("Partition", "partitions"),
                _partition_schema(),
                status=False,
                columns=[_column("Owner", ".metadata.ownerReferences[*].name"), _age()],
            ),
            _resource_schema(
                "v230202-eee1a845",
                topology,
                _names("PartitionSet", "partitionsets"),
                _partitionset_schema(),
                columns=[_column("Count", ".status.count"), _age()],
            ),
        ),
        # Bound only by root itself (kcp's BindRootAPIs), not a default binding elsewhere.
        "shards.core.kcp.io": (
            _resource_schema(
                "v230116-943e458f6",
                core,
                _names("Shard", "shards"),
                _shard_schema(),
                columns=[
                    _column("Region", ".metadata.labels['region']"),
                    _column("URL", ".spec.baseURL"),
                    _column("External URL", ".spec.externalURL"),
                    _age(),
                ],
            ),
        ),
    }


ROOT_EXPORTS: dict[str, tuple[dict, ...]] = root_exports()

# The root exports every universal-derived workspace binds by default (WorkspaceType universal).
DEFAULT_BINDING_EXPORTS = (
    "tenancy.kcp.io",
    "scheduling.kcp.io",
    "workload.kcp.io",
    "apiresource.kcp.io",
    "topology.kcp.io",
)

# --------------------------------------------------------------------------------------------
# root:compute's `kubernetes` export (`config/rootcompute/kube-1.24`)
# --------------------------------------------------------------------------------------------

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_INT_OR_STRING_DEFINITIONS = frozenset(
    {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    }
)
# The definitions whose `protocol` kcp's kube-1.24 schemas default to TCP: container ports (in
# containers, initContainers, ephemeralContainers) and a Service's ports.
_TCP_DEFAULTED = frozenset({"io.k8s.api.core.v1.ContainerPort", "io.k8s.api.core.v1.ServicePort"})
# Keywords kept from upstream nodes (descriptions, enums, map types, unions are dropped).
_KEPT = (
    "format",
    "required",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
)
_COMPUTE_ANNOTATIONS = {
    "bootstrap.kcp.io/create-only": "true",
    "bootstrap.kcp.io/battery": "root-compute-workspace",
}


def _single_type(node: Schema) -> str | None:
    """One JSON type for `node` (`["string", "null"]` -> `string`)."""
    types = node.get("type")
    if isinstance(types, list):
        concrete = [t for t in types if t != "null"]
        return concrete[0] if concrete else None
    return types if isinstance(types, str) else None


def _structural(node: Schema, stack: frozenset[str]) -> Schema:
    name = ref_name(node)
    if name is not None:
        return _structural_ref(node, name, stack)
    out: Schema = {}
    node_type = _single_type(node)
    if node_type:
        out["type"] = node_type
    for key in _KEPT:
        if key in node:
            out[key] = node[key]
    if isinstance(node.get("properties"), dict):
        out.setdefault("type", "object")
        out["properties"] = {k: _structural(v, stack) for k, v in node["properties"].items()}
    if isinstance(node.get("items"), dict):
        out.setdefault("type", "array")
        out["items"] = _structural(node["items"], stack)
    if isinstance(node.get("additionalProperties"), dict):
        out.setdefault("type", "object")
        out["additionalProperties"] = _structural(node["additionalProperties"], stack)
    if out.get("type") == "array" and "items" not in out:
        out["items"] = _open_object()
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        out.update(_open_object())  # untyped: keep whatever is sent
    elif (
        out.get("type") == "object"
        and "properties" not in node
        and "additionalProperties" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True  # free-form object
    return out


def _structural_ref(node: Schema, name: str, stack: frozenset[str]) -> Schema:
    if name in _INT_OR_STRING_DEFINITIONS:
        out = _int_or_string()
    elif name == _OBJECT_META:
        out = _open_object()  # embedded ObjectMeta (pod templates, claim templates)
    elif name in stack:
        out = _open_object()  # a recursive definition: stop expanding, keep content
    else:
        target = definitions().get(name)
        if target is None:
            raise ValueError(f"unknown definition {name!r}")
        out = _structural(target, stack | {name})
        if name in _TCP_DEFAULTED:
            out["properties"]["protocol"]["default"] = "TCP"
    # Extensions written next to a $ref describe the field (e.g. a retainKeys strategy).
    for key in _KEPT:
        if key in node:
            out[key] = node[key]
    return out


def kube_structural_schema(definition: str) -> Schema:
    """The structural, description-free schema of a whole upstream object (`io.k8s.api...`)."""
    schema = _structural({"$ref": f"#/$defs/{definition}"}, frozenset())
    schema["properties"]["metadata"] = _object()  # root metadata: `type: object`, as in CRDs
    return schema


def _compute_schema(group: str, names: dict[str, Any], definition: str, **kw: Any) -> dict:
    return _resource_schema(
        "v124",
        group,
        names,
        kube_structural_schema(definition),
        scope="Namespaced",
        version="v1",
        annotations=_COMPUTE_ANNOTATIONS,
        **kw,
    )


@functools.cache
def compute_export() -> tuple[dict[str, Any], ...]:
    """The `kubernetes` export's schemas, in the order kcp's APIExport lists them (cached)."""
    return (
        _compute_schema(
            "networking.k8s.io",
            _names("Ingress", "ingresses", short_names=("ing",), categories=()),
            "io.k8s.api.networking.v1.Ingress",
        ),
        _compute_schema(
            "",
            _names("Service", "services", short_names=("svc",), categories=("all",)),
            "io.k8s.api.core.v1.Service",
        ),
        _compute_schema(
            "apps",
            _names("Deployment", "deployments", short_names=("deploy",), categories=("all",)),
            "io.k8s.api.apps.v1.Deployment",
            scale=True,
        ),
        _compute_schema(
            "",
            _names("Pod", "pods", short_names=("po",), categories=("all",)),
            "io.k8s.api.core.v1.Pod",
        ),
    )


if TYPE_CHECKING:
    COMPUTE_EXPORT: tuple[dict, ...]


def __getattr__(name: str) -> Any:
    # `COMPUTE_EXPORT` is built on first access (inlining the kube definitions takes time).
    if name == "COMPUTE_EXPORT":
        return compute_export()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# WorkspaceTypes in root (`config/root`, default batteries)
# --------------------------------------------------------------------------------------------


def _type_ref(name: str) -> dict[str, str]:
    return {"name": name, "path": "root"}


def _workspace_type(
    name: str, annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "tenancy.kcp.io/v1alpha1",
        "kind": "WorkspaceType",
        "metadata": metadata,
        "spec": spec,
    }


def workspace_types() -> tuple[dict[str, Any], ...]:
    """root's WorkspaceTypes as kcp's bootstrap writes them (before schema defaulting)."""
    extends_universal = {"with": [_type_ref("universal")]}
    battery = {"bootstrap.kcp.io/battery": "workspace-types"}
    return (
        _workspace_type(
            "root",
            {"bootstrap.kcp.io/create-only": "true"},
            defaultChildWorkspaceType=_type_ref("organization"),
            limitAllowedParents={"none": True},
            extend=extends_universal,
        ),
        # No defaultChildWorkspaceType written; the schema defaults it to root:universal.
        _workspace_type(
            "universal",
            initializer=True,
            defaultAPIBindings=[{"path": "root", "export": e} for e in DEFAULT_BINDING_EXPORTS],
        ),
        _workspace_type(
            "organization",
            battery,
            extend=extends_universal,
            defaultChildWorkspaceType=_type_ref("universal"),
            limitAllowedChildren={"types": [_type_ref("universal")]},
            limitAllowedParents={"types": [_type_ref("root")]},
        ),
        _workspace_type(
            "team",
            battery,
            extend=extends_universal,
            defaultChildWorkspaceType=_type_ref("universal"),
            limitAllowedParents={"types": [_type_ref("organization"), _type_ref("team")]},
        ),
        _workspace_type(
            "home",
            extend=extends_universal,
            defaultChildWorkspaceType=_type_ref("universal"),
            limitAllowedParents={"none": True},
        ),
    )


WORKSPACE_TYPES: tuple[dict, ...] = workspace_types()
