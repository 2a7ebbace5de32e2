"""The REST verbs on stored objects: create, update, patch, delete, with admission and metadata.

This is the server's business logic below HTTP: it takes decoded bodies, applies Kubernetes'
metadata rules (uid, creationTimestamp, generation, resourceVersion preconditions, finalizers,
status subresource), runs the admission chain (defaulting, validation, kcp rules added by the
kcp layer) and writes to the store. Failures are `StatusError`s.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jsonpatch
import orjson

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.builtin import builtin_type, definitions, ref_name
from edgemc.embedded.apiserver.registry import TypeSet
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import Event, ResKey, Store
from edgemc.embedded.apiserver.strategicmerge import PatchError, json_merge_patch, strategic_merge

# The API server rejects request bodies over 3 MiB and stored objects over 1.5 MiB (etcd's
# default request limit), whatever the verb.
MAX_OBJECT_BYTES = 1_572_864

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# Keys of metadata only the server sets; a client's values are ignored or checked.
_SYSTEM_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)


def json_copy(value: Any) -> Any:
    """A deep copy of a decoded JSON/YAML document: its dicts and lists are new, its scalars
    (strings, numbers, YAML's dates: all immutable) shared. Several times faster than
    `copy.deepcopy`, which every write of the server made twice."""
    if type(value) is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [json_copy(v) for v in value]
    return value


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reskey_of(rt: ResourceType) -> ResKey:
    return (rt.group, rt.resource, rt.identity)


NAMESPACES: ResKey = ("", "namespaces", "")


@dataclass
class User:
    name: str
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)
    uid: str = ""


@dataclass
class Scope:
    """Where a request acts: one logical cluster (or all of them) and the types served there."""

    cluster: str
    types: TypeSet
    user: User
    # URL path before /api or /apis (e.g. "/clusters/root"); used in OpenAPI links.
    prefix: str = ""
    # Narrows which logical clusters' objects a wildcard request sees (virtual workspaces).
    cluster_filter: Callable[[str], bool] | None = None
    # For a wildcard scope: the types of the APIExport with this identity hash (resources
    # named `<resource>:<identityHash>`), or None.
    identity_types: Callable[[str], TypeSet | None] | None = None

    @property
    def wildcard(self) -> bool:
        return self.cluster == "*"


@dataclass
class Operation:
    """One write as admission plugins see it; plugins may change `obj` or raise StatusError."""

    verb: str  # create | update | delete
    scope: Scope
    rt: ResourceType
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    subresource: str = ""
    dry_run: bool = False
    field_validation: str = "Strict"
    warnings: list[str] = field(default_factory=list)


class Admission(Protocol):
    def __call__(self, op: Operation) -> None: ...


def builtin_schema(group: str, resource: str) -> dict[str, Any] | None:
    """Upstream schema of a kube kind also when served from a kcp schema (kubectl sends
    strategic merge patches for every kind it knows)."""
    rt = builtin_type(group, resource)
    return rt.schema if rt is not None else None


def _resolve_ref(ref: str) -> dict[str, Any]:
    name = ref_name({"$ref": ref})
    if name is None or name not in definitions():
        raise PatchError(f"unknown schema reference {ref!r}")
    return definitions()[name]


def _generate_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion",)}
    return {**obj, "metadata": meta}


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _generation_part(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """What a change of bumps metadata.generation: everything but metadata; status too for a
    custom resource without a status subresource (apiextensions-apiserver's strategy)."""
    part = _spec_part(obj)
    if not rt.builtin and not rt.has_status():
        part["status"] = obj.get("status")
    return part


class ObjectService:
    """Executes verbs against the store for a scope, running the admission chain."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.mutators: list[Admission] = []
        self.validators: list[Admission] = []
        # Hooks told of every committed write with the admitted operation.
        self.after_write: list[Callable[[Operation, Event], None]] = []

    # -- reads ---------------------------------------------------------------------------

    def get(self, scope: Scope, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(reskey_of(rt), scope.cluster, namespace, name)
        if obj is None:
            raise errors.not_found((rt.group, rt.resource), name)
        return obj

    def find(self, scope: Scope, rt: ResourceType, namespace: str, name: str) -> dict | None:
        return self.store.get(reskey_of(rt), scope.cluster, namespace, name)

    # -- admission -----------------------------------------------------------------------

    def _admit(self, op: Operation) -> None:
        for plugin in self.mutators:
            plugin(op)
        for plugin in self.validators:
            plugin(op)

    def _check_namespace(self, scope: Scope, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(NAMESPACES, scope.cluster, "", namespace)
        if ns is None:
            raise errors.not_found(("", "namespaces"), namespace)
        if ns.get("metadata", {}).get("deletionTimestamp"):
            raise errors.forbidden(
                f'{rt.resource} "" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                (rt.group, rt.resource),
            )

    def _check_size(self, obj: dict[str, Any]) -> None:
        size = len(orjson.dumps(obj))
        if size > MAX_OBJECT_BYTES:
            raise errors.too_large(f"object is {size} bytes, limit is {MAX_OBJECT_BYTES}")

    def _check_kind(self, rt: ResourceType, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version is None:
            obj["apiVersion"] = rt.api_version
        elif api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        if kind is None:
            obj["kind"] = rt.kind
        elif kind != rt.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        return obj

    # -- writes --------------------------------------------------------------------------

    def create(
        self,
        scope: Scope,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "Strict",
    ) -> tuple[dict[str, Any], list[str]]:
        obj = self._check_kind(rt, json_copy(body))
        meta = obj["metadata"]
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            namespace = namespace or body_ns or ""
            if not namespace:
                raise errors.bad_request("a namespace is required for namespaced resources")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = ""
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = _generate_name(meta["generateName"])
            else:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: name or generateName is required",
                            "field": "metadata.name",
                        }
                    ],
                )
        for key in _SYSTEM_METADATA:
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if self.tracks_generation(rt):
            meta["generation"] = 1
        if rt.has_status():
            obj.pop("status", None)
        name = meta["name"]
        op = Operation(
            "create", scope, rt, namespace, name, obj, None, "", dry_run, field_validation
        )
        self._admit(op)
        obj = op.obj or obj
        self._check_namespace(scope, rt, namespace)
        self._check_size(obj)
        if self.store.get(reskey_of(rt), scope.cluster, namespace, name) is not None:
            raise errors.already_exists((rt.group, rt.resource), name)
        if dry_run:
            return obj, op.warnings
        event = self.store.put(reskey_of(rt), scope.cluster, namespace, name, obj)
        self._after(op, event)
        return event.obj, op.warnings

    @staticmethod
    def tracks_generation(rt: ResourceType) -> bool:
        if not rt.builtin:
            return True
        return rt.resource in (
            "deployments",
            "replicasets",
            "ingresses",
            "customresourcedefinitions",
            "pods",
        )

    def update(
        self,
        scope: Scope,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Strict",
        require_rv: bool | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        obj = self._check_kind(rt, json_copy(body))
        old = self.get(scope, rt, namespace, name)
        meta = obj["metadata"]
        if meta.get("name") in (None, ""):
            # Upstream's checkName: the body must name the object the URL names.
            raise errors.bad_request(
                f"the name of the object ({name} based on URL) was undeterminable: "
                "name must be provided"
            )
        if meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            # An update's check is upstream's checkName, whose wording differs from create's.
            raise errors.bad_request(
                f"the namespace of the object ({meta['namespace']}) does not match the "
                f"namespace on the request ({namespace})"
            )
        rv = meta.get("resourceVersion")
        if require_rv is None:
            require_rv = not rt.builtin
        if rv:
            if str(rv) != old["metadata"]["resourceVersion"]:
                raise errors.conflict((rt.group, rt.resource), name, errors.STALE_OBJECT)
        elif require_rv:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "Invalid value: 0x0: must be specified for an update",
                        "field": "metadata.resourceVersion",
                    }
                ],
            )
        new = self._merge_update(rt, old, obj, subresource)
        return self._write_update(
            scope, rt, namespace, name, old, new, subresource, dry_run, field_validation
        )

    def _merge_update(
        self, rt: ResourceType, old: dict[str, Any], obj: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        old_meta = old["metadata"]
        if subresource == "status":
            new = json_copy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        new = obj
        meta = new["metadata"]
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["name"] = old_meta["name"]
        if rt.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        meta.pop("resourceVersion", None)
        meta.pop("managedFields", None)
        meta.pop("selfLink", None)
        if rt.has_status():
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        return new

    def _write_update(
        self,
        scope: Scope,
        rt: ResourceType,
        namespace: str,
        name: str,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str,
        dry_run: bool,
        field_validation: str,
    ) -> tuple[dict[str, Any], list[str]]:
        op = Operation(
            "update", scope, rt, namespace, name, new, old, subresource, dry_run, field_validation
        )
        self._admit(op)
        new = op.obj or new
        if self.tracks_generation(rt) and _generation_part(rt, new) != _generation_part(rt, old):
            if rt.has_status() or subresource != "status":
                new["metadata"]["generation"] = int(old["metadata"].get("generation", 0)) + 1
        if old["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            if not _namespace_pending(rt, new):
                if dry_run:
                    return new, op.warnings
                event = self.store.remove(reskey_of(rt), scope.cluster, namespace, name)
                assert event is not None
                self._after(op, event)
                return event.obj, op.warnings
        self._check_size(new)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _comparable(new) == _comparable(old):
            return old, op.warnings  # a no-op write keeps the revision, like the real server
        if dry_run:
            return new, op.warnings
        event = self.store.put(reskey_of(rt), scope.cluster, namespace, name, new)
        self._after(op, event)
        return event.obj, op.warnings

    def patch(
        self,
        scope: Scope,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Strict",
    ) -> tuple[dict[str, Any], list[str]]:
        old = self.get(scope, rt, namespace, name)
        current = json_copy(old)
        if content_type == "application/json-patch+json":
            if not isinstance(patch, list):
                raise errors.bad_request("a JSON patch must be a JSON array of operations")
            try:
                patched = jsonpatch.JsonPatch(patch).apply(current, in_place=True)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise errors.StatusError(
                    422,
                    "Invalid",
                    f"the server rejected our request due to an error in our request: {exc}",
                ) from exc
            except (TypeError, KeyError, ValueError) as exc:
                raise errors.bad_request(f"invalid JSON patch: {exc}") from exc
        elif content_type == "application/merge-patch+json":
            if not isinstance(patch, dict):
                raise errors.bad_request("a merge patch must be a JSON object")
            patched = json_merge_patch(current, patch)
        elif content_type == "application/strategic-merge-patch+json":
            schema = rt.schema if rt.builtin else builtin_schema(rt.group, rt.resource)
            if schema is None:
                raise errors.unsupported_media_type(content_type)
            try:
                patched = strategic_merge(current, patch, schema, _resolve_ref)
            except PatchError as exc:
                if exc.status == 422:
                    raise errors.StatusError(422, "Invalid", str(exc)) from exc
                raise errors.bad_request(str(exc)) from exc
        else:
            raise errors.unsupported_media_type(content_type)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        patched = self._check_kind(rt, patched)
        meta = patched["metadata"]
        if meta.get("name", name) != name:
            raise errors.bad_request("the patch must not change metadata.name")
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict((rt.group, rt.resource), name, errors.STALE_OBJECT)
        if subresource == "status":
            new = self._merge_update(rt, old, patched, "status")
        else:
            new = self._merge_update(rt, old, patched, "")
        return self._write_update(
            scope, rt, namespace, name, old, new, subresource, dry_run, field_validation
        )

    def delete(
        self,
        scope: Scope,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        preconditions: dict[str, Any] | None = None,
        propagation: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        old = self.get(scope, rt, namespace, name)
        meta = old["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise errors.conflict(
                (rt.group, rt.resource),
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                f"{meta.get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise errors.conflict(
                (rt.group, rt.resource),
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{meta.get('resourceVersion')}",
            )
        op = Operation("delete", scope, rt, namespace, name, None, old, "", dry_run)
        self._admit(op)
        finalizers = list(meta.get("finalizers") or [])
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if finalizers or _namespace_pending(rt, old):
            if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or []):
                return old
            new = json_copy(old)
            new["metadata"]["finalizers"] = finalizers
            new["metadata"].setdefault("deletionTimestamp", now_rfc3339())
            new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            if rt.group == "" and rt.resource == "namespaces":
                new.setdefault("status", {})["phase"] = "Terminating"
            if dry_run:
                return new
            event = self.store.put(reskey_of(rt), scope.cluster, namespace, name, new)
            self._after(op, event)
            return event.obj
        if dry_run:
            return old
        event = self.store.remove(reskey_of(rt), scope.cluster, namespace, name)
        assert event is not None
        self._after(op, event)
        return event.obj

    def _after(self, op: Operation, event: Event) -> None:
        for hook in self.after_write:
            hook(op, event)


def _namespace_pending(rt: ResourceType, obj: dict[str, Any]) -> bool:
    """A namespace is only removed once its spec.finalizers (the content cleanup) are done."""
    return (
        rt.group == ""
        and rt.resource == "namespaces"
        and bool(obj.get("spec", {}).get("finalizers"))
    )
