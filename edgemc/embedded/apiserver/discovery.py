"""Discovery documents (/version, /api, /apis, group-version resource lists) and OpenAPI routes."""

from __future__ import annotations

import platform
from typing import Any

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.openapi import openapi_v2, openapi_v3_document, openapi_v3_index
from edgemc.embedded.apiserver.registry import TypeSet
from edgemc.embedded.apiserver.resources import ResourceType

# Within kubectl 1.32's supported skew, so kubectl prints no version warning.
KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+edgemc"}


def version_info() -> dict[str, Any]:
    return {
        **KUBE_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-28T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{platform.machine()}",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(types: TypeSet) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in types.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(types: TypeSet, group: str) -> dict[str, Any]:
    versions = types.group_versions().get(group)
    if not versions or not group:
        raise errors.resource_not_found()
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _resource_entry(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rt.resource,
        "singularName": rt.singular or rt.kind.lower(),
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    return entry


def api_resource_list(types: TypeSet, group: str, version: str) -> dict[str, Any]:
    served = [rt for rt in types if rt.group == group and rt.version == version]
    if not served:
        raise errors.resource_not_found()
    resources: list[dict[str, Any]] = []
    for rt in served:
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            resources.append(
                {
                    "name": f"{rt.resource}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind if sub == "status" else "Scale",
                    "verbs": ["get", "patch", "update"],
                    **({"group": "autoscaling", "version": "v1"} if sub == "scale" else {}),
                }
            )
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def openapi(types: TypeSet, parts: list[str], prefix: str) -> dict[str, Any]:
    """Serve /openapi/v2, /openapi/v3 and /openapi/v3/<api/v1 | apis/g/v>."""
    if parts == ["v2"]:
        return openapi_v2(list(types))
    if parts == ["v3"]:
        return openapi_v3_index(list(types), prefix=prefix)
    if len(parts) >= 3 and parts[0] == "v3":
        rest = parts[1:]
        if rest[0] == "api" and len(rest) == 2:
            group, version = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            group, version = rest[1], rest[2]
        else:
            raise errors.resource_not_found()
        served = [rt for rt in types if rt.group == group and rt.version == version]
        if not served:
            raise errors.resource_not_found()
        return openapi_v3_document(group, version, served)
    raise errors.resource_not_found()
