"""kcp APIs: APIResourceSchema, APIExport, APIBinding, and the APIExport virtual workspace.

An APIExport gets an identity (a Secret in `kcp-system`, hashed into `status.identityHash`)
and a virtual-workspace URL; an APIBinding to it makes the export's schemas served in the
binding's workspace, with objects stored under the export's identity, so the export's
virtual workspace sees exactly the objects of all binding workspaces.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.crds import types_from_crd
from edgemc.embedded.apiserver.kcpschemas import apiresourceschema_to_crd
from edgemc.embedded.apiserver.objects import ObjectService, Operation, Scope, now_rfc3339
from edgemc.embedded.apiserver.reactor import Reactor
from edgemc.embedded.apiserver.registry import Registry, TypeSet
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import Event, ResKey, Store
from edgemc.embedded.apiserver.tenancy import SYSTEM, Tenancy

APIEXPORTS: ResKey = ("apis.kcp.io", "apiexports", "")
APIBINDINGS: ResKey = ("apis.kcp.io", "apibindings", "")
SCHEMAS: ResKey = ("apis.kcp.io", "apiresourceschemas", "")
EXPORT_LABEL = "internal.apis.kcp.io/export"
IDENTITY_NAMESPACE = "kcp-system"

_SCHEMA_PREFIX = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62_sha224(text: str) -> str:
    number = int.from_bytes(hashlib.sha224(text.encode()).digest(), "big")
    out = ""
    while number:
        number, rem = divmod(number, 62)
        out = _BASE62[rem] + out
    return out


@functools.lru_cache(maxsize=4096)  # asked for every watch event of a bound resource
def export_label(export_cluster: str, export_name: str) -> str:
    return base62_sha224(f"{export_cluster}:{export_name}")


def _condition(type_: str, status: str = "True", reason: str = "", message: str = "") -> dict:
    cond: dict[str, Any] = {"type": type_, "status": status, "lastTransitionTime": now_rfc3339()}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    if status == "False":
        cond["severity"] = "Error"
    return cond


def sorted_conditions(conditions: list[dict]) -> list[dict]:
    """kcp keeps `Ready` first, then the rest by type."""
    return sorted(conditions, key=lambda c: (c["type"] != "Ready", c["type"]))


class Apis:
    """Admission, reconcilers and type provision for kcp's apis.kcp.io group."""

    def __init__(
        self,
        store: Store,
        service: ObjectService,
        registry: Registry,
        tenancy: Tenancy,
        external_url: Callable[[], str],
    ) -> None:
        self.store = store
        self.service = service
        self.registry = registry
        self.tenancy = tenancy
        self.external_url = external_url
        self.exports = Reactor("apiexports", self.reconcile_export)
        self.bindings = Reactor("apibindings", self.reconcile_binding)

    def start(self) -> None:
        self.store.add_listener(self._on_event)
        for cluster, export in self.store.list(APIEXPORTS, None):
            self.exports.enqueue((cluster, export["metadata"]["name"]))
        for cluster, binding in self.store.list(APIBINDINGS, None):
            self.bindings.enqueue((cluster, binding["metadata"]["name"]))
        self.exports.start()
        self.bindings.start()

    async def stop(self) -> None:
        await self.exports.stop()
        await self.bindings.stop()

    def _on_event(self, event: Event) -> None:
        if event.reskey == APIEXPORTS:
            self.exports.enqueue((event.cluster, event.name))
            for cluster, binding in self.store.list(APIBINDINGS, None):
                if binding.get("status", {}).get("phase") != "Bound":
                    self.bindings.enqueue((cluster, binding["metadata"]["name"]))
        elif event.reskey == APIBINDINGS:
            self.registry.invalidate(event.cluster)
            self.bindings.enqueue((event.cluster, event.name))

    # -- admission -----------------------------------------------------------------------

    def admit(self, op: Operation) -> None:
        gr = (op.rt.group, op.rt.resource)
        if gr == SCHEMAS[:2]:
            self._admit_schema(op)
        elif gr == APIBINDINGS[:2] and op.obj is not None and op.verb in ("create", "update"):
            self._admit_binding(op)

    def _admit_schema(self, op: Operation) -> None:
        if op.verb == "update" and op.old is not None and op.obj is not None:
            if op.obj.get("spec") != op.old.get("spec"):
                raise errors.invalid(
                    "APIResourceSchema",
                    "apis.kcp.io",
                    op.name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec",
                            "message": 'Invalid value: "object": spec is immutable',
                        }
                    ],
                )
            return
        if op.verb != "create" or op.obj is None:
            return
        spec = op.obj.get("spec", {})
        group = spec.get("group", "")
        plural = spec.get("names", {}).get("plural", "")
        suffix = f".{plural}.{group or 'core'}"
        prefix = op.name[: -len(suffix)] if op.name.endswith(suffix) else ""
        if not prefix or not _SCHEMA_PREFIX.match(prefix):
            raise errors.invalid(
                "APIResourceSchema",
                "apis.kcp.io",
                op.name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": "metadata.name",
                        "message": f"Invalid value: {op.name!r}: must be of the format "
                        f"<prefix>{suffix} with the prefix matching {_SCHEMA_PREFIX.pattern}",
                    }
                ],
            )

    def _admit_binding(self, op: Operation) -> None:
        assert op.obj is not None
        ref = op.obj.get("spec", {}).get("reference", {}).get("export", {})
        if op.verb == "update" and op.old is not None:
            old_ref = op.old.get("spec", {}).get("reference", {})
            if op.obj.get("spec", {}).get("reference", {}) != old_ref:
                raise errors.invalid(
                    "APIBinding",
                    "apis.kcp.io",
                    op.name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec.reference",
                            "message": "Invalid value: field is immutable",
                        }
                    ],
                )
        if not ref.get("name"):
            raise errors.invalid(
                "APIBinding",
                "apis.kcp.io",
                op.name,
                [
                    {
                        "reason": "FieldValueRequired",
                        "field": "spec.reference.export.name",
                        "message": "Required value",
                    }
                ],
            )
        path = ref.get("path") or ""
        export_cluster = self.tenancy.resolve(path) if path else op.scope.cluster
        labels = op.obj["metadata"].setdefault("labels", {})
        labels[EXPORT_LABEL] = export_label(export_cluster, ref["name"])

    # -- exports -------------------------------------------------------------------------

    def _scope(self, cluster: str) -> Scope:
        return Scope(cluster, self.registry.types_for(cluster), SYSTEM)

    def reconcile_export(self, key: Any) -> float | None:
        cluster, name = key
        export = self.store.get(APIEXPORTS, cluster, "", name)
        if export is None or export["metadata"].get("deletionTimestamp"):
            return None
        scope = self._scope(cluster)
        rt = scope.types.by_group_resource("apis.kcp.io", "apiexports")
        assert rt is not None
        ref = export.get("spec", {}).get("identity", {}).get("secretRef")
        if not ref:
            self._ensure_identity_secret(scope, name)
            spec = {
                **export.get("spec", {}),
                "identity": {"secretRef": {"namespace": IDENTITY_NAMESPACE, "name": name}},
            }
            self.service.update(scope, rt, "", name, {**export, "spec": spec})
            return None
        secret = self.store.get(("", "secrets", ""), cluster, ref["namespace"], ref["name"])
        status = dict(export.get("status", {}))
        if secret is None:
            status["conditions"] = sorted_conditions(
                [
                    _condition(
                        "IdentityValid",
                        "False",
                        "IdentityVerificationFailed",
                        f"secret {ref['namespace']}/{ref['name']} not found",
                    )
                ]
            )
            self.service.update(
                scope, rt, "", name, {**export, "status": status}, subresource="status"
            )
            return 1.0
        key_bytes = base64.b64decode(secret.get("data", {}).get("key", ""))
        identity = hashlib.sha256(key_bytes).hexdigest()
        if status.get("identityHash") and status["identityHash"] != identity:
            return None  # immutable once set
        url = f"{self.external_url()}/services/apiexport/{cluster}/{name}"
        wanted = {
            **status,
            "identityHash": identity,
            "virtualWorkspaces": [{"url": url}],
        }
        old_types = {c["type"]: c for c in status.get("conditions", [])}
        if not (
            old_types.get("IdentityValid", {}).get("status") == "True"
            and old_types.get("VirtualWorkspaceURLsReady", {}).get("status") == "True"
            and status.get("identityHash") == identity
            and status.get("virtualWorkspaces") == [{"url": url}]
        ):
            wanted["conditions"] = sorted_conditions(
                [_condition("IdentityValid"), _condition("VirtualWorkspaceURLsReady")]
            )
            self.service.update(
                scope, rt, "", name, {**export, "status": wanted}, subresource="status"
            )
        return None

    def _ensure_identity_secret(self, scope: Scope, name: str) -> None:
        ns_rt = scope.types.by_group_resource("", "namespaces")
        secret_rt = scope.types.by_group_resource("", "secrets")
        assert ns_rt is not None and secret_rt is not None
        if self.store.get(("", "namespaces", ""), scope.cluster, "", IDENTITY_NAMESPACE) is None:
            self.service.create(
                scope,
                ns_rt,
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": IDENTITY_NAMESPACE}},
            )
        if self.store.get(("", "secrets", ""), scope.cluster, IDENTITY_NAMESPACE, name) is None:
            key = base64.b64encode(secrets.token_hex(32).encode()).decode()
            self.service.create(
                scope,
                secret_rt,
                IDENTITY_NAMESPACE,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "Opaque",
                    "metadata": {"name": name, "namespace": IDENTITY_NAMESPACE},
                    "data": {"key": key},
                },
            )

    # -- bindings ------------------------------------------------------------------------

    def reconcile_binding(self, key: Any) -> float | None:
        cluster, name = key
        binding = self.store.get(APIBINDINGS, cluster, "", name)
        if binding is None or binding["metadata"].get("deletionTimestamp"):
            return None
        scope = self._scope(cluster)
        rt = scope.types.by_group_resource("apis.kcp.io", "apibindings")
        assert rt is not None
        ref = binding.get("spec", {}).get("reference", {}).get("export", {})
        path = ref.get("path") or ""
        export_cluster = self.tenancy.resolve(path) if path else cluster
        export = self.store.get(APIEXPORTS, export_cluster, "", ref.get("name", ""))
        status = dict(binding.get("status", {}))
        if export is None:
            return self._binding_waiting(
                scope,
                rt,
                binding,
                "APIExportValid",
                "APIExportNotFound",
                f"APIExport {path or cluster}:{ref.get('name')} not found",
            )
        identity = export.get("status", {}).get("identityHash")
        if not identity:
            return self._binding_waiting(
                scope,
                rt,
                binding,
                "APIExportValid",
                "MissingIdentityHash",
                f"APIExport {path or cluster}:{ref.get('name')} is missing an identity hash",
            )
        bound: list[dict[str, Any]] = []
        for schema_name in export.get("spec", {}).get("latestResourceSchemas") or []:
            schema = self.store.get(SCHEMAS, export_cluster, "", schema_name)
            if schema is None:
                return self._binding_waiting(
                    scope,
                    rt,
                    binding,
                    "InitialBindingCompleted",
                    "APIResourceSchemaInvalid",
                    f"APIResourceSchema {schema_name} not found",
                )
            spec = schema.get("spec", {})
            group, resource = spec.get("group", ""), spec.get("names", {}).get("plural", "")
            conflict = self._conflict(cluster, name, group, resource, identity)
            if conflict:
                return self._binding_waiting(
                    scope, rt, binding, "InitialBindingCompleted", "NamingConflicts", conflict
                )
            bound.append(
                {
                    "group": group,
                    "resource": resource,
                    "schema": {
                        "name": schema_name,
                        "UID": schema["metadata"]["uid"],
                        "identityHash": identity,
                    },
                    "storageVersions": [
                        v["name"] for v in spec.get("versions", []) if v.get("storage")
                    ],
                }
            )
        wanted = {
            **status,
            "phase": "Bound",
            "apiExportClusterName": export_cluster,
            "boundResources": bound,
        }
        if (
            status.get("phase"),
            status.get("boundResources"),
            status.get("apiExportClusterName"),
        ) != ("Bound", bound, export_cluster):
            wanted["conditions"] = sorted_conditions(
                [
                    _condition(t)
                    for t in (
                        "Ready",
                        "APIExportValid",
                        "BindingUpToDate",
                        "InitialBindingCompleted",
                        "PermissionClaimsValid",
                        "PermissionClaimsApplied",
                    )
                ]
            )
            self.service.update(
                scope, rt, "", name, {**binding, "status": wanted}, subresource="status"
            )
            self.registry.invalidate(cluster)
        return None

    def _binding_waiting(
        self, scope: Scope, rt: ResourceType, binding: dict, cond: str, reason: str, message: str
    ) -> float:
        status = dict(binding.get("status", {}))
        if status.get("phase") != "Bound":
            status["phase"] = "Binding"
        conditions = [_condition(cond, "False", reason, message)]
        if cond != "InitialBindingCompleted":
            conditions.append(
                _condition("InitialBindingCompleted", "False", "WaitingForEstablished", "")
            )
        ready = next(c for c in conditions if c["type"] == "InitialBindingCompleted")
        conditions.append({**ready, "type": "Ready"})
        old = {(c["type"], c.get("reason")) for c in status.get("conditions", [])}
        if old != {(c["type"], c.get("reason")) for c in conditions} or status != binding.get(
            "status", {}
        ):
            status["conditions"] = sorted_conditions(conditions)
            self.service.update(
                scope,
                rt,
                "",
                binding["metadata"]["name"],
                {**binding, "status": status},
                subresource="status",
            )
        return 1.0

    def _conflict(self, cluster: str, name: str, group: str, resource: str, identity: str) -> str:
        for _, other in self.store.list(APIBINDINGS, cluster):
            if other["metadata"]["name"] == name:
                continue
            for res in other.get("status", {}).get("boundResources") or []:
                if (res.get("group"), res.get("resource")) == (group, resource) and res.get(
                    "schema", {}
                ).get("identityHash") != identity:
                    return (
                        f"naming conflict with APIBinding {other['metadata']['name']}: "
                        f"{resource}.{group} is already bound"
                    )
        return ""

    # -- types ---------------------------------------------------------------------------

    def _schema_types(
        self, export_cluster: str, schema_name: str, identity: str
    ) -> list[ResourceType]:
        schema = self.store.get(SCHEMAS, export_cluster, "", schema_name)
        if schema is None:
            return []
        return types_from_crd(apiresourceschema_to_crd(schema), identity=identity, source="binding")

    def bound_types(self, cluster: str) -> Iterable[ResourceType]:
        """Types a cluster serves through its Bound APIBindings."""
        for _, binding in self.store.list(APIBINDINGS, cluster):
            status = binding.get("status", {})
            if status.get("phase") != "Bound":
                continue
            export_cluster = status.get("apiExportClusterName", "")
            for res in status.get("boundResources") or []:
                schema = res.get("schema", {})
                yield from self._schema_types(
                    export_cluster, schema.get("name", ""), schema.get("identityHash", "")
                )

    def export_types(self, export_cluster: str, export_name: str) -> TypeSet | None:
        export = self.store.get(APIEXPORTS, export_cluster, "", export_name)
        if export is None:
            return None
        identity = export.get("status", {}).get("identityHash", "")
        types: list[ResourceType] = []
        for schema_name in export.get("spec", {}).get("latestResourceSchemas") or []:
            types += self._schema_types(export_cluster, schema_name, identity)
        return TypeSet(types)

    def identity_types(self, identity: str) -> TypeSet | None:
        """The types of the APIExport whose identity hash is `identity` (wildcard requests
        name a bound resource as `<resource>:<identityHash>`), or None."""
        for cluster, export in self.store.list(APIEXPORTS, None):
            if identity and export.get("status", {}).get("identityHash") == identity:
                return self.export_types(cluster, export["metadata"]["name"])
        return None

    def binds(self, cluster: str, export_cluster: str, export_name: str) -> bool:
        label = export_label(export_cluster, export_name)
        return any(
            (b["metadata"].get("labels") or {}).get(EXPORT_LABEL) == label
            and b.get("status", {}).get("phase") == "Bound"
            for _, b in self.store.list(APIBINDINGS, cluster)
        )
