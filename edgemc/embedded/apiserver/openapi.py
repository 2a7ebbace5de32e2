"""OpenAPI v3 (index and group-version documents) and v2 documents for a set of served types.

What kubectl 1.32 needs from them (see test/apiserver/test_openapi.py, which runs it):

* `GET /openapi/v3` -> `{"paths": {"apis/apps/v1": {"serverRelativeURL": ...}}}`. kubectl
  keeps its kubeconfig path prefix (`/clusters/root`) when a URL starts with `/openapi/v3`,
  and otherwise requests the URL as an absolute path; so both forms work, and this module
  writes `<prefix>/openapi/v3/...` (also right for older clients that always did the latter).
* In the group-version document, a PATCH operation carrying `x-kubernetes-group-version-kind`
  (an object) and a `fieldValidation` query parameter makes kubectl skip client-side schema
  validation and send `?fieldValidation=Strict`. A GV missing from the index makes it look at
  the CRD document's PATCH instead (so `apiextensions.k8s.io/v1` must be listed).
* For `kubectl apply` of built-in kinds it builds a strategic merge patch from
  `components.schemas` when that PATCH accepts `application/strategic-merge-patch+json`
  (patch-merge-key/strategy extensions, `$ref`s to `#/components/schemas/<name>`); custom
  kinds do not accept it, so kubectl sends a JSON merge patch. `kubectl explain` finds a
  kind's schema by its `x-kubernetes-group-version-kind` list.
* v2 is what kubectl fetches only as protobuf; the JSON form here is for other clients.

Documents are pure functions of the types; `content_hash` gives the `?hash=` value.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

from edgemc.embedded.apiserver.builtin import REF_PREFIX, definitions, ref_name
from edgemc.embedded.apiserver.resources import ResourceType, Schema

INFO = {"title": "Kubernetes", "version": "v1.32.0"}
V3_PREFIX = "#/components/schemas/"
V2_PREFIX = "#/definitions/"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = _META + "ObjectMeta"
LIST_META = _META + "ListMeta"
STATUS = _META + "Status"
DELETE_OPTIONS = _META + "DeleteOptions"
PATCH = _META + "Patch"
SCALE = "io.k8s.api.autoscaling.v1.Scale"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def group_version_key(group: str, version: str) -> str:
    """The index key of a group-version: `api/v1` or `apis/<group>/<version>`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def content_hash(document: dict[str, Any]) -> str:
    """Upstream's form of the `?hash=` value: uppercase hex SHA-512 of the document."""
    return hashlib.sha512(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest().upper()


def openapi_v3_index(types: Iterable[ResourceType], prefix: str = "") -> dict[str, Any]:
    """`GET /openapi/v3`: one entry per served group-version, with a content-hash URL."""
    paths: dict[str, Any] = {}
    for (group, version), members in _by_group_version(types).items():
        key = group_version_key(group, version)
        digest = content_hash(openapi_v3_document(group, version, members))
        paths[key] = {"serverRelativeURL": f"{prefix.rstrip('/')}/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def openapi_v3_document(group: str, version: str, types: Iterable[ResourceType]) -> dict[str, Any]:
    """`GET /openapi/v3/<api/v1 | apis/g/v>`: paths and component schemas of that GV."""
    members = [rt for rt in types if rt.group == group and rt.version == version]
    paths: dict[str, Any] = {}
    schemas: dict[str, Schema] = {}
    for rt in members:
        names = _schema_names(rt)
        paths.update(_paths(rt, names, v3=True))
        schemas.update(_component_schemas(rt, names, V3_PREFIX))
    return {
        "openapi": "3.0.0",
        "info": dict(INFO),
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def openapi_v2(types: Iterable[ResourceType]) -> dict[str, Any]:
    """`GET /openapi/v2` as JSON (swagger 2.0) for every served type."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Schema] = {}
    for rt in types:
        names = _schema_names(rt)
        paths.update(_paths(rt, names, v3=False))
        schemas.update(_component_schemas(rt, names, V2_PREFIX))
    return {
        "swagger": "2.0",
        "info": dict(INFO),
        "paths": paths,
        "definitions": dict(sorted(schemas.items())),
    }


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


def _by_group_version(
    types: Iterable[ResourceType],
) -> dict[tuple[str, str], list[ResourceType]]:
    out: dict[tuple[str, str], list[ResourceType]] = {}
    for rt in types:
        out.setdefault((rt.group, rt.version), []).append(rt)
    return out


def _schema_names(rt: ResourceType) -> tuple[str, str]:
    """Component names of the kind and its list (upstream's for built-ins)."""
    name = ref_name(rt.schema) if rt.schema else None
    if name is not None and name.endswith("." + rt.kind):
        return name, name + "List"
    reversed_group = ".".join(reversed(rt.group.split("."))) if rt.group else "core"
    base = f"{reversed_group}.{rt.version}.{rt.kind}"
    return base, base + "List"


def _gvk(rt: ResourceType, kind: str) -> dict[str, str]:
    return {"group": rt.group, "kind": kind, "version": rt.version}


def _component_schemas(rt: ResourceType, names: tuple[str, str], prefix: str) -> dict[str, Schema]:
    kind_name, list_name = names
    roots = [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH]
    if "scale" in rt.subresources:
        roots.append(SCALE)
    out: dict[str, Schema] = {}
    if ref_name(rt.schema or {}) == kind_name:
        roots += [kind_name, list_name]
    else:
        out[kind_name] = _custom_schema(rt, prefix)
        out[list_name] = _list_schema(rt, kind_name, prefix)
    for root in roots:
        for name in _closure(root):
            out[name] = _exported(name, prefix)
    return out


def _custom_schema(rt: ResourceType, prefix: str) -> Schema:
    schema = orjson.loads(orjson.dumps(rt.schema or {"type": "object"}))
    schema.setdefault("type", "object")
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"$ref": prefix + OBJECT_META}
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt, rt.kind)]
    return schema


def _list_schema(rt: ResourceType, kind_name: str, prefix: str) -> Schema:
    return {
        "description": f"{rt.list_kind or rt.kind + 'List'} is a list of {rt.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": prefix + kind_name}},
            "metadata": {"$ref": prefix + LIST_META},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind or rt.kind + "List")],
    }


@functools.cache
def _closure(root: str) -> tuple[str, ...]:
    """Definition names reachable from `root` (inclusive), in discovery order."""
    defs = definitions()
    seen: dict[str, None] = {}
    stack = [root]
    while stack:
        name = stack.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = None
        stack.extend(_refs(defs[name]))
    return tuple(seen)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        name = ref_name(node)
        if name is not None:
            found.append(name)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    found.extend(_refs(sub))
            elif isinstance(value, dict | list):
                found.extend(_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_refs(item))
    return found


@functools.cache
def _exported_cached(name: str, prefix: str) -> bytes:
    node = _export_node(definitions()[name], prefix, top=True)
    if name == INT_OR_STRING:
        node = {"type": "string", "format": "int-or-string", **node}
        node.pop("oneOf", None)
    return orjson.dumps(node)


def _exported(name: str, prefix: str) -> Schema:
    # A fresh copy per document, so callers may change what they are given.
    return orjson.loads(_exported_cached(name, prefix))


def _export_node(node: Any, prefix: str, *, top: bool = False) -> Any:
    """A definition in OpenAPI form: refs re-pointed, `null` dropped from types, no enums on
    apiVersion/kind (kubernetes-validate additions upstream documents do not have)."""
    if isinstance(node, list):
        return [_export_node(item, prefix) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
            out[key] = prefix + value[len(REF_PREFIX) :]
        elif key == "type" and isinstance(value, list):
            kept = [t for t in value if t != "null"]
            out[key] = kept[0] if len(kept) == 1 else kept
        elif key == "properties" and isinstance(value, dict):
            props = {}
            for prop, sub in value.items():
                exported = _export_node(sub, prefix)
                if top and prop in ("apiVersion", "kind") and isinstance(exported, dict):
                    exported.pop("enum", None)
                props[prop] = exported
            out[key] = props
        else:
            out[key] = _export_node(value, prefix)
    return out


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def _api_root(rt: ResourceType) -> str:
    return f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"


def _operation_id(
    verb: str, rt: ResourceType, kind: str, namespaced: bool, suffix: str = ""
) -> str:
    group = rt.group.removesuffix(".k8s.io") if rt.group else "core"
    camel = "".join(part[:1].upper() + part[1:] for part in group.replace("-", ".").split("."))
    scope = "Namespaced" if namespaced else ""
    return f"{verb}{camel}{rt.version.capitalize()}{scope}{kind}{suffix}"


def _query(name: str, description: str, v3: bool, *, boolean: bool = False) -> dict[str, Any]:
    kind = "boolean" if boolean else "string"
    param: dict[str, Any] = {"name": name, "in": "query", "description": description}
    if v3:
        param["schema"] = {"type": kind, "uniqueItems": True}
    else:
        param.update(type=kind, uniqueItems=True)
    return param


def _path_param(name: str, description: str, v3: bool) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
    }
    if v3:
        param["schema"] = {"type": "string", "uniqueItems": True}
    else:
        param.update(type="string", uniqueItems=True)
    return param


def _write_params(v3: bool, *, patch: bool = False) -> list[dict[str, Any]]:
    params = [
        _query("dryRun", "When present, indicates that modifications should not be persisted.", v3),
        _query("fieldManager", "A name associated with the actor or entity making changes.", v3),
        _query(
            "fieldValidation",
            "How the server handles unknown or duplicate fields: Ignore, Warn (default) or Strict.",
            v3,
        ),
    ]
    if patch:
        params.append(_query("force", "Force is going to force Apply requests.", v3, boolean=True))
    return params


def _list_params(v3: bool) -> list[dict[str, Any]]:
    return [
        _query("allowWatchBookmarks", "Request watch events with type BOOKMARK.", v3, boolean=True),
        _query("continue", "The continue option from a previous list call.", v3),
        _query("fieldSelector", "Restrict returned objects by their fields.", v3),
        _query("labelSelector", "Restrict returned objects by their labels.", v3),
        _query("limit", "Maximum number of responses to return for a list call.", v3),
        _query(
            "resourceVersion",
            "Constrains which resource versions a request may be served from.",
            v3,
        ),
        _query("timeoutSeconds", "Timeout for the list/watch call.", v3),
        _query(
            "watch", "Watch for changes and return them as a stream of events.", v3, boolean=True
        ),
    ]


def _body(schema_ref: str, v3: bool, content_types: tuple[str, ...] = ("*/*",)) -> Any:
    if v3:
        return {
            "requestBody": {
                "required": True,
                "content": {ct: {"schema": {"$ref": schema_ref}} for ct in content_types},
            }
        }
    return {
        "parameters": [
            {"name": "body", "in": "body", "required": True, "schema": {"$ref": schema_ref}}
        ]
    }


def _responses(schema_ref: str, v3: bool, codes: tuple[str, ...] = ("200",)) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        description = {"200": "OK", "201": "Created", "202": "Accepted"}[code]
        if v3:
            content = {
                media: {"schema": {"$ref": schema_ref}}
                for media in ("application/json", "application/yaml")
            }
            out[code] = {"description": description, "content": content}
        else:
            out[code] = {"description": description, "schema": {"$ref": schema_ref}}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    rt: ResourceType,
    verb: str,
    action: str,
    kind: str,
    namespaced: bool,
    response: str,
    v3: bool,
    *,
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    content_types: tuple[str, ...] = ("*/*",),
    codes: tuple[str, ...] = ("200",),
    suffix: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "description": f"{verb} {suffix.lower() + ' of ' if suffix else ''}{kind}",
        "operationId": _operation_id(verb, rt, kind, namespaced, suffix),
        "tags": [_operation_id("", rt, "", False)],
        "parameters": list(params or []),
        "responses": _responses(response, v3, codes),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt, kind),
    }
    if body is not None:
        extra = _body(body, v3, content_types)
        if v3:
            op.update(extra)
        else:
            op["parameters"] = extra["parameters"] + op["parameters"]
            op["consumes"] = list(content_types)
    if not v3:
        op["produces"] = ["application/json", "application/yaml"]
        op["schemes"] = ["https"]
    return op


def _paths(rt: ResourceType, names: tuple[str, str], *, v3: bool) -> dict[str, Any]:
    prefix = V3_PREFIX if v3 else V2_PREFIX
    kind_ref, list_ref = prefix + names[0], prefix + names[1]
    status_ref, delete_ref, patch_ref = prefix + STATUS, prefix + DELETE_OPTIONS, prefix + PATCH
    patch_types = PATCH_TYPES + ((STRATEGIC_MERGE_PATCH,) if rt.builtin else ())
    ns = rt.namespaced
    base = _api_root(rt) + ("/namespaces/{namespace}" if ns else "") + "/" + rt.resource
    common = [_path_param("namespace", "object name and auth scope", v3)] if ns else []
    name_param = _path_param("name", f"name of the {rt.kind}", v3)
    kind = rt.kind

    def op(verb: str, action: str, response: str, **kw: Any) -> dict[str, Any]:
        return _operation(rt, verb, action, kind, ns, response, v3, **kw)

    paths: dict[str, Any] = {
        base: {
            "parameters": common,
            "get": _operation(rt, "list", "list", kind, ns, list_ref, v3, params=_list_params(v3)),
            "post": op(
                "create", "post", kind_ref, params=_write_params(v3), body=kind_ref,
                codes=("200", "201", "202"),
            ),
            "delete": op(
                "deletecollection", "deletecollection", status_ref,
                params=_list_params(v3), body=delete_ref,
            ),
        },
        base + "/{name}": {
            "parameters": [name_param, *common],
            "get": op("read", "get", kind_ref),
            "put": op(
                "replace", "put", kind_ref, params=_write_params(v3), body=kind_ref,
                codes=("200", "201"),
            ),
            "patch": op(
                "patch", "patch", kind_ref, params=_write_params(v3, patch=True), body=patch_ref,
                content_types=patch_types, codes=("200", "201"),
            ),
            "delete": op("delete", "delete", status_ref, body=delete_ref, codes=("200", "202")),
        },
    }  # fmt: skip
    if ns:
        all_namespaces = _api_root(rt) + "/" + rt.resource
        paths[all_namespaces] = {
            "get": _operation(
                rt, "list", "list", kind, False, list_ref, v3, params=_list_params(v3)
            )
            | {"operationId": _operation_id("list", rt, kind + "ForAllNamespaces", False)}
        }
    for sub in rt.subresources:
        if sub not in ("status", "scale"):
            continue
        ref = kind_ref if sub == "status" else prefix + SCALE
        suffix = "Status" if sub == "status" else "Scale"
        paths[f"{base}/{{name}}/{sub}"] = {
            "parameters": [name_param, *common],
            "get": op("read", "get", ref, suffix=suffix),
            "put": op(
                "replace", "put", ref, params=_write_params(v3), body=ref,
                codes=("200", "201"), suffix=suffix,
            ),
            "patch": op(
                "patch", "patch", ref, params=_write_params(v3, patch=True),
                body=patch_ref, content_types=patch_types, codes=("200", "201"), suffix=suffix,
            ),
        }  # fmt: skip
        if sub == "scale":
            for method in ("get", "put", "patch"):
                paths[f"{base}/{{name}}/{sub}"][method]["x-kubernetes-group-version-kind"] = {
                    "group": "autoscaling",
                    "kind": "Scale",
                    "version": "v1",
                }
    return paths
