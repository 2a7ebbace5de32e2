"""Defaulting of written objects: upstream's built-in defaults and structural-schema defaults.

Custom and schema-backed types (`rt.builtin` False) get apiextensions' defaulting: null
values of non-nullable fields are dropped, then every absent property with a `default` gets a
copy of it, recursively into present objects (also ones just defaulted) and array items.

Built-in kinds get a small table of upstream's defaults (`SetDefaults_*`): the ones kubectl
shows and the edge simulation reads. As in Go, an empty string counts as absent in a string
field; in a field of another type it is a wrong type, left for validation to reject.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from edgemc.embedded.apiserver.builtin import resolve_schema
from edgemc.embedded.apiserver.resources import ResourceType, Schema

Obj = dict[str, Any]


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """Default `obj` (a whole object of type `rt`) in place."""
    if not obj.get("apiVersion"):
        obj["apiVersion"] = rt.api_version
    if not obj.get("kind"):
        obj["kind"] = rt.kind
    if rt.builtin:
        defaulter = BUILTIN_DEFAULTERS.get((rt.group, rt.resource))
        if defaulter is not None:
            defaulter(obj)
    elif rt.schema is not None:
        apply_schema_defaults(rt.schema, obj)


# --------------------------------------------------------------------------------------------
# Structural-schema defaults
# --------------------------------------------------------------------------------------------


def apply_schema_defaults(
    schema: Schema, obj: Obj, *, resolve: Callable[[Schema | None], Schema | None] = resolve_schema
) -> None:
    """apiextensions' defaulting of `obj` by a structural schema (root `metadata` untouched)."""

    def walk(node: Schema | None, value: Any, root: bool = False) -> None:
        node = resolve(node)
        if not node:
            return
        if isinstance(value, dict):
            props: dict[str, Schema] = node.get("properties") or {}
            extra = node.get("additionalProperties")
            for key in list(value):
                sub = props.get(key) or (extra if isinstance(extra, dict) else None)
                if value[key] is None and sub is not None and not resolve(sub).get("nullable"):
                    del value[key]
            for key, sub in props.items():
                if root and key == "metadata":
                    continue
                resolved = resolve(sub) or {}
                if key not in value and "default" in resolved:
                    value[key] = copy.deepcopy(resolved["default"])
            for key, item in value.items():
                if root and key == "metadata":
                    continue
                sub = props.get(key) or (extra if isinstance(extra, dict) else None)
                walk(sub, item)
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for item in value:
                walk(node["items"], item)

    walk(schema, obj, root=True)


# --------------------------------------------------------------------------------------------
# Built-in defaults
# --------------------------------------------------------------------------------------------


def _set(obj: Obj, key: str, value: Any) -> None:
    """Default `obj[key]` to `value` when absent (or the string zero value, for strings)."""
    current = obj.get(key)
    if current is None or (current == "" and isinstance(value, str)):
        obj[key] = value


def _child(obj: Obj, key: str) -> Obj:
    """`obj[key]` as a dict, created when absent (only for fields upstream always has)."""
    if not isinstance(obj.get(key), dict):
        obj[key] = {}
    return obj[key]


def pull_policy_for(image: str) -> str:
    """Always for `:latest` or untagged images (without a digest), else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(container: Obj) -> None:
    _set(container, "imagePullPolicy", pull_policy_for(str(container.get("image") or "")))
    _set(container, "terminationMessagePath", "/dev/termination-log")
    _set(container, "terminationMessagePolicy", "File")
    if not isinstance(container.get("resources"), dict):
        container["resources"] = {}
    for port in container.get("ports") or ():
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")


def default_pod_spec(spec: Obj) -> None:
    """Upstream's PodSpec defaults (pods and pod templates)."""
    _set(spec, "restartPolicy", "Always")
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "terminationGracePeriodSeconds", 30)
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    for key in ("initContainers", "containers"):
        containers = spec.get(key)
        # A wrong type is left for validation to reject (iterating an int would be a 500).
        for container in containers if isinstance(containers, list) else ():
            if isinstance(container, dict):
                _container(container)


def _template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(_child(template, "spec"))


def _deployment(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _set(spec, "replicas", 1)
    strategy = _child(spec, "strategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _template(spec)


def _replicaset(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _set(spec, "replicas", 1)
    _template(spec)


def _pod(obj: Obj) -> None:
    spec = _child(obj, "spec")
    default_pod_spec(spec)
    _set(spec, "enableServiceLinks", True)


def _service(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        _set(spec, "internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
            if port.get("targetPort") in (None, "", 0):
                port["targetPort"] = port.get("port")


def _namespace(obj: Obj) -> None:
    spec = _child(obj, "spec")
    # Set when absent only: the namespace controller empties it to finish a deletion.
    if "finalizers" not in spec:
        spec["finalizers"] = ["kubernetes"]
    _set(_child(obj, "status"), "phase", "Active")
    name = (obj.get("metadata") or {}).get("name")
    if name:
        _child(_child(obj, "metadata"), "labels")["kubernetes.io/metadata.name"] = name


def _secret(obj: Obj) -> None:
    _set(obj, "type", "Opaque")
    # Upstream folds the write-only stringData into data (base64) and never stores it.
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _child(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _crd(obj: Obj) -> None:
    spec = _child(obj, "spec")
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
        _set(names, "singular", names["kind"].lower())
        _set(names, "listKind", names["kind"] + "List")
    _set(_child(spec, "conversion"), "strategy", "None")


BUILTIN_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("apps", "deployments"): _deployment,
    ("apps", "replicasets"): _replicaset,
    ("", "pods"): _pod,
    ("", "services"): _service,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _crd,
}
